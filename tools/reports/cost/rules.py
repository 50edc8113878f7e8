"""One pricing rule per billable CloudFormation resource type, and the explicit list of free types.

:func:`price_resources` walks every resource of every template. A type with a rule gets one or more priced
:class:`Line` s; a type in :data:`FREE` is counted as free with its reason; any other type raises
:class:`UnpricedResourceError` -- there is no silent zero. Rules that meet a property they cannot price (an option
with a separate charge nobody modelled) raise :class:`UnpricedOptionError` for the same reason.

Usage-driven figures come from :class:`config.environment.UsageAssumptions` (monthly totals for one environment),
shared between the resources that carry them as documented in each rule.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from config.environment import UsageAssumptions
from config.topology import TOPICS
from tools.assembly import Resource
from tools.reports.cost import evidence
from tools.reports.cost.evidence import MINUTES_PER_WEEK, Autoscaling, Evidence, ScheduledResize
from tools.reports.cost.prices import PriceTable

# Strategies a report can price again "taken away" (``price_resources(..., without=...)``), to measure each saving
# on the environment's own templates.
STRATEGIES = ("graviton", "spot", "autoscaling", "schedule", "auto_pause", "user_pool_tier")
# An active Aurora Serverless v2 instance runs at 0.5 ACU or more; only a paused one (minimum 0) bills none.
AURORA_ACTIVE_MIN_ACU = 0.5
# Aurora documents these as keeping a cluster from pausing (RDS Proxy, global databases, zero-ETL integrations).
_NO_PAUSE_WITH = ("AWS::RDS::DBProxy", "AWS::RDS::DBProxyTargetGroup", "AWS::RDS::GlobalCluster",
                  "AWS::RDS::Integration")


class UnpricedResourceError(ValueError):
    """A template holds a resource type that has neither a pricing rule nor a free listing."""


class UnpricedOptionError(ValueError):
    """A priced resource uses an option with its own charge that the rule does not model."""


@dataclass
class Line:
    stack: str
    logical_id: str
    type: str
    item: str
    quantity: float
    unit: str
    unit_usd: float
    price_keys: tuple[str, ...]
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def monthly_usd(self) -> float:
        return self.quantity * self.unit_usd

    def as_dict(self) -> dict[str, Any]:
        return {"stack": self.stack, "logical_id": self.logical_id, "type": self.type, "item": self.item,
                "quantity": round(self.quantity, 6), "unit": self.unit, "unit_usd": self.unit_usd,
                "monthly_usd": round(self.monthly_usd, 2), "price_keys": list(self.price_keys),
                **({"extras": self.extras} if self.extras else {})}


# Resource types that cost nothing by themselves, each with the reason. Their effects are priced elsewhere
# (e.g. a flow log's volume on its destination log group) or they are configuration only.
FREE: dict[str, str] = {
    "AWS::CDK::Metadata": "CDK bookkeeping",
    "AWS::IAM::Role": "IAM has no charge",
    "AWS::IAM::Policy": "IAM has no charge",
    "AWS::IAM::ManagedPolicy": "IAM has no charge",
    "AWS::IAM::InstanceProfile": "IAM has no charge",
    "AWS::IAM::OIDCProvider": "IAM has no charge",
    "AWS::IAM::ServiceLinkedRole": "IAM has no charge",
    "AWS::EC2::VPC": "VPC has no charge",
    "AWS::EC2::Subnet": "subnets have no charge",
    "AWS::EC2::RouteTable": "route tables have no charge",
    "AWS::EC2::Route": "routes have no charge",
    "AWS::EC2::SubnetRouteTableAssociation": "no charge",
    "AWS::EC2::InternetGateway": "internet gateways have no charge (data transfer out is not modelled)",
    "AWS::EC2::VPCGatewayAttachment": "no charge",
    "AWS::EC2::SecurityGroup": "security groups have no charge",
    "AWS::EC2::SecurityGroupIngress": "no charge",
    "AWS::EC2::SecurityGroupEgress": "no charge",
    "AWS::EC2::NetworkAcl": "no charge",
    "AWS::EC2::NetworkAclEntry": "no charge",
    "AWS::EC2::SubnetNetworkAclAssociation": "no charge",
    "AWS::EC2::FlowLog": "the volume is billed as ingestion on its destination log group",
    "AWS::EC2::LaunchTemplate": "the instances launched from it are priced on their node group",
    "AWS::EKS::AccessEntry": "no charge",
    "AWS::EKS::Addon": "add-ons have no charge (their pods run on priced nodes, their logs/metrics are priced)",
    "AWS::EKS::PodIdentityAssociation": "no charge",
    "AWS::Lambda::LayerVersion": "layer storage within the free 75 GB code storage",
    "AWS::Lambda::Permission": "no charge",
    "AWS::Logs::ResourcePolicy": "no charge",
    "AWS::Logs::SubscriptionFilter": "no charge (the destination is priced)",
    "AWS::Logs::QueryDefinition": "no charge",
    "AWS::SNS::TopicPolicy": "no charge",
    "AWS::SQS::QueuePolicy": "no charge",
    "AWS::KMS::Alias": "aliases have no charge",
    "AWS::SecretsManager::ResourcePolicy": "no charge",
    "AWS::SecretsManager::RotationSchedule": "rotation Lambda runs once per rotation period (< $0.01)",
    "AWS::SecretsManager::SecretTargetAttachment": "no charge",
    "AWS::Serverless::Application": "SAR nested stack of the rotation Lambda: invoked once per rotation (< $0.01)",
    "AWS::RDS::DBClusterParameterGroup": "no charge",
    "AWS::RDS::DBParameterGroup": "no charge",
    "AWS::RDS::DBSubnetGroup": "no charge",
    "AWS::Cognito::UserPoolClient": "app clients have no charge (M2M token requests are not modelled)",
    "AWS::Cognito::UserPoolDomain": "no charge",
    "AWS::Cognito::UserPoolGroup": "no charge",
    "AWS::Cognito::UserPoolResourceServer": "no charge",
    "AWS::ApiGateway::Account": "no charge",
    "AWS::ApiGateway::ApiKey": "no charge",
    "AWS::ApiGateway::Authorizer": "no charge (Cognito authorizer)",
    "AWS::ApiGateway::Deployment": "no charge",
    "AWS::ApiGateway::Method": "requests are priced on the stage",
    "AWS::ApiGateway::Model": "no charge",
    "AWS::ApiGateway::RequestValidator": "no charge",
    "AWS::ApiGateway::Resource": "no charge",
    "AWS::ApiGateway::RestApi": "requests are priced on the stage",
    "AWS::ApiGateway::UsagePlan": "no charge",
    "AWS::ApiGateway::UsagePlanKey": "no charge",
    "AWS::ApiGateway::GatewayResponse": "no charge",
    "AWS::ApiGateway::VpcLink": "REST VPC links have no charge (the NLB is priced)",
    "AWS::ElasticLoadBalancingV2::Listener": "priced on the load balancer",
    "AWS::ElasticLoadBalancingV2::ListenerRule": "priced on the load balancer",
    "AWS::ElasticLoadBalancingV2::TargetGroup": "priced on the load balancer",
    "AWS::WAFv2::LoggingConfiguration": "log volume is priced on the destination log group",
    "AWS::WAFv2::WebACLAssociation": "no charge",
    "AWS::S3::BucketPolicy": "no charge",
    "AWS::CloudFormation::WaitConditionHandle": "no charge",
    "AWS::CloudFormation::WaitCondition": "no charge",
    "AWS::SES::EmailIdentity": "identities have no charge (sign-up and recovery mails are under $0.10 a month here)",
    "AWS::SES::ConfigurationSetEventDestination": "no charge (its SNS publishes are priced on the topic)",
    "AWS::StepFunctions::StateMachine": "teardown waiter: a few state transitions per stack deletion (< $0.01)",
    "AWS::Scheduler::Schedule": "14 million invocations a month are free; a working-hours schedule fires a few "
                                "times a day (its effect on the node groups is priced on them)",
    "AWS::Scheduler::ScheduleGroup": "no charge",
    "AWS::SSM::Document": "documents have no charge (the fault experiments' automation runs within the free tier)",
    "AWS::CloudFront::ResponseHeadersPolicy": "no charge",
    "AWS::CloudFront::OriginAccessControl": "no charge",
    "AWS::CertificateManager::Certificate": "public ACM certificates have no charge",
    "AWS::Route53::RecordSet": "records of an existing hosted zone have no charge; alias queries to CloudFront are "
                               "free (the zone's own $0.50 a month predates the app)",
}
# Custom resources: Lambda-backed, invoked at deploy time only; their handler functions are priced as Lambda.
FREE_PREFIXES: dict[str, str] = {
    "Custom::": "custom resource: handled by a deploy-time Lambda (priced as AWS::Lambda::Function)",
    "AWS::CloudFormation::CustomResource": "custom resource: handled by a deploy-time Lambda",
}


def free_reason(type_: str) -> str | None:
    if type_ in FREE:
        return FREE[type_]
    for prefix, reason in FREE_PREFIXES.items():
        if type_.startswith(prefix):
            return reason
    return None


_DOMAIN_TOPIC_IDS = tuple(t.construct_id for t in TOPICS if t.body_type_field is None)
# Topics an AWS service publishes to (SES's bounces and complaints): their volume follows the emails sent.
_SES_TOPIC_IDS = tuple(t.construct_id for t in TOPICS if t.body_type_field is not None)


class Context:
    """Everything a rule may read: the usage of the environment, the price table and all resources (for shares)."""

    def __init__(self, resources: list[Resource], usage: UsageAssumptions, prices: PriceTable,
                 without: frozenset[str] = frozenset(), load: float = 1.0) -> None:
        unknown = set(without) - set(STRATEGIES)
        if unknown:
            raise ValueError(f"unknown strategies {sorted(unknown)}; known: {', '.join(STRATEGIES)}")
        self.resources = resources
        self.usage = usage
        self.prices = prices
        self.hours = prices.hours_per_month
        self.without = without
        # Work relative to the usage assumptions: the part of each autoscaled node group above its minimum follows
        # it (the HPAs add pods in proportion to CPU, the autoscaler nodes in proportion to pods).
        self.load = load
        self._log_weights = {(r.stack, r.logical_id): log_group_weight(r)
                             for r in resources if r.type == "AWS::Logs::LogGroup"}
        self.autoscaling: Autoscaling = evidence.autoscaling(resources)
        self.resizes: dict[tuple[str, str], list[ScheduledResize]] = {}
        if "schedule" not in without:
            for resize in evidence.scheduled_resizes(resources):
                self.resizes.setdefault((resize.evidence.stack, resize.node_group), []).append(resize)

    def node_autoscaled(self, r: Resource) -> bool:
        """Pods follow load (HPAs and metrics-server) and nodes follow pods (the autoscaler, room to grow)."""
        scaling = r.properties.get("ScalingConfig", {})
        room = int(scaling.get("MinSize", 0)) < int(scaling.get("MaxSize", 0))
        return "autoscaling" not in self.without and self.autoscaling.pods and self.autoscaling.nodes and room

    def node_weekly_counts(self, r: Resource) -> list[tuple[int, float]]:
        """(minutes of the week, nodes) of a node group: its schedule's states, each priced at the desired size when
        the group autoscales and at its maximum when it does not (the peak must then be there all the time); an
        empty group is empty either way. Without a schedule, one span of the whole week."""
        scaling = r.properties.get("ScalingConfig", {})
        desired = int(scaling.get("DesiredSize", scaling.get("MinSize", 1)))
        spans = evidence.weekly_state(self.resizes.get((r.stack, r.logical_id), []))
        states = spans or [(MINUTES_PER_WEEK, {"MinSize": int(scaling.get("MinSize", desired)), "DesiredSize": desired,
                                               "MaxSize": int(scaling.get("MaxSize", desired))})]
        autoscaled = self.node_autoscaled(r)

        def nodes(state: dict[str, int]) -> float:
            if state["DesiredSize"] == 0:
                return 0
            if not autoscaled:
                return state["MaxSize"]
            floor = state.get("MinSize", int(scaling.get("MinSize", 0)))
            return min(state["MaxSize"], floor + (state["DesiredSize"] - floor) * self.load)

        return [(minutes, nodes(state)) for minutes, state in states]

    def awake_fraction(self) -> float:
        """Share of the week in which some node group has nodes (pods run, metrics are sent, the database is
        used); 1.0 without schedules."""
        groups = self.of_type("AWS::EKS::Nodegroup")
        if not groups:
            return 1.0
        awake = [False] * MINUTES_PER_WEEK
        for g in groups:
            position = 0
            for minutes, nodes in self.node_weekly_counts(g):
                if nodes:
                    awake[position:position + minutes] = [True] * minutes
                position += minutes
        return sum(awake) / MINUTES_PER_WEEK

    def schedule_evidence(self) -> list[Evidence]:
        return [x.evidence for resizes in self.resizes.values() for x in resizes]

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]

    def count(self, *types: str) -> int:
        return len(self.of_type(*types))

    def find(self, stack: str, logical_id: str) -> Resource:
        for r in self.resources:
            if r.stack == stack and r.logical_id == logical_id:
                return r
        raise KeyError(f"{stack}/{logical_id}")

    def log_share(self, r: Resource) -> float:
        total = sum(self._log_weights.values())
        return self._log_weights[(r.stack, r.logical_id)] / total if total else 0.0

    def line(self, r: Resource, item: str, quantity: float, key: str, *, unit: str | None = None,
             scale: float = 1.0, **extras: Any) -> Line:
        price = self.prices.price(key)
        return Line(r.stack, r.logical_id, r.type, item, quantity, unit or price.unit, price.usd * scale, (key,),
                    dict(extras))

    def zero(self, r: Resource, item: str) -> Line:
        return Line(r.stack, r.logical_id, r.type, item, 0, "-", 0.0, ())


Rule = Callable[[Resource, Context], list[Line]]


def ref_target(value: Any) -> str | None:
    """Logical id a `Ref` or `Fn::GetAtt` points at, else None."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    return None


