"""The load generator (`make load ENV=...`): one run of the Locust scenario (tools/load) as a Kubernetes Job in the
environment's cluster, created by the Services stack only when a deploy asks for it (config/load_test.py), on the
load pool's nodes (config ``dedicated_to``), through the public API with the smoke accounts, its results written to
the operations bucket under ``load/<run id>/``.

Everything here exists only for the run: the next deploy without the request removes the Job, its namespace, its
service account and its role. Its pod follows the services' pod security (restricted namespace, non-root, read-only
root, no capabilities) and reaches nothing but DNS, the Pod Identity agent and HTTPS.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_constructs.platform_cluster import DEDICATED_LABEL
from cdk_constructs.synthetic_customers import CanaryTarget
from cdk_constructs.workload_manifests import RUN_AS_USER
from config.images import BASE_IMAGE, BASE_IMAGE_ARG
from config.load_test import LOAD_GENERATOR, LoadTestRun
from policies import load_access

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "load"
RESULTS_PREFIX = "load"
# What the image's Dockerfile copies; everything else stays out of the build context and the asset's hash.
CONTEXT = ("tools/load/Dockerfile", "tools/load/requirements.lock", "tools/load/__init__.py", "tools/load/__main__.py",
           "tools/load/scenario.py", "tools/__init__.py", "tools/local/__init__.py", "tools/local/smoke.py",
           "tools/local/workflows.py", "config/__init__.py", "config/topology.py", "services/contract")


@dataclass(frozen=True)
class LoadTestRequest:
    run: LoadTestRun
    environment: str
    target: CanaryTarget
    results_bucket: s3.IBucket
    results_key: kms.IKey

    @property
    def results_uri(self) -> str:
        return f"s3://{self.results_bucket.bucket_name}/{RESULTS_PREFIX}/{self.run.run_id}/results.json"


def results_key(run_id: str) -> str:
    return f"{RESULTS_PREFIX}/{run_id}/results.json"


def job(request: LoadTestRequest, image: str, environment: dict[str, str]) -> dict[str, Any]:
    run = request.run
    args = ["--users", str(run.users), "--duration", str(run.seconds), "--spawn-rate", str(max(1, run.users // 30)),
            "--environment-name", request.environment, "--out", "/tmp/results.json"]  # noqa: S108
    if run.allow_prod:
        args.append("--allow-prod")
    labels = {"app.kubernetes.io/name": LOAD_GENERATOR, "app.kubernetes.io/instance": run.run_id,
              "app.kubernetes.io/part-of": "ecommerce-platform"}
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": f"load-{run.run_id}", "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "backoffLimit": 0,  # a failed run is reported, not silently repeated against the stage
            "activeDeadlineSeconds": run.seconds + 900,  # preparation, the run, clean-up; then it is failed
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "serviceAccountName": LOAD_GENERATOR,
                    "securityContext": {"runAsNonRoot": True, "fsGroup": RUN_AS_USER,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "nodeSelector": {"kubernetes.io/arch": "arm64", DEDICATED_LABEL: LOAD_GENERATOR},
                    "tolerations": [{"key": DEDICATED_LABEL, "operator": "Equal", "value": LOAD_GENERATOR,
                                     "effect": "NoSchedule"}],
                    "containers": [{
                        "name": "locust", "image": image, "args": args,
                        "env": [{"name": k, "value": v} for k, v in sorted(environment.items())],
                        "resources": {"requests": {"cpu": "3", "memory": "2Gi"},
                                      "limits": {"cpu": "3500m", "memory": "4Gi"}},
                        "securityContext": {"runAsNonRoot": True, "runAsUser": RUN_AS_USER,
                                            "runAsGroup": RUN_AS_USER, "readOnlyRootFilesystem": True,
                                            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                            "seccompProfile": {"type": "RuntimeDefault"}},
                        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108
                    }],
                    "volumes": [{"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "256Mi"}}],
                },
            },
        },
    }


def network_policies() -> list[dict[str, Any]]:
    return [
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": "default-deny", "namespace": NAMESPACE},
         "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": "egress", "namespace": NAMESPACE},
         "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [
             {"ports": [{"protocol": "TCP", "port": 443}]},
             {"to": [{"ipBlock": {"cidr": "169.254.170.23/32"}}], "ports": [{"protocol": "TCP", "port": 80}]},
             {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                      "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
              "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]}},
    ]


class LoadGenerator(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, cluster: eks.ICluster,
                 request: LoadTestRequest) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.image = ecr_assets.DockerImageAsset(
            self, "Image", directory=str(ROOT), file="tools/load/Dockerfile",
            platform=ecr_assets.Platform.LINUX_ARM64, build_args={BASE_IMAGE_ARG: BASE_IMAGE},
            ignore_mode=cdk.IgnoreMode.DOCKER,
            # Later patterns win: the re-included paths first, then what must stay out of them.
            exclude=["*", *(f"!{path}" for path in CONTEXT), "**/__pycache__", "**/tests"])
        self.namespace = eks.KubernetesManifest(self, "Namespace", cluster=cluster, manifest=[{
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": NAMESPACE, "labels": {"app.kubernetes.io/part-of": "ecommerce-platform",
                                                       "pod-security.kubernetes.io/enforce": "restricted"}}}])
        self.service_account = eks.ServiceAccount(self, "ServiceAccount", cluster=cluster, name=LOAD_GENERATOR,
                                                  namespace=NAMESPACE, identity_type=eks.IdentityType.POD_IDENTITY)
        self.service_account.node.add_dependency(self.namespace)
        target = request.target
        statements = [
            *target.client_statements(stack),
            load_access.results_write(request.results_bucket.bucket_arn, results_key(request.run.run_id)),
            load_access.results_key(request.results_key.key_arn, stack.region),
        ]
        iam.ManagedPolicy(self, "RolePolicy", roles=[self.service_account.role], statements=statements,
                          description=f"Load test {request.run.run_id}: the smoke accounts, the API key, its results")
        environment = {"BASE_URL": target.api.url, "API_KEY_ID": target.api_key.key_id,
                       "SMOKE_SECRET": target.accounts_secret.secret_arn, "RESULTS_URI": request.results_uri,
                       "AWS_REGION": stack.region, "AWS_DEFAULT_REGION": stack.region}
        if target.payment_topic is not None:
            environment["PAYMENT_TOPIC"] = target.payment_topic.topic_arn
        self.manifest = job(request, self.image.image_uri, environment)
        # One object per manifest (kubectl's default prune allowlist lacks NetworkPolicy: make preflight, prune); the
        # Job starts once its policies are in force.
        policies = [eks.KubernetesManifest(self, "NetworkPolicy" + "".join(w.capitalize() for w in
                                                                           p["metadata"]["name"].split("-")),
                                           cluster=cluster, manifest=[p], prune=False)
                    for p in network_policies()]
        for policy in policies:
            policy.node.add_dependency(self.namespace)
        self.job = eks.KubernetesManifest(self, "Job", cluster=cluster, manifest=[self.manifest], prune=False)
        self.job.node.add_dependency(self.service_account, *policies)
