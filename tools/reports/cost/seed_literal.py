"""The seed's architecture taken at face value, as a real (synthesized, never deployed) CDK app.

The seed (`/work/shared/seed/...`, the user's lab write-up) says: microservices on EKS, "each microservice has its own
dedicated database instance", RDS for orders, "DynamoDB for high throughput" for products/users, SQS + SNS,
API Gateway with throttling, CloudWatch logs and alarms (CPU, memory, error rates), X-Ray, Cognito. Nothing in it
asks for Graviton, Spot, autoscaled node groups, serverless databases, VPC endpoints or log retention, so here:

* nodes are x86 (m5.large), on demand, sized for the same capacity as prod (prod's desired nodes in total);
* one NAT gateway per AZ, and no VPC endpoints at all (all AWS API traffic crosses the NATs);
* a Multi-AZ RDS PostgreSQL instance per service (4), db.m5.large with gp2 storage;
* the topology's DynamoDB tables in provisioned mode, sized for prod's peak hour;
* the same topics, queues, DLQs and subscriptions (config/topology.py), encrypted with AWS managed keys;
* API Gateway REST (one stage, X-Ray on) -> VPC link -> internal NLB;
* log groups per service and for the control plane that never expire; three alarms per service.

The security baseline is held equal to the real environments, because it is a requirement of the work, not a
resource-management strategy: card payments put both shapes under PCI DSS, and the seed asks for Cognito and for
rate limiting against abuse. So seed-literal has the same Cognito tier (Plus: threat protection), the same WAF web
ACL on its stage, and customer-managed keys for its data stores, logs and messages. What differs is only what the
strategies change, so prod / seed-literal measures them and nothing else.

It is priced by the same template reader and rules as the real environments, on prod's usage assumptions, so
each strategy's saving is measured template to template on the same work.
"""

from __future__ import annotations

import math

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks as eks
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs

from cdk_constructs.log_groups import LogSettings
from cdk_constructs.web_acl import WebAcl
from config.environment import HOURS_PER_MONTH, EnvironmentConfig, RemovalMode
from config.environments import PROD
from config.topology import LISTENER_PORTS, QUEUES, SERVICES, TABLES, TOPICS, filter_policy

NAME = "seed-literal"
PREFIX = "SeedLiteral"
ACCOUNT = "444444444444"
X86_NODE_TYPE = "m5.large"
DB_INSTANCE_CLASS = "m5.large"
PEAK_TO_AVERAGE = 3.0  # same factor as prices.json dynamodb_peak_to_average
GSI_WRITE_SHARE = 0.5  # same factor as prices.json dynamodb_gsi_write_share


def _capacity(units_per_month: int, tables: int) -> int:
    return max(1, math.ceil(units_per_month / (HOURS_PER_MONTH * 3600) * PEAK_TO_AVERAGE / tables))