# --- compute ---------------------------------------------------------------------------------------------------

def eks_cluster(r: Resource, c: Context) -> list[Line]:
    if r.properties.get("ComputeConfig", {}).get("Enabled") is True:
        raise UnpricedOptionError(f"{r.stack}/{r.logical_id}: EKS Auto Mode management fee is not modelled")
    n = c.count("AWS::EKS::Cluster")
    # Custom metrics are billed by the hour in which they are sent: none while no node runs.
    awake = c.awake_fraction()
    note = f" x {awake:.1%} of hours with nodes (working-hours schedule)" if awake < 1 else ""
    return [
        c.line(r, "EKS control plane", c.hours, "eks.cluster_hour"),
        c.line(r, f"custom metrics: Container Insights and application (usage.custom_metrics){note}",
               c.usage.custom_metrics / n * awake, "cloudwatch.metric_month", awake_fraction=awake),
    ]


def eks_nodegroup(r: Resource, c: Context) -> list[Line]:
    p = r.properties
    if "LaunchTemplate" in p and "InstanceTypes" not in p:
        raise UnpricedOptionError(f"{r.stack}/{r.logical_id}: instance type set in a launch template")
    types = list(p.get("InstanceTypes") or ["t3.medium"])
    capacity = p.get("CapacityType", "ON_DEMAND")
    scaling = p.get("ScalingConfig", {})
    desired = int(scaling.get("DesiredSize", scaling.get("MinSize", 1)))
    max_size = int(scaling.get("MaxSize", desired))
    disk = int(p.get("DiskSize", 20))
    if capacity not in ("SPOT", "ON_DEMAND"):
        raise UnpricedOptionError(f"{r.stack}/{r.logical_id}: capacity type {capacity}")
    # On-demand node groups launch the first listed type; Spot ones (price-capacity-optimized) spread over all of
    # them, so a Spot pool is priced at the mean on-demand price of its types less the documented average discount.
    od_types = types[:1] if capacity == "ON_DEMAND" else types
    x86 = [c.prices.x86_equivalent.get(t) for t in od_types]
    x86_od = (sum(c.prices.ec2_hour(t) for t in x86 if t) / len(x86)) if all(x86) else None
    priced_types = [t or "" for t in x86] if "graviton" in c.without and x86_od is not None else od_types
    on_demand = sum(c.prices.ec2_hour(t) for t in priced_types) / len(priced_types)
    spot = capacity == "SPOT" and "spot" not in c.without
    factor = 1 - c.prices.factor("spot_discount") if spot else 1.0
    keys = tuple(f"ec2.{t}" for t in priced_types) + (("factors.spot_discount",) if spot else ())
    spans = c.node_weekly_counts(r)
    node_hours = sum(minutes * nodes for minutes, nodes in spans) / MINUTES_PER_WEEK * c.hours
    autoscaled = c.node_autoscaled(r)
    scheduled = (r.stack, r.logical_id) in c.resizes
    counted = f"desired size {desired}" if autoscaled else f"max size {max_size}: no node autoscaling"
    dedicated = p.get("Labels", {}).get("platform/dedicated")
    if dedicated:  # a pool at zero that holds nodes only while its workload runs: one node per load test
        node_hours += c.usage.load_test_hours_per_month
        counted += f", one node for usage.load_test_hours_per_month ({dedicated})"
    if scheduled:
        awake = sum(minutes for minutes, nodes in spans if nodes) / 60
        counted += f", {awake:g} h of 168 a week with nodes (working-hours schedule)"
    label = "/".join(types)
    extras = {"capacity": capacity, "desired": desired, "max": max_size, "on_demand_unit_usd": on_demand,
              "x86_on_demand_unit_usd": x86_od, "factor": factor, "instance_types": types,
              "autoscaled": autoscaled, "scheduled": scheduled, "node_hours": node_hours}
    nodes = Line(r.stack, r.logical_id, r.type,
                 f"nodes: {node_hours / c.hours:.2f} on average x {label} {capacity.lower()} ({counted})",
                 node_hours, "instance-hour", on_demand * factor, keys, extras)
    # Root volumes go with their instances.
    disks = c.line(r, f"node root volumes: {disk} GiB gp3 per node-hour", node_hours / c.hours * disk,
                   "ebs.gp3_gb_month", disk_gib=disk, max=max_size)
    return [nodes, disks]


