"""EKS cluster on Graviton managed node groups, API authentication mode, Pod Identity agent."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import cast

import aws_cdk as cdk
from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks as eks_l1
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cdk_constructs.addons import pin_existing, pinned_addon
from cdk_constructs.cluster_autoscaler import ClusterAutoscaler
from cdk_constructs.encryption_key import EncryptionKey
from cdk_constructs.load_balancer_controller import LoadBalancerController
from cdk_constructs.log_groups import LogSettings, adopt_library_log_groups
from cdk_constructs.network_interface_cleanup import NetworkInterfaceCleanup
from cdk_constructs.replaceable_name import replaceable_name
from config.eks_addons import kubectl_layer
from config.environment import POD_ENI_LABEL, CapacityKind, ClusterConfig, RemovalMode
from config.instance_types import instance_type
from policies.nag import acknowledge, acknowledge_child

_CAPACITY = {CapacityKind.ON_DEMAND: eks.CapacityType.ON_DEMAND, CapacityKind.SPOT: eks.CapacityType.SPOT}

# The Cluster Autoscaler's template of a group's nodes: the branch ENIs (pods with their own security group) each has.
POD_ENI_TEMPLATE_TAG = "k8s.io/cluster-autoscaler/node-template/resources/vpc.amazonaws.com/pod-eni"
# Label and NoSchedule taint (same key, the pool's config dedicated_to as value) of a pool kept for one workload.
DEDICATED_LABEL = "platform/dedicated"


class PlatformCluster(Construct):
    """The cluster the four services run on.

    Managed node groups rather than Auto Mode: node groups are priced at the EC2 rate alone (Auto Mode adds a
    per-instance management fee of about 12%), and pinning Graviton families and Spot pools per environment is
    explicit in config. The cost of that choice is patching AMIs through node group updates ourselves.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: ClusterConfig, vpc: ec2.IVpc,
                 removal: RemovalMode, log_settings: LogSettings) -> None:
        super().__init__(scope, construct_id)
        self.secrets_key = EncryptionKey(self, "SecretsKey", description="Envelope encryption of Kubernetes secrets",
                                         removal=removal).key
        # Named before it exists so the control-plane log group exists, with retention and the logs CMK, before
        # EKS starts writing to it (EKS would otherwise create it unencrypted with no expiry); the name changes with
        # any replacing change and with each creation of the stack, so neither meets a retained log group.
        cluster_name = replaceable_name(Stack.of(self).stack_name.lower(),
                                        lambda: cast(cdk.CfnResource, self.cluster.node.default_child))
        self.control_plane_log_group = log_settings.log_group(
            self, "ControlPlaneLogGroup", log_group_name=f"/aws/eks/{cluster_name}/cluster")
        private = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        self.cluster = eks.Cluster(
            self, "Cluster",
            cluster_name=cluster_name,
            version=eks.KubernetesVersion.of(config.kubernetes_version),
            vpc=vpc,
            vpc_subnets=[private],
            endpoint_access=eks.EndpointAccess.PRIVATE,
            default_capacity_type=eks.DefaultCapacityType.NODEGROUP,
            default_capacity=0,
            secrets_encryption_key=self.secrets_key,
            cluster_logging=[
                eks.ClusterLoggingTypes.API,
                eks.ClusterLoggingTypes.AUDIT,
                eks.ClusterLoggingTypes.AUTHENTICATOR,
                eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
                eks.ClusterLoggingTypes.SCHEDULER,
            ],
            # The kubectl layer of the version's row (config/eks_addons.py), within one minor of the API server.
            kubectl_provider_options=eks.KubectlProviderOptions(kubectl_layer=cast(
                "lambda_.ILayerVersion", kubectl_layer(config.kubernetes_version).layer(self, "KubectlLayer"))),
        )
        self.cluster.node.add_dependency(self.control_plane_log_group)
        # Deleted after the cluster (which depends on it): then it deletes the cluster's leaked branch ENIs, waits
        # for Lambda to release the kubectl handler's ENIs, and deletes the cluster security group EKS could not
        # delete while those were attached, so that the VPC can go.
        self.interface_cleanup = NetworkInterfaceCleanup(
            self, "NetworkInterfaceCleanup", vpc=vpc, cluster_name=cluster_name, delete_cluster_security_group=True,
            log_settings=log_settings)
        self.cluster.node.add_dependency(self.interface_cleanup.resource)
        # The jsii stubs give ICluster a member the concrete class lacks statically; one cast, used everywhere.
        self.cluster_ref = cast(eks.ICluster, self.cluster)
        version = config.kubernetes_version
        # VPC CNI: enforce NetworkPolicies, and attach security groups to pods (the orders pods get the one the
        # database admits); the control plane's VPC resource controller manages the branch ENIs for that. Created
        # before the nodes, so they start with these settings rather than the self-managed copy's.
        self.vpc_cni = pinned_addon(self, "VpcCniAddon", cluster=self.cluster_ref, kubernetes_version=version,
                                    addons_from=config.addons_from, name="vpc-cni", configuration_values={
                                        "enableNetworkPolicy": "true",
                                        "env": {"ENABLE_POD_ENI": "true",
                                                "POD_SECURITY_GROUP_ENFORCING_MODE": "standard"},
                                    })
        self.kube_proxy = pinned_addon(self, "KubeProxyAddon", cluster=self.cluster_ref, kubernetes_version=version,
                                       addons_from=config.addons_from, name="kube-proxy")
        self.node_groups: dict[str, eks.Nodegroup] = {}
        for pool in config.node_pools:
            labels = {"platform/pool": pool.name, "platform/capacity": pool.capacity.value.lower()}
            taints: list[eks.TaintSpec] = []
            if pool.dedicated_to:  # only its workload: it tolerates the taint and selects the label
                labels[DEDICATED_LABEL] = pool.dedicated_to
                taints.append(eks.TaintSpec(effect=eks.TaintEffect.NO_SCHEDULE, key=DEDICATED_LABEL,
                                            value=pool.dedicated_to))
            tags: dict[str, str] = {}
            # Every instance type carries a trunk ENI: pods with their own security group fit (not on a pool kept for
            # one workload, which they could not tolerate anyway).
            if pool.pod_eni and not pool.dedicated_to:
                labels[POD_ENI_LABEL] = "true"
                # A group at zero nodes (scaled from zero, or asleep outside working hours) is known to the Cluster
                # Autoscaler only by its template: extended resources come from this tag on the managed node group
                # (read with eks:DescribeNodegroup), or pods requesting a branch ENI never scale it up
                # (kubernetes/autoscaler#6021). The smallest type's count, since Spot may hand out any listed type.
                tags[POD_ENI_TEMPLATE_TAG] = str(min(instance_type(t).branch_enis for t in pool.instance_types))
            # Named <pool>-<hash of its create-only properties>-<stack creation id>: the autoscaler's priority
            # expander finds the pools by that prefix, and a replacing change still gets a fresh name.
            group_id = "".join(p.capitalize() for p in pool.name.split("-")) + "NodeGroup"
            group = self.cluster.add_nodegroup_capacity(
                group_id,
                nodegroup_name=replaceable_name(pool.name, _node_group_resource(self.cluster, group_id)),
                instance_types=[ec2.InstanceType(t) for t in pool.instance_types],
                capacity_type=_CAPACITY[pool.capacity],
                ami_type=eks.NodegroupAmiType.AL2023_ARM_64_STANDARD,
                min_size=pool.min_size,
                desired_size=pool.desired_size,
                max_size=pool.max_size,
                disk_size=pool.disk_gib,
                subnets=private,
                labels=labels,
                taints=taints or None,
                tags=tags or None,
            )
            # The nodes follow the control plane on a version bump (the L2 has no property for it).
            cast(eks_l1.CfnNodegroup, group.node.default_child).version = version
            group.node.add_dependency(self.vpc_cni, self.kube_proxy)
            self.node_groups[pool.name] = group
        # Deployments: created once nodes exist, or EKS reports them degraded until CloudFormation gives up.
        self.coredns = pinned_addon(self, "CoreDnsAddon", cluster=self.cluster_ref, kubernetes_version=version,
                                    addons_from=config.addons_from, name="coredns")
        # Resource metrics for every HorizontalPodAutoscaler (kubectl top too).
        self.metrics_server = pinned_addon(self, "MetricsServerAddon", cluster=self.cluster_ref,
                                           kubernetes_version=version, addons_from=config.addons_from,
                                           name="metrics-server")
        for addon in (self.coredns, self.metrics_server):
            addon.node.add_dependency(*self.node_groups.values())
        self.cluster.role.add_managed_policy(
            iam.ManagedPolicy.from_aws_managed_policy_name("AmazonEKSVPCResourceController"))
        # The cluster's administrators assume this role (`aws eks update-kubeconfig --role-arn`, the stack output
        # AdminRoleArn): created here, so that its access entry can never name a principal that does not exist
        # (CreateAccessEntry refuses one, after the cluster's 15 minutes). It trusts the account, so the account's
        # own IAM policies decide who may assume it; roles that exist already (config cluster.admin_role_arns) get
        # the same access as declared prerequisites, verified by `make account-check` before each deploy.
        self.admin_role = iam.Role(
            self, "AdminRole", assumed_by=iam.AccountRootPrincipal(),
            description=f"Administers the EKS cluster of {Stack.of(self).stack_name} (an EKS access entry)")
        iam.ManagedPolicy(self, "AdminRoleKubeconfig", roles=[self.admin_role], statements=[iam.PolicyStatement(
            actions=["eks:DescribeCluster"], resources=[self.cluster.cluster_arn])])
        admin = [eks.AccessPolicy.from_access_policy_name("AmazonEKSClusterAdminPolicy",
                                                          access_scope_type=eks.AccessScopeType.CLUSTER)]
        self.cluster.grant_access("PlatformAdminAccess", self.admin_role.role_arn, admin)
        for arn in config.admin_role_arns:
            self.cluster.grant_access(f"ExistingAdminAccess{hashlib.sha256(arn.encode()).hexdigest()[:8]}", arn,
                                      admin)
        # Service accounts bound by Pod Identity make the cluster install the eks-pod-identity-agent add-on.
        # Node autoscaling: pending pods get nodes within the node groups' limits, idle nodes go away.
        self.cluster_autoscaler = ClusterAutoscaler(
            self, "ClusterAutoscaler", cluster=self.cluster, cluster_name=self.cluster.cluster_name,
            kubernetes_version=version, pools=config.node_pools, region=Stack.of(self).region)
        self.cluster_autoscaler.chart.node.add_dependency(*self.node_groups.values())
        # Reconciles the TargetGroupBindings that attach service pods to the Edge NLB's target groups.
        self.load_balancer_controller = LoadBalancerController(
            self, "LoadBalancerController", cluster=self.cluster, kubernetes_version=version, vpc_id=vpc.vpc_id,
            region=Stack.of(self).region)
        self.pod_identity_agent = self.cluster.eks_pod_identity_agent
        assert self.pod_identity_agent is not None  # created by the first Pod Identity service account above
        pin_existing(self.pod_identity_agent, kubernetes_version=version, addons_from=config.addons_from)
        # The API endpoint is private: CI's manifests go through the kubectl handler Lambda in the VPC, and people
        # through a CloudShell VPC environment in one of these private subnets with this security group attached
        # (docs/deploying.md, "Reaching the cluster"). The group reaches HTTPS only: the control plane admits it on
        # 443, and the AWS APIs kubectl's credentials need (EKS, STS) are HTTPS through the NAT
        # gateway or the interface endpoints. It is not the cluster security group, which admits everything from
        # itself (nodes, pods), so an operator's shell reaches the API server and nothing else in the cluster.
        self.operator_subnets = vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        self.operator_security_group = ec2.SecurityGroup(
            self, "OperatorAccessSecurityGroup", vpc=vpc, allow_all_outbound=False,
            description="CloudShell VPC environments of cluster operators: HTTPS to the private API endpoint "
                        "and the AWS APIs")
        self.operator_security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443),
            "AWS APIs (EKS, STS) through the NAT gateway or the interface endpoints")
        # On the control plane's own security group (aws_eks_v2 attaches it to the endpoint's ENIs only), not on
        # the cluster security group EKS also puts on every node: the rule admits the API server and no pod.
        control_plane = cast(ec2.ISecurityGroup, self.cluster.node.find_child("ControlPlaneSecurityGroup"))
        control_plane.add_ingress_rule(self.operator_security_group, ec2.Port.tcp(443),
                                       "kubectl from operators' CloudShell VPC environments")
        # The kubectl provider's Lambda log groups come from aws_eks_v2 unencrypted, kept two years.
        adopt_library_log_groups(self, log_settings=log_settings)
        self._acknowledge_library_resources()

    def _acknowledge_library_resources(self) -> None:
        """Findings on roles and functions that aws_eks_v2 creates with fixed managed policies."""
        for name, group in self.node_groups.items():
            role = group.role.node.default_child or group.role
            for policy, why in _NODE_POLICIES.items():
                acknowledge(role, f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{policy}]",
                            f"The {name} node group role needs {policy}: {why} EKS managed node groups require it.")
        acknowledge_child(self.cluster, "Role", "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                          "AmazonEKSClusterPolicy]", "The EKS control plane's service role must carry "
                          "AmazonEKSClusterPolicy; EKS documents no narrower policy for the cluster role.")
        acknowledge_child(self.cluster, "Role", "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                          "AmazonEKSVPCResourceController]", "Security groups for pods need the cluster role to "
                          "manage trunk and branch ENIs; EKS documents this managed policy as the way to grant it.")
        handler = "KubectlProvider/Handler"
        for policy in ("service-role/AWSLambdaBasicExecutionRole", "service-role/AWSLambdaVPCAccessExecutionRole",
                       "AmazonEC2ContainerRegistryReadOnly"):
            acknowledge_child(self.cluster, f"{handler}/ServiceRole",
                              f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{policy}]",
                              f"The kubectl handler Lambda that applies this cluster's manifests is created by "
                              f"aws_eks_v2 with {policy} attached; it runs in the VPC to reach the private endpoint.")
        acknowledge_child(self.cluster, f"{handler}/ServiceRole", _ECR_PUBLIC_IF,
                          "aws_eks_v2 attaches ECR Public read-only to the kubectl handler only when its layer "
                          "image comes from ECR Public; the condition is the library's, not widened here.")
        acknowledge_child(self.cluster, f"{handler}", "AwsSolutions-L1",
                          "The kubectl handler's runtime is fixed by aws-cdk-lib's eks v2 module to the version its "
                          "kubectl layer is built for; upgrading aws-cdk-lib upgrades it.")
        for fn in (handler, "KubectlProvider/Provider/framework-onEvent"):
            for pack in ("NIST.800.53.R5", "PCI.DSS.321"):
                acknowledge_child(self.cluster, f"{fn}/ServiceRole/DefaultPolicy", f"{pack}-IAMNoInlinePolicy",
                                  f"The policy of {fn.rsplit('/', 1)[-1]} is written by aws_eks_v2 for the kubectl "
                                  "provider of this cluster alone (describe the cluster, invoke the handler).")
            acknowledge_child(self.cluster, fn, "NIST.800.53.R5-LambdaDLQ",
                              f"{fn.rsplit('/', 1)[-1]} runs synchronously inside CloudFormation custom resource "
                              "calls; a failure fails the deployment, so a dead-letter queue would hold nothing.")
            acknowledge_child(self.cluster, fn, "NIST.800.53.R5-LambdaConcurrency",
                              f"{fn.rsplit('/', 1)[-1]} only runs during deployments of this cluster's manifests, "
                              "one CloudFormation operation at a time; a reserved concurrency would only idle.")
        on_event = "KubectlProvider/Provider/framework-onEvent"
        for policy in ("service-role/AWSLambdaBasicExecutionRole", "service-role/AWSLambdaVPCAccessExecutionRole"):
            acknowledge_child(self.cluster, f"{on_event}/ServiceRole",
                              f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{policy}]",
                              f"The custom resource framework function of the kubectl provider is created by "
                              f"aws-cdk-lib with {policy}; it only logs and invokes the kubectl handler.")
        acknowledge_child(self.cluster, f"{on_event}/ServiceRole/DefaultPolicy",
                          "AwsSolutions-IAM5[Resource::<PlatformClusterKubectlProviderHandler878759C4.Arn>:*]",
                          "The provider framework may invoke any version of the one kubectl handler function; the "
                          "wildcard is the version qualifier of that single function ARN.")


def _node_group_resource(cluster: eks.Cluster, group_id: str) -> Callable[[], cdk.CfnResource]:
    return lambda: cast(cdk.CfnResource, cluster.node.find_child(f"Nodegroup{group_id}").node.default_child)


_NODE_POLICIES = {
    "AmazonEKSWorkerNodePolicy": "the kubelet describes the cluster and registers the node.",
    "AmazonEKS_CNI_Policy": "the VPC CNI on the node assigns pod IPs from ENIs.",
    "AmazonEC2ContainerRegistryReadOnly": "the kubelet pulls the services' images from the CDK asset repository.",
}
_ECR_PUBLIC_IF = ('AwsSolutions-IAM4[Policy::{"Fn::If":["PlatformClusterKubectlProviderHandlerHasEcrPublic93383F72",'
                  '{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":iam::aws:policy/'
                  'AmazonElasticContainerRegistryPublicReadOnly"]]},{"Ref":"AWS::NoValue"}]}]')