class SeedApp:
    """Stacks of the seed-literal app; `build(outdir)` returns the app ready to synthesize."""

    def __init__(self, app: cdk.App, reference: EnvironmentConfig) -> None:
        env = cdk.Environment(account=ACCOUNT, region=reference.region)
        azs = list(reference.network.availability_zones)

        network = cdk.Stack(app, f"{PREFIX}-Network", env=env)
        vpc = ec2.Vpc(network, "Vpc", ip_addresses=ec2.IpAddresses.cidr("10.40.0.0/16"), availability_zones=azs,
                      nat_gateways=len(azs), subnet_configuration=[
                          ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                          ec2.SubnetConfiguration(name="Private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS,
                                                  cidr_mask=20)],
                      restrict_default_security_group=False)
        private = [s.subnet_id for s in vpc.private_subnets]

        cluster_stack = cdk.Stack(app, f"{PREFIX}-Cluster", env=env)
        cluster_role = iam.Role(cluster_stack, "ClusterRole", assumed_by=iam.ServicePrincipal("eks.amazonaws.com"),
                                managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(
                                    "AmazonEKSClusterPolicy")])
        cluster = eks.CfnCluster(cluster_stack, "Cluster", name="seed-literal", role_arn=cluster_role.role_arn,
                                 resources_vpc_config=eks.CfnCluster.ResourcesVpcConfigProperty(subnet_ids=private))
        node_role = iam.Role(cluster_stack, "NodeRole", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
                             managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(n) for n in (
                                 "AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly",
                                 "AmazonEKS_CNI_Policy")])
        pools = reference.cluster.node_pools
        eks.CfnNodegroup(cluster_stack, "Nodes", cluster_name=cluster.ref, node_role=node_role.role_arn,
                         subnets=private, ami_type="AL2023_x86_64_STANDARD", capacity_type="ON_DEMAND",
                         instance_types=[X86_NODE_TYPE], disk_size=max(p.disk_gib for p in pools),
                         scaling_config=eks.CfnNodegroup.ScalingConfigProperty(
                             min_size=sum(p.desired_size for p in pools),
                             desired_size=sum(p.desired_size for p in pools),
                             max_size=sum(p.desired_size for p in pools)))
        logs.CfnLogGroup(cluster_stack, "ControlPlaneLogs", log_group_name="/aws/eks/seed-literal/cluster")
        for service in SERVICES:
            # "CloudWatch Logs: collect logs from each service": a log group per service, no retention set.
            logs.CfnLogGroup(cluster_stack, f"{service.value.title()}ApplicationLogs",
                             log_group_name=f"/seed-literal/{service.value}/application")

        data = cdk.Stack(app, f"{PREFIX}-Data", env=env)
        for service in SERVICES:
            rds.DatabaseInstance(
                data, f"{service.value.title()}Database",
                engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_16),
                instance_type=ec2.InstanceType(DB_INSTANCE_CLASS), vpc=vpc,
                vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS), multi_az=True,
                allocated_storage=max(20, math.ceil(reference.usage.stored_gib_database))
                if service.value == "orders" else 20,
                storage_type=rds.StorageType.GP2, storage_encrypted=True, removal_policy=cdk.RemovalPolicy.DESTROY,
                deletion_protection=False)
        usage = reference.usage
        rcu = _capacity(usage.dynamodb_read_units_per_month, len(TABLES))
        wcu = _capacity(usage.dynamodb_write_units_per_month, len(TABLES))
        for spec in TABLES:
            table = dynamodb.Table(
                data, spec.construct_id, billing_mode=dynamodb.BillingMode.PROVISIONED,
                read_capacity=rcu, write_capacity=wcu,
                partition_key=dynamodb.Attribute(name=spec.partition_key, type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name=spec.sort_key, type=dynamodb.AttributeType.STRING)
                if spec.sort_key else None, removal_policy=cdk.RemovalPolicy.DESTROY)
            for index in spec.indexes:
                table.add_global_secondary_index(
                    index_name=index.name, read_capacity=max(1, rcu // 4),
                    write_capacity=max(1, math.ceil(wcu * GSI_WRITE_SHARE)),
                    partition_key=dynamodb.Attribute(name=index.partition_key, type=dynamodb.AttributeType.STRING),
                    sort_key=dynamodb.Attribute(name=index.sort_key, type=dynamodb.AttributeType.STRING)
                    if index.sort_key else None)

        messaging = cdk.Stack(app, f"{PREFIX}-Messaging", env=env)
        topics = {t.name: sns.Topic(messaging, t.construct_id) for t in TOPICS}
        for q in QUEUES:
            dlq = sqs.Queue(messaging, f"{q.construct_id}DeadLetterQueue",
                            encryption=sqs.QueueEncryption.SQS_MANAGED)
            queue = sqs.Queue(messaging, q.construct_id, encryption=sqs.QueueEncryption.SQS_MANAGED,
                              dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=5))
            for sub in q.subscriptions:
                topics[sub.topic].add_subscription(subs.SqsSubscription(queue, raw_message_delivery=True,
                    filter_policy={k: sns.SubscriptionFilter.string_filter(allowlist=v)
                                   for k, v in filter_policy(sub).items()}))

        edge = cdk.Stack(app, f"{PREFIX}-Edge", env=env)
        cognito.UserPool(edge, "Users", removal_policy=cdk.RemovalPolicy.DESTROY,
                         feature_plan=cognito.FeaturePlan.PLUS,
                         standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION)
        nlb = elbv2.NetworkLoadBalancer(edge, "ServicesLoadBalancer", vpc=vpc, internet_facing=False)
        link = apigw.VpcLink(edge, "VpcLink", targets=[nlb])
        api = apigw.RestApi(edge, "Api", deploy_options=apigw.StageOptions(
            stage_name="v1", tracing_enabled=True, throttling_rate_limit=reference.api.throttle_rate_limit,
            throttling_burst_limit=reference.api.throttle_burst_limit))
        for service in SERVICES:
            port = LISTENER_PORTS[service]
            group = elbv2.NetworkTargetGroup(edge, f"{service.value.title()}Targets", vpc=vpc, port=8080,
                                             target_type=elbv2.TargetType.IP)
            nlb.add_listener(f"{service.value.title()}Listener", port=port, default_target_groups=[group])
            api.root.add_resource(service.value).add_proxy(any_method=True, default_integration=apigw.Integration(
                type=apigw.IntegrationType.HTTP_PROXY, integration_http_method="ANY",
                uri=f"http://{nlb.load_balancer_dns_name}:{port}/{{proxy}}",
                options=apigw.IntegrationOptions(connection_type=apigw.ConnectionType.VPC_LINK, vpc_link=link,
                                                 request_parameters={
                                                     "integration.request.path.proxy": "method.request.path.proxy"})))

        WebAcl(edge, "ApiWebAcl", rate_limit_per_5_min=reference.api.waf_rate_limit_per_5_min,
               log_settings=LogSettings(key=kms.Key(edge, "LogsKey", enable_key_rotation=True),
                                        retention_days=reference.log_retention_days, removal=RemovalMode.DESTROY),
               ).associate("StageAssociation", api.deployment_stage.stage_arn)
        # Same number of customer-managed keys as the real environment's data, messages and cluster secrets.
        for name in ("DatabaseKey", "TablesKey", "TopicsKey", "QueuesKey", "ClusterSecretsKey"):
            kms.Key(edge, name, enable_key_rotation=True, removal_policy=cdk.RemovalPolicy.DESTROY)

        observability = cdk.Stack(app, f"{PREFIX}-Observability", env=env)
        alarm_topic = sns.Topic(observability, "AlarmTopic")
        alarm_topic.add_subscription(subs.EmailSubscription("platform-oncall@example.com"))
        for service in SERVICES:
            for metric in ("pod_cpu_utilization", "pod_memory_utilization", "http_5xx_rate"):
                cw.Alarm(observability, f"{service.value.title()}{metric.title().replace('_', '')}",
                         metric=cw.Metric(namespace="ContainerInsights" if metric.startswith("pod") else "Seed",
                                          metric_name=metric, dimensions_map={"Service": service.value}),
                         threshold=85, evaluation_periods=2)


def build(outdir: str | None = None, reference: EnvironmentConfig = PROD) -> cdk.App:
    app = cdk.App(outdir=outdir)
    SeedApp(app, reference)
    return app


if __name__ == "__main__":
    build().synth()