def lambda_function(r: Resource, c: Context) -> list[Line]:
    text = f"{r.logical_id} {r.properties.get('Description', '')}".lower()
    deploy_time = ("provider", "customresource", "custom resource", "framework", "onevent", "restrictdefaultsg",
                   "autodeleteobjects", "logretention", "bucketnotification", "awscdk", "singleton",
                   # aws-cdk-lib's AwsCustomResource singleton (fixed id), e.g. reading Cognito client secrets
                   "aws679f53fac002430cb0da5b7982bd2287",
                   # aws-cdk-lib's BucketDeployment copier (the storefront's files, at deploy)
                   "cdkbucketdeployment")
    if any(marker in text for marker in deploy_time):
        return [c.zero(r, "deploy-time custom resource handler: invoked only during deployments")]
    raise UnpricedResourceError(f"{r.stack}/{r.logical_id}: Lambda function with no usage assumption; add one")


def canary_runs_per_month(expression: str, hours: float) -> float:
    """Runs a month of a Synthetics schedule: ``rate(N minutes|hours)`` or ``cron(M/N H1-H2 ? * DAYS *)``."""
    rate = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours)\)", expression)
    if rate:
        return hours * 60 / (int(rate[1]) * (60 if rate[2].startswith("hour") else 1))
    cron = re.fullmatch(r"cron\(0/(\d+) (\d+)-(\d+) \? \* ([A-Z,]+) \*\)", expression)
    if cron:
        per_hour = 60 / int(cron[1])
        hours_a_day = int(cron[3]) - int(cron[2]) + 1
        days_a_month = len(cron[4].split(",")) * hours / 168
        return per_hour * hours_a_day * days_a_month
    raise UnpricedOptionError(f"canary schedule {expression!r}")


