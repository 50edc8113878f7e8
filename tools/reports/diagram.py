"""`python -m tools.reports.diagram ENV`: the architecture diagram of a synthesized environment (PNG, SVG and DOT).

Everything drawn is read from the cloud assembly's templates (VPC, subnets, NATs, endpoints, cluster and node groups,
stores, topics, queues, subscriptions and their filters, API Gateway, WAF, VPC link, NLB listeners, alarms,
dashboards, log groups; the storefront's CloudFront distribution, its bucket and its us-east-1 web ACL) and matched
to the logical names of config/topology.py. Nothing is drawn by hand: a resource that is not in the templates is not
in the picture.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.faults import EXPERIMENT_KINDS
from config.topology import LISTENER_PORTS, QUEUES, SERVICES, TABLES, TOPICS, Service
from tools.assembly import Resource
from tools.reports.cost.report import read_assembly
from tools.reports.cost.rules import ref_target


@dataclass
class Architecture:
    name: str
    vpc_cidr: str = ""
    subnets: dict[str, list[str]] = field(default_factory=dict)  # tier -> AZs
    nat_gateways: int = 0
    endpoints: list[str] = field(default_factory=list)
    cluster: str = ""
    node_groups: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    stores: dict[str, list[str]] = field(default_factory=dict)  # service -> store labels
    topics: list[str] = field(default_factory=list)
    queues: dict[str, bool] = field(default_factory=dict)  # queue name -> has DLQ
    subscriptions: list[tuple[str, str, str]] = field(default_factory=list)  # topic, queue, filter
    api: str = ""
    waf: bool = False  # the API's (regional)
    storefront: str = ""  # the distribution's domain names
    storefront_waf: bool = False  # CloudFront's web ACL (us-east-1)
    site_bucket: bool = False
    vpc_link: bool = False
    listeners: dict[str, int] = field(default_factory=dict)  # service -> port
    user_pool: bool = False
    alarms: int = 0
    dashboards: int = 0
    log_groups: int = 0
    other_topics: list[str] = field(default_factory=list)
    canaries: list[str] = field(default_factory=list)  # name (schedule)
    experiments: list[str] = field(default_factory=list)  # fault experiment names (FIS templates)
    objectives_paged: int = 0  # composite burn-rate pages of the service level objectives



def physical_name(value: Any, logical_id: str) -> str:
    """A name as the template gives it: literal, or ``<prefix>-<stack creation id>`` (a ``Fn::Join`` of a literal
    prefix and the stack id's first block, cdk_constructs/replaceable_name.py) shown as ``prefix-<stack id>``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(p if isinstance(p, str) else "<stack id>" for p in parts)
    return logical_id

def _topology_name(logical_id: str, candidates: dict[str, str]) -> str | None:
    """The topology name whose construct id the logical id starts with (longest match wins)."""
    best = None
    for construct_id, name in candidates.items():
        if logical_id.startswith(construct_id) and (best is None or len(construct_id) > len(best[0])):
            best = (construct_id, name)
    return best[1] if best else None


def architecture(name: str, resources: list[Resource]) -> Architecture:
    a = Architecture(name=name, services=[s.value for s in SERVICES])
    topic_ids = {t.construct_id: t.name for t in TOPICS}
    queue_ids = {q.construct_id: q.name for q in QUEUES}
    table_ids = {t.construct_id: t.service.value for t in TABLES}
    by_id = {(r.stack, r.logical_id): r for r in resources}
    topic_of: dict[str, str] = {}
    queue_of: dict[str, str] = {}
    for r in resources:
        p = r.properties
        if r.type == "AWS::EC2::VPC":
            a.vpc_cidr = str(p.get("CidrBlock", ""))
        elif r.type == "AWS::EC2::Subnet":
            tags = {t["Key"]: t["Value"] for t in p.get("Tags", []) if isinstance(t.get("Value"), str)}
            tier = tags.get("aws-cdk:subnet-name", "subnet")
            a.subnets.setdefault(tier, []).append(str(p.get("AvailabilityZone", "?")))
        elif r.type == "AWS::EC2::NatGateway":
            a.nat_gateways += 1
        elif r.type == "AWS::EC2::VPCEndpoint":
            service = p.get("ServiceName")
            label = service.split(".", 3)[-1] if isinstance(service, str) else (
                "s3" if "S3" in r.logical_id else "dynamodb" if "Dynamo" in r.logical_id else r.logical_id)
            a.endpoints.append(f"{label} ({p.get('VpcEndpointType', 'Gateway').lower()})")
        elif r.type == "AWS::EKS::Cluster":
            a.cluster = physical_name(p.get("Name"), r.logical_id)
        elif r.type == "AWS::EKS::Nodegroup":
            size = p.get("ScalingConfig", {})
            types = "/".join(p.get("InstanceTypes", ["t3.medium"]))
            a.node_groups.append(f"{types} {p.get('CapacityType', 'ON_DEMAND')}"
                                 f" {size.get('MinSize', '?')}-{size.get('MaxSize', '?')}")
        elif r.type in ("AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table"):
            service = _topology_name(r.logical_id, table_ids)
            mode = p.get("BillingMode", "PROVISIONED").lower().replace("pay_per_request", "on-demand")
            construct = next((c for c, s in table_ids.items() if s == service), r.logical_id)
            a.stores.setdefault(service or "unassigned", []).append(f"DynamoDB {construct} ({mode})")
        elif r.type == "AWS::RDS::DBCluster":
            scaling = p.get("ServerlessV2ScalingConfiguration", {})
            a.stores.setdefault("orders", []).append(
                f"Aurora {p.get('Engine', '')} {physical_name(p.get('DBClusterIdentifier'), r.logical_id)} "
                f"({scaling.get('MinCapacity', '?')}-{scaling.get('MaxCapacity', '?')} ACU)")
        elif r.type == "AWS::RDS::DBInstance" and "DBClusterIdentifier" not in p:
            owner = next((s.value for s in SERVICES if r.logical_id.lower().startswith(s.value)), "unassigned")
            multi = " Multi-AZ" if str(p.get("MultiAZ", "")).lower() == "true" else ""
            a.stores.setdefault(owner, []).append(f"RDS {p.get('Engine', '')} {p.get('DBInstanceClass', '')}{multi}")
        elif r.type == "AWS::SNS::Topic":
            topic = _topology_name(r.logical_id, topic_ids)
            if topic:
                a.topics.append(topic)
                topic_of[r.logical_id] = topic
            else:
                a.other_topics.append(r.logical_id)
        elif r.type == "AWS::SQS::Queue":
            queue = _topology_name(r.logical_id, queue_ids)
            if queue and "DeadLetter" not in r.logical_id:
                a.queues[queue] = "RedrivePolicy" in p
                queue_of[r.logical_id] = queue
        elif r.type == "AWS::ApiGateway::RestApi":
            a.api = f"{r.stack} {p.get('Name', r.logical_id)}"
        elif r.type == "AWS::WAFv2::WebACL" and p.get("Scope") == "CLOUDFRONT":
            a.storefront_waf = True
        elif r.type == "AWS::WAFv2::WebACL":
            a.waf = True
        elif r.type == "AWS::CloudFront::Distribution":
            a.storefront = ", ".join(p.get("DistributionConfig", {}).get("Aliases", [])) or r.logical_id
        elif r.type == "AWS::S3::Bucket" and "SiteBucket" in r.logical_id:
            a.site_bucket = True
        elif r.type == "AWS::ApiGateway::VpcLink":
            a.vpc_link = True
        elif r.type == "AWS::ElasticLoadBalancingV2::Listener":
            port = p.get("Port")
            for service_, listener_port in LISTENER_PORTS.items():
                if port == listener_port:
                    a.listeners[service_.value] = listener_port
        elif r.type == "AWS::Cognito::UserPool":
            a.user_pool = True
        elif r.type in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"):
            a.alarms += 1
            if r.type == "AWS::CloudWatch::CompositeAlarm" and "-burn-Critical" in str(p.get("AlarmName", "")):
                a.objectives_paged += 1
        elif r.type == "AWS::Synthetics::Canary":
            a.canaries.append(f"{p.get('Name', r.logical_id)} ({p.get('Schedule', {}).get('Expression', '')})")
        elif r.type == "AWS::FIS::ExperimentTemplate":
            a.experiments.append(str(p.get("Tags", {}).get("experiment", r.logical_id)))
        elif r.type == "AWS::CloudWatch::Dashboard":
            a.dashboards += 1
        elif r.type == "AWS::Logs::LogGroup":
            a.log_groups += 1
    for r in resources:
        if r.type == "AWS::SNS::Subscription" and r.properties.get("Protocol") == "sqs":
            topic_ref, queue_ref = ref_target(r.properties.get("TopicArn")), ref_target(r.properties.get("Endpoint"))
            topic, queue = topic_of.get(topic_ref or ""), queue_of.get(queue_ref or "")
            if topic and queue:
                policy = r.properties.get("FilterPolicy", {})
                flt = ", ".join(v for values in policy.values() if isinstance(values, list) for v in values
                                if isinstance(v, str))
                a.subscriptions.append((topic, queue, flt))
    del by_id
    return a


def render(a: Architecture, outdir: Path) -> list[Path]:
    """Draws the architecture with AWS icons; returns the files written (PNG, SVG and the DOT source)."""
    from diagrams import Cluster, Diagram, Edge
    from diagrams.aws.compute import EKS
    from diagrams.aws.database import RDS, Aurora, Dynamodb
    from diagrams.aws.general import Client
    from diagrams.aws.integration import SNS, SQS
    from diagrams.aws.management import Cloudwatch, CloudwatchAlarm, CloudwatchLogs
    from diagrams.aws.network import NLB, APIGateway, CloudFront, Endpoint, NATGateway, PrivateSubnet, PublicSubnet
    from diagrams.aws.security import WAF, Cognito
    from diagrams.aws.storage import S3
    from diagrams.k8s.compute import Deploy

    outdir.mkdir(parents=True, exist_ok=True)
    base = outdir / "architecture"
    graph = {"fontsize": "20", "pad": "0.5", "splines": "spline", "nodesep": "0.4", "ranksep": "1.0"}
    with Diagram(f"{a.name}: e-commerce platform", filename=str(base), outformat=["png", "svg", "dot"],
                 show=False, direction="LR", graph_attr=graph):
        client = Client("clients")
        edge_nodes: list[Any] = []
        with Cluster("Edge"):
            api = APIGateway(f"API Gateway REST\n{a.api}") if a.api else None
            waf = WAF("WAF web ACL") if a.waf else None
            pool = Cognito("Cognito user pool") if a.user_pool else None
            edge_nodes = [n for n in (waf, api, pool) if n is not None]
        if waf is not None and api is not None:
            client >> waf >> api
        elif api is not None:
            client >> api
        if pool is not None and api is not None:
            api >> Edge(style="dashed", label="authorizer") >> pool
        del edge_nodes
        if a.storefront:
            with Cluster("Storefront (web/)"):
                shield = WAF("CloudFront web ACL\n(us-east-1)") if a.storefront_waf else None
                cdn = CloudFront(f"CloudFront\n{a.storefront}")
                bucket = S3("site bucket\n(Origin Access Control)") if a.site_bucket else None
            (client >> Edge(label="pages") >> shield >> cdn) if shield is not None else (client >> cdn)
            if bucket is not None:
                cdn >> bucket
        service_nodes: dict[str, Any] = {}
        with Cluster(f"VPC {a.vpc_cidr}"):
            with Cluster(f"public subnets ({', '.join(sorted(a.subnets.get('Public', [])))})"):
                PublicSubnet("public")
                nats = [NATGateway(f"NAT gateway {i + 1}") for i in range(a.nat_gateways)]
            private_tier = next((t for t in a.subnets if t.lower().startswith("private")), "Private")
            with Cluster(f"private subnets ({', '.join(sorted(a.subnets.get(private_tier, [])))})"):
                PrivateSubnet("private")
                nlb = NLB("internal NLB\n" + ", ".join(f"{s}:{p}" for s, p in a.listeners.items())) \
                    if a.listeners else None
                with Cluster(f"EKS {a.cluster}\nnode groups: " + "; ".join(a.node_groups)):
                    EKS(a.cluster or "cluster")
                    for service in a.services:
                        service_nodes[service] = Deploy(service)
                if a.endpoints:
                    Endpoint("VPC endpoints\n" + "\n".join(a.endpoints))
            isolated = [t for t in a.subnets if t.lower().startswith("isolated")]
            rds_nodes: dict[str, list[Any]] = {}
            with Cluster(f"isolated subnets ({', '.join(sorted(a.subnets.get(isolated[0], [])))})" if isolated
                         else "database subnets"):
                for service, stores in a.stores.items():
                    for label in stores:
                        if label.startswith(("Aurora", "RDS")):
                            icon = Aurora if label.startswith("Aurora") else RDS
                            rds_nodes.setdefault(service, []).append(icon(f"{service} store\n{label}"))
        if api is not None and nlb is not None:
            link = api >> Edge(label="VPC link" if a.vpc_link else "") >> nlb
            del link
            for service in a.listeners:
                nlb >> service_nodes[service]
        for service, nodes in rds_nodes.items():
            for node in nodes:
                service_nodes.get(service, nodes[0]) >> node
        with Cluster("DynamoDB"):
            for service, stores in a.stores.items():
                for label in stores:
                    if label.startswith("DynamoDB"):
                        table = Dynamodb(f"{service} store\n{label}")
                        if service in service_nodes:
                            service_nodes[service] >> table
        topic_nodes: dict[str, Any] = {}
        queue_nodes: dict[str, Any] = {}
        with Cluster("Messaging (SNS -> SQS fan-out, DLQs)"):
            for t in a.topics:
                topic_nodes[t] = SNS(f"topic {t}")
            for q, has_dlq in a.queues.items():
                queue_nodes[q] = SQS(f"queue {q}" + ("\n+ DLQ" if has_dlq else ""))
        topology_topics = {t.name: t for t in TOPICS}
        for name, node in topic_nodes.items():
            publisher = topology_topics[name].publisher
            if publisher is not None and publisher.value in service_nodes:
                service_nodes[publisher.value] >> Edge(label="publishes") >> node
        for topic, queue, flt in a.subscriptions:
            topic_nodes[topic] >> Edge(label=flt, style="dashed") >> queue_nodes[queue]
        for spec in QUEUES:
            if spec.name not in queue_nodes:
                continue
            if spec.producer is not None and spec.producer.value in service_nodes:
                service_nodes[spec.producer.value] >> Edge(label="sends") >> queue_nodes[spec.name]
            queue_nodes[spec.name] >> Edge(label="consumes") >> service_nodes[Service(spec.consumer).value]
        with Cluster("Observability"):
            Cloudwatch(f"CloudWatch\n{a.alarms} alarms, {a.dashboards} dashboards")
            CloudwatchLogs(f"{a.log_groups} log groups")
            if a.alarms:
                CloudwatchAlarm("alarms -> " + (", ".join(a.other_topics) or "alarm topic"))
            if a.objectives_paged:
                CloudwatchAlarm(f"error budget burn pages\n{a.objectives_paged} (multi-window)")
        if a.canaries or a.experiments:
            with Cluster("Operations: synthetic customers, faults on purpose"):
                for canary in a.canaries:
                    synthetic = Client(f"Synthetics canary\n{canary}")
                    if api is not None:
                        synthetic >> Edge(label="smoke workflows") >> api
                if a.experiments:
                    kinds = [k for k in EXPERIMENT_KINDS if any(e.startswith(k) for e in a.experiments)]
                    Cloudwatch(f"FIS experiment templates: {len(a.experiments)}\n" + "\n".join(kinds))
        del nats
    return [base.with_suffix(".png"), base.with_suffix(".svg"), base.with_suffix(".dot")]


def main(argv: list[str]) -> int:
    from tools.reports.cost.synth import NAMES, synthesize

    parser = argparse.ArgumentParser(prog="python -m tools.reports.diagram", description=__doc__)
    parser.add_argument("env", nargs="?", default="dev", help=f"one of {', '.join(NAMES)}")
    parser.add_argument("--out", type=Path, default=Path("cdk.out/diagram"))
    parser.add_argument("--assembly", type=Path, help="draw this existing cloud assembly (no synth)")
    args = parser.parse_args(argv)
    if args.env not in NAMES:
        print(f"config error: env={args.env!r} is invalid; allowed: {', '.join(NAMES)}", file=sys.stderr)
        return 2
    assembly = args.assembly or synthesize(args.env, args.out / "assembly" / args.env)
    files = render(architecture(args.env, read_assembly(assembly)), args.out)
    for f in files:
        print(f"wrote {f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
