"""One service on the cluster: its image, identity, workloads and the binding to its Edge target group."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from constructs import Construct
from contract import Call

from cdk_constructs.service_monitoring import ServiceMonitoring, ServiceTelemetry
from cdk_constructs.workload_manifests import (
    SHARED_MANIFEST_KINDS,
    WorkloadSpec,
    components,
    deployment,
    manifests,
    namespace,
)
from config.environment import ServiceSizing
from config.images import BASE_IMAGE, BASE_IMAGE_ARG
from config.telemetry import otel_environment
from config.topology import Service
from policies.load_balancer_controller import register_targets_statement

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"
# Status of a Deployment whose newest ReplicaSet is fully rolled out (the Progressing condition's reason); empty while
# a rollout is under way, and never set when its pods do not become ready (crash loop, image pull, no capacity). The
# deployment controller rewrites the condition within a second of the apply; the wait starts after CloudFormation
# has recorded the apply, seconds later, so it does not read the previous rollout's status.
ROLLED_OUT_JSON_PATH = '.status.conditions[?(@.reason=="NewReplicaSetAvailable")].reason'
ROLLED_OUT = "NewReplicaSetAvailable"
# Longer than a Deployment's default progressDeadlineSeconds (600): it has given up by then; shorter than the
# kubectl handler Lambda's 15 minutes.
ROLLOUT_TIMEOUT = cdk.Duration.minutes(12)


class Microservice(Construct):
    """Image asset (``services/NAME/Dockerfile``, built for arm64 like the node groups), a namespace, a service
    account bound by EKS Pod Identity to :attr:`role` (the service's own role: the stack grants it only its own
    store, queues and topics), the API and worker Deployments, Service, HPA, PDB, NetworkPolicies and the
    TargetGroupBinding that registers the API pods in ``target_group``.

    ``environment`` is the service's whole configuration, rendered from the constructs that own each resource.
    """

    def __init__(self, scope: Construct, construct_id: str, *, service: Service, cluster: eks.ICluster,
                 sizing: ServiceSizing, environment: dict[str, str], target_group: elbv2.INetworkTargetGroup,
                 load_balancer_controller_role: iam.IRole, vpc_cidr: str,
                 security_group_ids: tuple[str, ...] = (), allowed_callers: tuple[str, ...] = (),
                 calls: tuple[Call, ...] = (), postgres: bool = False,
                 telemetry: ServiceTelemetry | None = None) -> None:
        super().__init__(scope, construct_id)
        name = service.value
        if telemetry:  # traces over OTLP and EMF metrics to the cluster's CloudWatch agent
            environment = {**environment, **otel_environment(name, telemetry.environment,
                                                             telemetry.trace_sampling_ratio)}
        self.service = service
        self.image = ecr_assets.DockerImageAsset(
            self, "Image",
            directory=str(SERVICES_DIR),
            file=f"{name}/Dockerfile",
            platform=ecr_assets.Platform.LINUX_ARM64,
            build_args={BASE_IMAGE_ARG: BASE_IMAGE},
            # Only this service and the shared code go into its image (and into its asset hash).
            exclude=["**/tests", "**/__pycache__", "conftest.py",
                     *[s.value for s in Service if s != service]],
        )
        self.spec = WorkloadSpec(
            name=name,
            image=self.image.image_uri,
            environment=environment,
            sizing=sizing,
            target_group_arn=target_group.target_group_arn,
            target_group_id=_logical_id(target_group),
            worker_command=("python", "-m", f"{name}.worker"),
            security_group_ids=security_group_ids,
            allowed_callers=allowed_callers,
            vpc_cidr=vpc_cidr,
            calls=calls,
            postgres=postgres,
        )
        self.namespace = eks.KubernetesManifest(self, "Namespace", cluster=cluster, manifest=[namespace(self.spec)])
        self.service_account = eks.ServiceAccount(
            self, "ServiceAccount", cluster=cluster, name=name, namespace=name,
            identity_type=eks.IdentityType.POD_IDENTITY)
        self.service_account.node.add_dependency(self.namespace)
        self.role: iam.IRole = self.service_account.role
        # The Load Balancer Controller may (de)register targets in this service's target group only. The binding
        # depends on this policy, so CloudFormation deletes the policy only after the binding: the controller's
        # finalizer deregisters the targets first (without the permission it would hang the deletion until the
        # kubectl handler's 15 minutes run out).
        self.target_registration_policy = iam.ManagedPolicy(
            self, "TargetRegistrationPolicy", roles=[load_balancer_controller_role],
            statements=[register_targets_statement([target_group.target_group_arn])])
        # The Namespace is applied above (the service account needs it first). Services and Deployments share one
        # manifest, which `kubectl apply --prune` keeps in step; every other object (TargetGroupBinding,
        # SecurityGroupPolicy, NetworkPolicies, HPAs, PDBs: kinds kubectl's default prune allowlist lacks) is a
        # manifest of its own, which CloudFormation deletes when the object leaves the app. Applied, not created, so
        # that an object moving out of the shared manifest is taken over in place.
        objects = manifests(self.spec)[1:]
        self.objects: dict[str, eks.KubernetesManifest] = {}
        for obj in (o for o in objects if o["kind"] not in SHARED_MANIFEST_KINDS):
            construct_id = obj["kind"] + "".join(w.capitalize() for w in obj["metadata"]["name"].split("-"))
            m = eks.KubernetesManifest(self, construct_id, cluster=cluster, manifest=[obj], overwrite=True,
                                       prune=False)
            m.node.add_dependency(self.service_account)
            if obj["kind"] == "TargetGroupBinding":
                m.node.add_dependency(self.target_registration_policy)
            self.objects[construct_id] = m
        # Pods get their readiness gate and their security group only if the TargetGroupBinding and the
        # SecurityGroupPolicy exist when they are created: the Deployments come after every other object.
        self.workloads = eks.KubernetesManifest(
            self, "Workloads", cluster=cluster, manifest=[o for o in objects if o["kind"] in SHARED_MANIFEST_KINDS])
        self.workloads.node.add_dependency(self.service_account, *self.objects.values())
        # The stack (and so the promotion to the next environment) completes only once every Deployment runs its new
        # pods: kubectl apply alone succeeds as soon as the objects are accepted.
        self.rollouts: dict[str, eks.KubernetesObjectValue] = {}
        for component in components(self.spec):
            rollout = eks.KubernetesObjectValue(
                self, f"{component.capitalize()}Rollout", cluster=cluster, object_type="deployment",
                object_name=f"{name}-{component}", object_namespace=name, json_path=ROLLED_OUT_JSON_PATH,
                timeout=ROLLOUT_TIMEOUT)
            rollout.node.add_dependency(self.workloads)
            # The custom resource runs again only when one of its properties changes: the Deployment itself is one,
            # so every change of its image, environment or sizing waits for the new rollout.
            resource = cast(cdk.CustomResource, rollout.node.default_child)
            cast(cdk.CfnResource, resource.node.default_child).add_property_override(
                "Deployment", cdk.Stack.of(self).to_json_string(deployment(self.spec, component)))
            self.rollouts[component] = rollout
        # The cluster pulls the image with the node role's ECR read-only access to the asset repository.
        # Alarms on the alarm topic and the service's dashboard (pods, API routes, queues, outbox).
        self.monitoring: ServiceMonitoring | None = None
        if telemetry:
            self.monitoring = ServiceMonitoring(self, "Monitoring", service=service, components=components(self.spec),
                                                telemetry=telemetry)


def _logical_id(target_group: elbv2.INetworkTargetGroup) -> str:
    """The target group's CloudFormation logical id in its own stack (a literal at synth)."""
    resource = cast(cdk.CfnResource, target_group.node.default_child)
    stack = cdk.Stack.of(resource)
    return str(stack.resolve(stack.get_logical_id(resource)))