def synthetics_canary(r: Resource, c: Context) -> list[Line]:
    runs = canary_runs_per_month(str(r.properties["Schedule"]["Expression"]), c.hours)
    seconds = c.prices.factor("canary_run_seconds")
    memory_gb = int(r.properties.get("RunConfig", {}).get("MemoryInMB", 1024)) / 1024
    return [c.line(r, f"canary runs: {runs:,.0f} a month ({r.properties['Schedule']['Expression']})", runs,
                   "synthetics.canary_run"),
            c.line(r, f"its Lambda: {runs:,.0f} runs x factors.canary_run_seconds ({seconds:g} s) x {memory_gb:g} GB",
                   runs * seconds * memory_gb, "lambda.x86_gb_second")]


def fis_experiment_template(r: Resource, c: Context) -> list[Line]:
    n = c.count("AWS::FIS::ExperimentTemplate")
    minutes = c.usage.fault_action_minutes_per_month / n
    return [c.line(r, f"action-minutes: usage.fault_action_minutes_per_month / {n} templates", minutes,
                   "fis.action_minute")]


# --- network ---------------------------------------------------------------------------------------------------

def nat_gateway(r: Resource, c: Context) -> list[Line]:
    n = c.count("AWS::EC2::NatGateway")
    gib = c.usage.nat_processed_gib / n
    lines = [c.line(r, "NAT gateway hours", c.hours, "vpc.nat_gateway_hour"),
             c.line(r, f"NAT data processed (usage.nat_processed_gib / {n} gateways)", gib, "vpc.nat_gateway_gb")]
    if not any(e.properties.get("VpcEndpointType") == "Interface" for e in c.of_type("AWS::EC2::VPCEndpoint")):
        # Without interface endpoints the AWS API traffic they would carry crosses the NATs instead.
        lines.append(c.line(r, f"NAT data for AWS APIs, no interface endpoints (usage.endpoint_processed_gib / {n})",
                            c.usage.endpoint_processed_gib / n, "vpc.nat_gateway_gb"))
    return lines


def eip(r: Resource, c: Context) -> list[Line]:
    return [c.line(r, "public IPv4 address", c.hours, "vpc.public_ipv4_hour")]


def vpc_endpoint(r: Resource, c: Context) -> list[Line]:
    kind = r.properties.get("VpcEndpointType", "Gateway")
    service = r.properties.get("ServiceName")
    name = service if isinstance(service, str) else "gateway endpoint"
    if kind == "Gateway":
        return [c.zero(r, f"{name.rsplit('.', 1)[-1] if isinstance(service, str) else name}: gateway endpoint, "
                          "no charge")]
    if kind != "Interface":
        raise UnpricedOptionError(f"{r.stack}/{r.logical_id}: endpoint type {kind}")
    subnets = r.properties.get("SubnetIds")
    if not isinstance(subnets, list):
        raise UnpricedOptionError(f"{r.stack}/{r.logical_id}: cannot count the endpoint's subnets")
    azs = len(subnets)
    n = sum(1 for e in c.of_type("AWS::EC2::VPCEndpoint") if e.properties.get("VpcEndpointType") == "Interface")
    short = name.rsplit(".", 1)[-1] if "." in name else name
    if short == "api" or short == "dkr":
        short = ".".join(name.split(".")[-2:])
    return [c.line(r, f"interface endpoint {short}: {azs} AZs", azs * c.hours, "vpc.interface_endpoint_az_hour",
                   unit="endpoint-AZ-hour", azs=azs),
            c.line(r, f"interface endpoint data (usage.endpoint_processed_gib / {n} endpoints)",
                   c.usage.endpoint_processed_gib / n, "vpc.interface_endpoint_gb")]


def load_balancer(r: Resource, c: Context) -> list[Line]:
    kind = r.properties.get("Type", "application")
    n = c.count("AWS::ElasticLoadBalancingV2::LoadBalancer")
    requests = c.usage.api_requests_per_month / n
    gib_per_hour = requests * c.usage.api_kib_per_request / 1024**2 / c.hours
    new_per_second = requests / (c.hours * 3600)  # worst case: a new connection per request
    if kind == "network":
        units = max(gib_per_hour / 1.0, new_per_second / 800)
        return [c.line(r, "NLB hours", c.hours, "elb.nlb_hour"),
                c.line(r, f"NLCU: max({gib_per_hour:.3f} GB/h, {new_per_second:.1f} new flows/s / 800)",
                       units * c.hours, "elb.nlcu_hour", unit="NLCU-hour")]
    if kind == "application":
        units = max(gib_per_hour / 1.0, new_per_second / 25)
        return [c.line(r, "ALB hours", c.hours, "elb.alb_hour"),
                c.line(r, f"LCU: max({gib_per_hour:.3f} GB/h, {new_per_second:.1f} new conns/s / 25)",
                       units * c.hours, "elb.lcu_hour", unit="LCU-hour")]
    raise UnpricedOptionError(f"{r.stack}/{r.logical_id}: load balancer type {kind}")


# --- data ------------------------------------------------------------------------------------------------------

