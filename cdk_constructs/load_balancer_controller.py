"""AWS Load Balancer Controller (Helm) with a Pod Identity role, in TargetGroupBinding-only mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import aws_cdk as cdk
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from constructs import Construct

from config.eks_addons import load_balancer_controller
from policies.load_balancer_controller import discovery_statement
from policies.nag import acknowledge

NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "aws-load-balancer-controller"
CRDS_DIR = Path(__file__).resolve().parent / "crds"
# Which chart version a CRD was applied for (tools/reports/preflight/addons.py holds the two to each other).
CRD_CHART_ANNOTATION = "ecommerce-platform/chart"


def chart_crds(chart: str, version: str) -> list[dict[str, Any]]:
    """The CustomResourceDefinitions the chart's ``crds/`` holds at ``version`` (``cdk_constructs/crds/``, copied from
    the chart's source at that release), annotated with the chart version they belong to."""
    path = CRDS_DIR / f"{chart}-{version}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: copy the CRDs of {chart} {version} there (the chart's crds/ "
                                "directory at that release, as JSON) before pinning it in config/eks_addons.py")
    crds: list[dict[str, Any]] = json.loads(path.read_text())["crds"]
    for crd in crds:
        crd["metadata"].setdefault("annotations", {})[CRD_CHART_ANNOTATION] = f"{chart}-{version}"
    return crds


class LoadBalancerController(Construct):
    """Installs the controller; :class:`~cdk_constructs.microservice.Microservice` grants it its target group."""

    def __init__(self, scope: Construct, construct_id: str, *, cluster: eks.Cluster, kubernetes_version: str,
                 vpc_id: str, region: str) -> None:
        super().__init__(scope, construct_id)
        pin = load_balancer_controller(kubernetes_version)
        self.service_account = eks.ServiceAccount(
            self, "ServiceAccount", cluster=cast(eks.ICluster, cluster),
            name=SERVICE_ACCOUNT, namespace=NAMESPACE,
            identity_type=eks.IdentityType.POD_IDENTITY,
        )
        self.role: iam.IRole = self.service_account.role
        policy = iam.ManagedPolicy(self, "DiscoveryPolicy", statements=[discovery_statement()],
                                   roles=[self.role])
        acknowledge(policy, "AwsSolutions-IAM5[Resource::*]",
                    "These ELB and EC2 Describe calls support no resource-level permissions; they are read-only "
                    "and are how the controller resolves pod IPs and target group state.")
        # Helm installs a chart's CRDs on the first install only and never upgrades them ("There is no support at this
        # time for upgrading or deleting CRDs using Helm": Helm documentation, "Custom Resource Definitions"): the app
        # applies those of the pinned chart version itself, before the chart, so a chart upgrade brings its CRDs.
        # Applied (not created) on creation too: a cluster whose first chart install put them there already keeps
        # working. Each CRD is an object of its own manifest, so that one the chart drops is deleted with it.
        # Retained on delete: CloudFormation deleting one of these (the rollback of the update that added it, or a
        # rename) would run `kubectl delete crd`, which deletes every object of the kind in the cluster, every
        # TargetGroupBinding with it. Like Helm, the app never deletes a CRD; the cluster's deletion takes them.
        self.crds = [eks.KubernetesManifest(self, f"Crd{crd['spec']['names']['kind']}",
                                            cluster=cast(eks.ICluster, cluster), manifest=[crd], overwrite=True,
                                            prune=False)
                     for crd in chart_crds(pin.chart, pin.version)]
        for manifest in self.crds:
            cast(cdk.CfnResource, manifest.node.default_child).apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        self.chart = cluster.add_helm_chart(
            "Chart",
            chart=pin.chart,
            repository=pin.repository,
            release="aws-load-balancer-controller",
            version=pin.version,
            namespace=NAMESPACE,
            values={
                # The controller of the version's row (config/eks_addons.py), not whatever the chart defaults to.
                "image": {"tag": pin.image_tag},
                "clusterName": cluster.cluster_name,
                "region": region,
                "vpcId": vpc_id,
                "serviceAccount": {"create": False, "name": SERVICE_ACCOUNT},
                # Only TargetGroupBindings are used: no Ingress/Service load balancers, no WAF/Shield calls.
                "enableServiceMutatorWebhook": False,
                # The pod mutator webhook stays on: it adds the target-health readiness gate to pods of namespaces
                # labelled elbv2.k8s.aws/pod-readiness-gate-inject=enabled (every service namespace), so a rollout
                # waits for each new pod to be healthy in its NLB target group.
                "enablePodReadinessGateInject": True,
                "enableShield": False,
                "enableWaf": False,
                "enableWafv2": False,
                # The app owns every security group rule; the controller must not create a shared backend group.
                "enableBackendSecurityGroup": False,
                "ingressClassConfig": {"default": False},
                "createIngressClassResource": False,
                "replicaCount": 2,
                # Sized so the scheduler (and the Cluster Autoscaler) account for it; on the on-demand nodes, as its
                # webhook must answer for every pod the services create.
                "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                "nodeSelector": {"platform/capacity": "on_demand"},
            },
        )
        self.chart.node.add_dependency(self.service_account, *self.crds)
