"""One service on the cluster: its image, identity, workloads and the binding to its Edge target group."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk_constructs.service_monitoring import ServiceMonitoring, ServiceTelemetry
from cdk_constructs.workload_manifests import WorkloadSpec, manifests
from config.environment import ServiceSizing
from config.images import BASE_IMAGE, BASE_IMAGE_ARG
from config.telemetry import otel_environment
from config.topology import Service
from policies.load_balancer_controller import register_targets_statement

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"


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
                 telemetry: ServiceTelemetry | None = None) -> None:
        super().__init__(scope, construct_id)
        name = service.value
        if telemetry:  # traces over OTLP and EMF metrics to the cluster's CloudWatch agent
            environment = {**environment, **otel_environment(name, telemetry.environment)}
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
        self.namespace = eks.KubernetesManifest(self, "Namespace", cluster=cluster, manifest=[{
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "ecommerce-platform",
                                                  "pod-security.kubernetes.io/enforce": "restricted"}}}])
        self.service_account = eks.ServiceAccount(
            self, "ServiceAccount", cluster=cluster, name=name, namespace=name,
            identity_type=eks.IdentityType.POD_IDENTITY)
        self.service_account.node.add_dependency(self.namespace)
        self.role: iam.IRole = self.service_account.role
        self.spec = WorkloadSpec(
            name=name,
            image=self.image.image_uri,
            environment=environment,
            sizing=sizing,
            target_group_arn=target_group.target_group_arn,
            worker_command=("python", "-m", f"{name}.worker"),
            security_group_ids=security_group_ids,
            allowed_callers=allowed_callers,
            vpc_cidr=vpc_cidr,
        )
        # The Namespace is applied above (the service account needs it first); the rest in one manifest.
        self.workloads = eks.KubernetesManifest(self, "Workloads", cluster=cluster, manifest=manifests(self.spec)[1:])
        self.workloads.node.add_dependency(self.service_account)
        # The cluster pulls the image with the node role's ECR read-only access to the asset repository.
        # The Load Balancer Controller may (de)register targets in this service's target group only.
        iam.ManagedPolicy(self, "TargetRegistrationPolicy", roles=[load_balancer_controller_role],
                   statements=[register_targets_statement([target_group.target_group_arn])])
        # Alarms on the alarm topic and the service's dashboard (pods, API routes, queues, outbox).
        self.monitoring: ServiceMonitoring | None = None
        if telemetry:
            components = ("api", "worker") if self.spec.worker_command else ("api",)
            self.monitoring = ServiceMonitoring(self, "Monitoring", service=service, components=components,
                                                telemetry=telemetry)