def db_cluster(r: Resource, c: Context) -> list[Line]:
    engine = str(r.properties.get("Engine", ""))
    if not engine.startswith("aurora"):
        raise UnpricedOptionError(f"{r.stack}/{r.logical_id}: Multi-AZ DB cluster engine {engine}")
    if r.properties.get("StorageType", "aurora") != "aurora":
        raise UnpricedOptionError(f"{r.stack}/{r.logical_id}: storage type {r.properties['StorageType']}")
    n = c.count("AWS::RDS::DBCluster")
    return [c.line(r, "Aurora storage (usage.stored_gib_database)", c.usage.stored_gib_database / n,
                   "aurora.storage_gb_month"),
            c.line(r, "Aurora I/O (usage.database_io_requests_per_month)",
                   c.usage.database_io_requests_per_month / n / 1e6, "aurora.io_million")]


def db_instance(r: Resource, c: Context) -> list[Line]:
    p = r.properties
    klass = p.get("DBInstanceClass")
    if klass == "db.serverless":
        cluster_id = ref_target(p.get("DBClusterIdentifier"))
        if cluster_id is None:
            raise UnpricedOptionError(f"{r.stack}/{r.logical_id}: serverless instance outside this stack's cluster")
        cluster = c.find(r.stack, cluster_id)
        scaling = cluster.properties.get("ServerlessV2ScalingConfiguration", {})
        floor, ceiling = float(scaling.get("MinCapacity", 0.5)), float(scaling.get("MaxCapacity", 1))
        extra = c.usage.database_acu_hours_above_min
        hours, label = float(c.hours), f"Aurora Serverless v2 floor: {floor:g} ACU min x {c.hours} h"
        pauses = floor == 0 and pause_blockers(cluster, c) == [] and "auto_pause" not in c.without
        if floor == 0:
            # Paused, an instance bills nothing; running, 0.5 ACU at least. It can pause only while no client is
            # connected, which the templates show for the hours no node runs (no pod, so no connection).
            hours = c.hours * c.awake_fraction() if pauses else float(c.hours)
            floor = AURORA_ACTIVE_MIN_ACU
            label = (f"Aurora Serverless v2 running floor: {floor:g} ACU x {hours:,.1f} h "
                     + ("(paused when no node runs: SecondsUntilAutoPause "
                        f"{scaling.get('SecondsUntilAutoPause')} s)" if pauses else
                        "(minimum 0 but nothing shows it pausing: priced as never paused)"))
        # Readers in promotion tier 0-1 scale with the writer, so each instance carries the same ACU-hours.
        return [c.line(r, label, floor * hours, "aurora.serverless_v2_acu_hour", min_acu=float(
                    scaling.get("MinCapacity", 0.5)), max_acu=ceiling, role="floor", pauses=pauses,
                    running_hours=hours),
                c.line(r, "Aurora Serverless v2 above the floor (usage.database_acu_hours_above_min)", extra,
                       "aurora.serverless_v2_acu_hour", min_acu=floor, max_acu=ceiling, role="above-floor")]
    engine = str(p.get("Engine", ""))
    if engine.startswith("aurora"):
        return [c.line(r, f"Aurora instance {klass}", c.hours, f"aurora.{engine}.{klass}")]
    if engine != "postgres":
        raise UnpricedOptionError(f"{r.stack}/{r.logical_id}: engine {engine}")
    multi_az = str(p.get("MultiAZ", "false")).lower() == "true"
    copies = 2 if multi_az else 1
    storage_type = p.get("StorageType", "gp2")
    if storage_type not in ("gp2", "gp3"):
        raise UnpricedOptionError(f"{r.stack}/{r.logical_id}: storage type {storage_type}")
    gib = float(p.get("AllocatedStorage", 20))
    az = "Multi-AZ" if multi_az else "Single-AZ"
    return [c.line(r, f"RDS PostgreSQL {klass} {az}", c.hours, f"rds.postgres.{klass}", scale=copies,
                   unit=f"instance-hour ({az})"),
            c.line(r, f"RDS storage {gib:g} GiB {storage_type} {az}", gib, f"rds.storage_{storage_type}_gb_month",
                   scale=copies, unit=f"GB-month ({az})")]


def pause_blockers(cluster: Resource, c: Context) -> list[str]:
    """Why an Aurora cluster at 0 ACU minimum would not pause, as far as the templates tell; empty: it can."""
    scaling = cluster.properties.get("ServerlessV2ScalingConfiguration", {})
    out = []
    if "SecondsUntilAutoPause" not in scaling:
        out.append("no SecondsUntilAutoPause in its ServerlessV2ScalingConfiguration")
    blockers = [x for x in c.resources if x.type in _NO_PAUSE_WITH]
    if blockers:
        out.append(f"{blockers[0].type} {blockers[0].logical_id} keeps it from pausing")
    if cluster.properties.get("GlobalClusterIdentifier"):
        out.append("it is part of a global database")
    for group in c.of_type("AWS::RDS::DBClusterParameterGroup"):
        if ref_target(cluster.properties.get("DBClusterParameterGroupName")) == group.logical_id and str(
                group.properties.get("Parameters", {}).get("rds.logical_replication", "0")) == "1":
            out.append("logical replication is on (rds.logical_replication=1)")
    return out


def _gsi_count(r: Resource) -> int:
    return len(r.properties.get("GlobalSecondaryIndexes", []))


def dynamodb_table(r: Resource, c: Context) -> list[Line]:
    p = r.properties
    n = c.count("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable")
    replicas = len(p.get("Replicas", [])) or 1
    if p.get("TableClass", "STANDARD") != "STANDARD":
        raise UnpricedOptionError(f"{r.stack}/{r.logical_id}: table class {p['TableClass']}")
    pitr = p.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is True or any(
        rep.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is True
        for rep in p.get("Replicas", []))
    gib = c.usage.stored_gib_dynamodb / n * replicas
    lines = []
    mode = p.get("BillingMode", "PROVISIONED")
    if mode == "PAY_PER_REQUEST":
        amplification = 1 + c.prices.factor("dynamodb_gsi_write_share") * _gsi_count(r)
        writes = c.usage.dynamodb_write_units_per_month / n * amplification * replicas / 1e6
        reads = c.usage.dynamodb_read_units_per_month / n / 1e6
        lines += [c.line(r, f"on-demand writes (usage / {n} tables x {amplification:g} GSI amplification"
                            f"{f' x {replicas} replicas' if replicas > 1 else ''})", writes,
                         "dynamodb.ondemand_write_million", mode="on-demand"),
                  c.line(r, f"on-demand reads (usage / {n} tables)", reads, "dynamodb.ondemand_read_million",
                         mode="on-demand")]
    elif mode == "PROVISIONED":
        if r.type == "AWS::DynamoDB::GlobalTable":
            raise UnpricedOptionError(f"{r.stack}/{r.logical_id}: provisioned global table")
        rcu = int(p.get("ProvisionedThroughput", {}).get("ReadCapacityUnits", 0))
        wcu = int(p.get("ProvisionedThroughput", {}).get("WriteCapacityUnits", 0))
        for gsi in p.get("GlobalSecondaryIndexes", []):
            rcu += int(gsi.get("ProvisionedThroughput", {}).get("ReadCapacityUnits", 0))
            wcu += int(gsi.get("ProvisionedThroughput", {}).get("WriteCapacityUnits", 0))
        lines += [c.line(r, f"provisioned {wcu} WCU (table + GSIs)", wcu * c.hours, "dynamodb.wcu_hour",
                         mode="provisioned"),
                  c.line(r, f"provisioned {rcu} RCU (table + GSIs)", rcu * c.hours, "dynamodb.rcu_hour",
                         mode="provisioned")]
    else:
        raise UnpricedOptionError(f"{r.stack}/{r.logical_id}: billing mode {mode}")
    lines.append(c.line(r, f"storage (usage.stored_gib_dynamodb / {n} tables)", gib, "dynamodb.storage_gb_month"))
    if pitr:
        lines.append(c.line(r, "point-in-time recovery", gib, "dynamodb.pitr_gb_month"))
    return lines


def secret(r: Resource, c: Context) -> list[Line]:
    return [c.line(r, "secret", 1, "secretsmanager.secret_month")]


def kms_key(r: Resource, c: Context) -> list[Line]:
    return [c.line(r, "customer managed key", 1, "kms.key_month")]


def user_pool(r: Resource, c: Context) -> list[Line]:
    tier = "plus" if "user_pool_tier" in c.without else str(r.properties.get("UserPoolTier", "ESSENTIALS")).lower()
    n = c.count("AWS::Cognito::UserPool")
    return [c.line(r, f"Cognito {tier} MAUs (usage.monthly_active_users)", c.usage.monthly_active_users / n,
                   f"cognito.mau_{tier}")]


def s3_bucket(r: Resource, c: Context) -> list[Line]:
    if r.properties.get("IntelligentTieringConfigurations") or r.properties.get("AccelerateConfiguration"):
        raise UnpricedOptionError(f"{r.stack}/{r.logical_id}: S3 option with its own charge")
    n = c.count("AWS::S3::Bucket")
    return [c.line(r, f"S3 Standard storage (usage.s3_stored_gib / {n} buckets)", c.usage.s3_stored_gib / n,
                   "s3.standard_gb_month")]


def ssm_parameter(r: Resource, c: Context) -> list[Line]:
    if r.properties.get("Tier") == "Advanced":
        return [c.line(r, "advanced parameter", 1, "ssm.advanced_parameter_month")]
    return [c.zero(r, "standard parameter: no charge")]


# --- messaging -------------------------------------------------------------------------------------------------

def _dlq_ids(c: Context) -> set[tuple[str, str]]:
    out = set()
    for q in c.of_type("AWS::SQS::Queue"):
        target = ref_target(q.properties.get("RedrivePolicy", {}).get("deadLetterTargetArn"))
        if target:
            out.add((q.stack, target))
    return out


def _domain_topics(c: Context) -> list[Resource]:
    return [t for t in c.of_type("AWS::SNS::Topic") if t.logical_id.startswith(_DOMAIN_TOPIC_IDS)]


def _notification_emails(c: Context) -> float:
    return c.usage.orders_per_month * c.prices.factor("notification_emails_per_order")


def _ses_events(c: Context) -> float:
    return _notification_emails(c) * c.prices.factor("ses_feedback_events_per_email")


def _from_ses(subscription: Resource) -> bool:
    return str(ref_target(subscription.properties.get("TopicArn")) or "").startswith(_SES_TOPIC_IDS)


def sqs_queue(r: Resource, c: Context) -> list[Line]:
    if str(r.properties.get("FifoQueue", "false")).lower() == "true":
        raise UnpricedOptionError(f"{r.stack}/{r.logical_id}: FIFO queue")
    if (r.stack, r.logical_id) in _dlq_ids(c):
        return [c.zero(r, "dead-letter queue: no traffic expected")]
    per_topic = c.usage.events_per_month / max(1, len(_domain_topics(c)))
    subs = [s for s in c.of_type("AWS::SNS::Subscription")
            if s.properties.get("Protocol") == "sqs" and ref_target(s.properties.get("Endpoint")) == r.logical_id]
    if subs and all(_from_ses(s) for s in subs):
        messages = _ses_events(c) * len(subs)
        source = "SES bounces and complaints: emails sent x factors.ses_feedback_events_per_email"
    elif subs:
        # Upper bound: every event of a subscribed topic is delivered (filter policies not applied).
        messages = per_topic * len(subs)
        source = f"{len(subs)} subscription(s) x usage.events_per_month / {len(_domain_topics(c))} topics"
    else:
        messages = c.usage.orders_per_month * 2
        source = "command queue: 2 commands per order (usage.orders_per_month)"
    per_message = c.prices.factor("sqs_requests_per_message")
    # The consumer polls only while its pod runs.
    awake = c.awake_fraction()
    polls = c.hours * awake * 3600 / c.prices.factor("sqs_long_poll_seconds")
    note = f" ({awake:.1%} of hours with nodes)" if awake < 1 else ""
    return [c.line(r, f"requests: {messages:,.0f} messages x {per_message:g} ({source})",
                   messages * per_message / 1e6, "sqs.standard_million"),
            c.line(r, f"requests: idle long polling by one consumer{note}", polls / 1e6, "sqs.standard_million")]


def sns_topic(r: Resource, c: Context) -> list[Line]:
    domain = _domain_topics(c)
    if r.logical_id.startswith(_SES_TOPIC_IDS):
        return [c.line(r, "publishes by SES: bounces and complaints (emails sent x "
                          "factors.ses_feedback_events_per_email)", _ses_events(c) / 1e6, "sns.publish_million")]
    if r in domain:
        return [c.line(r, f"publishes (usage.events_per_month / {len(domain)} domain topics)",
                       c.usage.events_per_month / len(domain) / 1e6, "sns.publish_million")]
    notifications = c.prices.factor("alarm_notifications_per_month")
    return [c.line(r, f"publishes: {notifications:g} notifications (factors.alarm_notifications_per_month)",
                   notifications / 1e6, "sns.publish_million")]


def sns_subscription(r: Resource, c: Context) -> list[Line]:
    protocol = r.properties.get("Protocol")
    if protocol in ("sqs", "lambda"):
        return [c.zero(r, f"delivery to {protocol}: no SNS charge")]
    if protocol == "email":
        n = c.prices.factor("alarm_notifications_per_month")
        return [c.line(r, f"email notifications: {n:g}", n / 1e5, "sns.email_100k")]
    raise UnpricedOptionError(f"{r.stack}/{r.logical_id}: SNS protocol {protocol}")


def ses_configuration_set(r: Resource, c: Context) -> list[Line]:
    """The notifications' configuration set carries their sends; Cognito's (the one a user pool names) carries the
    sign-up and recovery codes, a few per new user."""
    cognito = any(ref_target(p.properties.get("EmailConfiguration", {}).get("ConfigurationSet")) == r.logical_id
                  for p in c.of_type("AWS::Cognito::UserPool"))
    if cognito:
        return [c.zero(r, "Cognito's codes: a few per sign-up (< $0.10 a month at these volumes)")]
    emails = _notification_emails(c)
    return [c.line(r, f"emails sent: {emails:,.0f} (usage.orders_per_month x factors.notification_emails_per_order)",
                   emails / 1e3, "ses.email_thousand")]


# --- edge ------------------------------------------------------------------------------------------------------

def api_stage(r: Resource, c: Context) -> list[Line]:
    if r.properties.get("CacheClusterEnabled") is True:
        raise UnpricedOptionError(f"{r.stack}/{r.logical_id}: API cache cluster")
    n = c.count("AWS::ApiGateway::Stage")
    requests = c.usage.api_requests_per_month / n
    lines = [c.line(r, f"REST API requests (usage.api_requests_per_month / {n} stages)", requests / 1e6,
                    "apigw.rest_million")]
    if r.properties.get("TracingEnabled") is True:
        ratio = c.prices.factor("xray_sampling_ratio")
        lines.append(c.line(r, f"X-Ray traces recorded: {ratio:.0%} of requests", requests * ratio / 1e6,
                            "xray.traces_million"))
    return lines


_WAF_EXTRA_FEE_GROUPS = ("AWSManagedRulesBotControlRuleSet", "AWSManagedRulesATPRuleSet",
                         "AWSManagedRulesACFPRuleSet", "AWSManagedRulesAntiDDoSRuleSet")


def web_acl(r: Resource, c: Context) -> list[Line]:
    """A regional web ACL inspects the API's requests; CloudFront's, the storefront's (priced at the same rates:
    WAF's are the same in us-east-1, where CloudFront's ACLs live)."""
    rules = r.properties.get("Rules", [])
    for rule in rules:
        name = rule.get("Statement", {}).get("ManagedRuleGroupStatement", {}).get("Name")
        if name in _WAF_EXTRA_FEE_GROUPS:
            raise UnpricedOptionError(f"{r.stack}/{r.logical_id}: managed rule group {name} has its own fee")
    lines = [c.line(r, "web ACL", 1, "waf.web_acl_month"),
             c.line(r, f"rules: {len(rules)}", len(rules), "waf.rule_month")]
    if r.properties.get("Scope") == "CLOUDFRONT":
        return [*lines, c.line(r, "storefront requests inspected (usage.web_page_views_per_month x "
                                  "factors.web_requests_per_page_view)", _web_requests(c) / 1e6,
                               "waf.requests_million")]
    n = len([a for a in c.of_type("AWS::WAFv2::WebACL") if a.properties.get("Scope") != "CLOUDFRONT"])
    return [*lines, c.line(r, f"requests inspected (usage.api_requests_per_month / {n} ACLs)",
                           c.usage.api_requests_per_month / n / 1e6, "waf.requests_million")]


# --- storefront ------------------------------------------------------------------------------------------------

def _web_requests(c: Context) -> float:
    return c.usage.web_page_views_per_month * c.prices.factor("web_requests_per_page_view")


def cloudfront_distribution(r: Resource, c: Context) -> list[Line]:
    """What it sends to viewers (usage.web_kib_per_page_view per load), its HTTPS requests, and the requests that
    reach the bucket (the pages CloudFront never caches; origin fetches from S3 carry no transfer charge)."""
    config = r.properties.get("DistributionConfig", {})
    if config.get("ViewerCertificate", {}).get("SslSupportMethod") == "vip":
        raise UnpricedOptionError(f"{r.stack}/{r.logical_id}: dedicated IP custom SSL ($600 a month)")
    if config.get("OriginGroups") or any(o.get("OriginShield", {}).get("Enabled")
                                          for o in config.get("Origins", [])):
        raise UnpricedOptionError(f"{r.stack}/{r.logical_id}: origin groups or Origin Shield")
    if config.get("PriceClass") not in ("PriceClass_100", None):
        raise UnpricedOptionError(f"{r.stack}/{r.logical_id}: {config.get('PriceClass')} reaches edges priced "
                                  "above the table's United States and Europe rates")
    views = c.usage.web_page_views_per_month
    gib = views * c.usage.web_kib_per_page_view / 1024 / 1024
    origin = views * c.prices.factor("web_origin_requests_per_page_view")
    return [c.line(r, "data to viewers (usage.web_page_views_per_month x usage.web_kib_per_page_view)", gib,
                   "cloudfront.data_transfer_gb"),
            c.line(r, "HTTPS requests (x factors.web_requests_per_page_view)", _web_requests(c) / 1e4,
                   "cloudfront.https_10k"),
            c.line(r, "S3 GET requests of the uncached pages (x factors.web_origin_requests_per_page_view)",
                   origin / 1e3, "s3.get_thousand")]


def cloudfront_function(r: Resource, c: Context) -> list[Line]:
    """Runs on the default behavior's requests: the pages (the hashed assets have a behavior of their own)."""
    invocations = c.usage.web_page_views_per_month * c.prices.factor("web_origin_requests_per_page_view")
    return [c.line(r, "invocations (x factors.web_origin_requests_per_page_view)", invocations / 1e6,
                   "cloudfront.function_million")]


# --- observability ---------------------------------------------------------------------------------------------

def log_group_weight(r: Resource) -> float:
    """Share of the environment's log volume a log group receives (relative weights, documented in docs/cost.md)."""
    name = str(r.properties.get("LogGroupName", "")) + " " + r.logical_id
    lowered = name.lower()
    if "containerinsights" in lowered or "application" in lowered:
        return 8.0
    if "flowlog" in lowered:
        return 4.0
    if "/aws/eks/" in lowered or "controlplane" in lowered:
        return 4.0
    if "waf" in lowered or "access" in lowered:
        return 2.0
    # Functions that run only at deploy: providers, and the storefront's copier, key reader and cross-region writer.
    if "lambda" in lowered or "provider" in lowered or any(
            marker in lowered for marker in ("deploymentloggroup", "apikeyvalueloggroup", "exportsloggroup")):
        return 0.05
    return 1.0


def log_group(r: Resource, c: Context) -> list[Line]:
    if r.properties.get("LogGroupClass", "STANDARD") != "STANDARD":
        raise UnpricedOptionError(f"{r.stack}/{r.logical_id}: log class {r.properties['LogGroupClass']}")
    share = c.log_share(r)
    ingested = c.usage.log_ingested_gib * share
    retention = r.properties.get("RetentionInDays")
    days = float(retention) if retention else c.prices.factor("never_expire_horizon_days")
    ratio = c.prices.factor("log_storage_compression")
    stored = ingested * days / (365 / 12) * ratio
    label = f"{int(days)} d retention" if retention else "never expires (priced at the 2-year volume)"
    return [c.line(r, f"ingestion: {share:.1%} of usage.log_ingested_gib", ingested, "logs.ingest_gb",
                   share=share),
            c.line(r, f"storage: {label}, {ratio:g} compression", stored, "logs.storage_gb_month",
                   retention_days=retention, ingested_gib=ingested)]


def metric_filter(r: Resource, c: Context) -> list[Line]:
    n = len(r.properties.get("MetricTransformations", [])) or 1
    return [c.line(r, f"custom metrics from a metric filter: {n}", n, "cloudwatch.metric_month")]


def alarm(r: Resource, c: Context) -> list[Line]:
    metrics = r.properties.get("Metrics")
    count = sum(1 for m in metrics if "MetricStat" in m) if metrics else 1
    periods = [m["MetricStat"].get("Period", 60) for m in metrics or [] if "MetricStat" in m]
    period = min(periods) if periods else r.properties.get("Period", 60)
    if r.properties.get("ThresholdMetricId"):
        raise UnpricedOptionError(f"{r.stack}/{r.logical_id}: anomaly detection alarm")
    key = "cloudwatch.alarm_high_res_month" if int(period) < 60 else "cloudwatch.alarm_standard_month"
    return [c.line(r, f"alarm over {count} metric(s)", count, key)]


def composite_alarm(r: Resource, c: Context) -> list[Line]:
    return [c.line(r, "composite alarm", 1, "cloudwatch.composite_alarm_month")]


def dashboard(r: Resource, c: Context) -> list[Line]:
    return [c.line(r, "dashboard", 1, "cloudwatch.dashboard_month")]


RULES: dict[str, Rule] = {
    "AWS::EKS::Cluster": eks_cluster,
    "AWS::EKS::Nodegroup": eks_nodegroup,
    "AWS::Lambda::Function": lambda_function,
    "AWS::EC2::NatGateway": nat_gateway,
    "AWS::EC2::EIP": eip,
    "AWS::EC2::VPCEndpoint": vpc_endpoint,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": load_balancer,
    "AWS::RDS::DBCluster": db_cluster,
    "AWS::RDS::DBInstance": db_instance,
    "AWS::DynamoDB::Table": dynamodb_table,
    "AWS::DynamoDB::GlobalTable": dynamodb_table,
    "AWS::SecretsManager::Secret": secret,
    "AWS::KMS::Key": kms_key,
    "AWS::Cognito::UserPool": user_pool,
    "AWS::S3::Bucket": s3_bucket,
    "AWS::SSM::Parameter": ssm_parameter,
    "AWS::SQS::Queue": sqs_queue,
    "AWS::SNS::Topic": sns_topic,
    "AWS::SNS::Subscription": sns_subscription,
    "AWS::SES::ConfigurationSet": ses_configuration_set,
    "AWS::ApiGateway::Stage": api_stage,
    "AWS::WAFv2::WebACL": web_acl,
    "AWS::CloudFront::Distribution": cloudfront_distribution,
    "AWS::CloudFront::Function": cloudfront_function,
    "AWS::Logs::LogGroup": log_group,
    "AWS::Logs::MetricFilter": metric_filter,
    "AWS::CloudWatch::Alarm": alarm,
    "AWS::CloudWatch::CompositeAlarm": composite_alarm,
    "AWS::CloudWatch::Dashboard": dashboard,
    "AWS::Synthetics::Canary": synthetics_canary,
    "AWS::FIS::ExperimentTemplate": fis_experiment_template,
}


def unpriced_types(types: set[str]) -> list[str]:
    """Types with neither a rule nor a free listing."""
    return sorted(t for t in types if t not in RULES and free_reason(t) is None)


def price_resources(resources: list[Resource], usage: UsageAssumptions, prices: PriceTable,
                    without: frozenset[str] = frozenset(), load: float = 1.0) -> tuple[list[Line], dict[str, int]]:
    """Priced lines for every billable resource and a count of free resources by type; ``without`` prices the
    same resources as if the named strategies (:data:`STRATEGIES`) were not there; ``load`` is the work relative to
    ``usage`` that autoscaled node groups are sized for (``usage`` itself is scaled by the caller)."""
    missing = unpriced_types({r.type for r in resources})
    if missing:
        raise UnpricedResourceError(
            f"no pricing rule and no free listing for: {', '.join(missing)} (add one in tools/reports/cost/rules.py)")
    try:
        context = Context(resources, usage, prices, without, load)
    except evidence.UnreadableEvidenceError as err:
        raise UnpricedOptionError(str(err)) from None
    lines: list[Line] = []
    free: dict[str, int] = {}
    for r in resources:
        rule = RULES.get(r.type)
        if rule is None:
            free[r.type] = free.get(r.type, 0) + 1
            continue
        lines.extend(rule(r, context))
    for line in lines:
        if not math.isfinite(line.monthly_usd) or line.monthly_usd < 0:
            raise ValueError(f"bad figure for {line.stack}/{line.logical_id}: {line.item}")
    return lines, free
