from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from cdk_monitoring_constructs import (
    CustomMetricGroup,
    ErrorCountThreshold,
    ErrorRateThreshold,
    HighConnectionCountThreshold,
    LatencyThreshold,
    ThrottledEventsThreshold,
    UsageThreshold,
)
from constructs import Construct

from cdk_constructs.alarm_topic import AlarmTopic
from cdk_constructs.orders_database import OrdersDatabase
from cdk_constructs.platform_api import STAGE_NAME, PlatformApi
from cdk_constructs.service_monitoring import SEVERITY, PlatformTelemetry, alarm_facade, custom
from cdk_constructs.service_table import ServiceTable
from cdk_constructs.web_acl import WebAcl
from config.environment import AlarmConfig, DashboardSet, DatabaseConfig, RemovalMode
from config.telemetry import METRICS_NAMESPACE, ORDERS_PAST_DEADLINE_METRIC, OUTBOX_BACKLOG_METRIC
from config.topology import ROUTES, SERVICES, Service, queues_consumed_by
from stacks.messaging_stack import MessagingStack

BELOW = cw.ComparisonOperator.LESS_THAN_THRESHOLD
MIB = 1024 * 1024


class ObservabilityStack(cdk.Stack):
    """Stateless: the alarm topic every alarm notifies, the alarms per shared resource (API, WAF, Aurora, DynamoDB,
    NAT gateways, cluster nodes, the SES account's reputation) with their dashboard ``<env>-platform``, and the
    overview dashboard.

    It comes before the Services stack, which takes :attr:`telemetry` (the topic among it) so that each
    Microservice's own alarms notify the same topic: Services depends on Observability, never the reverse.
    """

    def __init__(self, scope: Construct, construct_id: str, *, environment: str, alarms: AlarmConfig,
                 database: DatabaseConfig, removal: RemovalMode, vpc: ec2.IVpc, cluster: eks.ICluster,
                 api: PlatformApi, web_acl: WebAcl, orders_database: OrdersDatabase,
                 tables: dict[Service, ServiceTable], messaging: MessagingStack,
                 dashboards: DashboardSet = DashboardSet.ALL, trace_sampling_ratio: float = 1.0,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        a = alarms
        every = dashboards == DashboardSet.ALL
        self.alarm_topic = AlarmTopic(self, "AlarmTopic", emails=a.email_subscriptions, removal=removal).topic
        self.telemetry = PlatformTelemetry(environment=environment, alarm_topic=self.alarm_topic, alarms=a,
                                           api=api.api, stage_name=STAGE_NAME, dashboards=every,
                                           trace_sampling_ratio=trace_sampling_ratio)
        self.facade = alarm_facade(self, "Platform", name_prefix=f"{environment}-platform", topic=self.alarm_topic,
                                   alarms=a, dashboard=every)
        f = self.facade

        f.add_large_header(f"Shared resources ({environment})")
        f.monitor_api_gateway(
            api=api.api, api_stage=STAGE_NAME, alarm_friendly_name="api", human_readable_name="Public REST API",
            add5_xx_fault_rate_alarm={SEVERITY: ErrorRateThreshold(
                max_error_rate=a.api_5xx_rate_percent / 100,
                alarm_description_override=(
                    f"More than {a.api_5xx_rate_percent}% of all API requests end in 5XX. Check which service's "
                    f"route alarms fire too; if all do, look at the VPC Link, the NLB targets and the cluster."))},
            add4_xx_error_rate_alarm={SEVERITY: ErrorRateThreshold(
                max_error_rate=a.api_4xx_rate_percent / 100,
                alarm_description_override=(
                    f"More than {a.api_4xx_rate_percent}% of API requests are rejected with 4XX: a broken client "
                    f"release, expired API key or tokens, throttling (429) or a scan. Look at the access log "
                    f"(status, resourcePath, ip) and WAF."))},
            add_latency_p99_alarm={SEVERITY: LatencyThreshold(
                max_latency=cdk.Duration.millis(a.api_p99_latency_ms),
                alarm_description_override=(
                    f"API p99 latency above {a.api_p99_latency_ms} ms across all routes. Look at the per-route "
                    f"alarms and at X-Ray's service map for the slow service."))},
        )
        f.monitor_web_application_firewall_acl_v2(
            acl=web_acl.web_acl, region=self.region, alarm_friendly_name="waf",
            human_readable_name="API web ACL",
            add_blocked_requests_count_alarm={SEVERITY: ErrorCountThreshold(
                max_error_count=a.waf_blocked_requests_per_5_min, period=cdk.Duration.minutes(5),
                alarm_description_override=(
                    f"WAF blocked more than {a.waf_blocked_requests_per_5_min} requests in 5 minutes: an attack, "
                    f"a scan, or a rule blocking real customers. Look at the WAF log group (terminatingRuleId, "
                    f"clientIp) and sampled requests."))},
        )
        db = orders_database.cluster
        f.monitor_aurora_cluster(
            cluster=db, alarm_friendly_name="orders-db", human_readable_name="Orders Aurora PostgreSQL",
            add_cpu_usage_alarm={SEVERITY: UsageThreshold(
                max_usage_percent=a.database_cpu_percent,
                alarm_description_override=(
                    f"Orders database CPU above {a.database_cpu_percent}%. Look at Performance Insights (top SQL, "
                    f"waits) and the orders request rate."))},
            add_max_connection_count_alarm={SEVERITY: HighConnectionCountThreshold(
                max_connection_count=a.database_connections,
                alarm_description_override=(
                    f"More than {a.database_connections} connections to the orders database: pools of too many "
                    f"orders pods (HPA scale-out) or leaked connections. Compare with replicas x pool size."))},
        )

        def rds(metric: str, statistic: str) -> cw.Metric:
            return cw.Metric(namespace="AWS/RDS", metric_name=metric, statistic=statistic,
                             dimensions_map={"DBClusterIdentifier": db.cluster_identifier},
                             period=cdk.Duration.minutes(1))

        f.monitor_custom(
            alarm_friendly_name="orders-db-capacity", human_readable_name="Orders Aurora memory and capacity",
            metric_groups=[CustomMetricGroup(title="Freeable memory and ACU utilization", metrics=[
                custom(rds("FreeableMemory", "Minimum"), "freeable-memory", a.database_freeable_memory_mib * MIB,
                       f"Orders database freeable memory below {a.database_freeable_memory_mib} MiB: it swaps and "
                       f"evicts cache. Look at connections and work_mem-heavy queries; raise max ACU.", BELOW),
                custom(rds("ACUUtilization", "Maximum"), "acu-utilization", a.database_capacity_percent,
                       f"Orders database uses more than {a.database_capacity_percent}% of its maximum "
                       f"{database.max_capacity_acu} ACU: it is about to stop scaling. Raise "
                       f"database.max_capacity_acu or look at the load."),
            ])],
        )
        for service, table in tables.items():
            itable = dynamodb.Table.from_table_attributes(self, f"{service.value.capitalize()}TableRef",
                                                          table_arn=table.table.table_arn)
            what = (f"Look at the {service.value} service's request rate and hot partition keys "
                    f"(CloudWatch Contributor Insights); the table is on-demand.")
            f.monitor_dynamo_table(
                table=itable, billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                alarm_friendly_name=f"{service.value}-table", human_readable_name=f"{service.value} DynamoDB table",
                add_read_throttled_events_count_alarm={SEVERITY: ThrottledEventsThreshold(
                    max_throttled_events_threshold=0,
                    alarm_description_override=f"Reads of the {service.value} table are throttled. {what}")},
                add_write_throttled_events_count_alarm={SEVERITY: ThrottledEventsThreshold(
                    max_throttled_events_threshold=0,
                    alarm_description_override=f"Writes to the {service.value} table are throttled. {what}")},
                add_system_error_count_alarm={SEVERITY: ErrorCountThreshold(
                    max_error_count=0,
                    alarm_description_override=(
                        f"DynamoDB returned internal errors (5xx) for the {service.value} table. The service "
                        f"retries; check the AWS Health Dashboard if it persists."))},
            )
        nat_ids = [s.node.find_child("NATGateway") for s in vpc.public_subnets if s.node.try_find_child("NATGateway")]
        f.monitor_custom(
            alarm_friendly_name="nat", human_readable_name="NAT gateways",
            metric_groups=[CustomMetricGroup(title="Port allocation errors", metrics=[
                custom(cw.Metric(namespace="AWS/NATGateway", metric_name="ErrorPortAllocation", statistic="Sum",
                                 dimensions_map={"NatGatewayId": nat.ref},  # type: ignore[attr-defined]
                                 period=cdk.Duration.minutes(1)),
                       f"{i + 1}-port-allocation", 0,
                       f"NAT gateway {i + 1} could not allocate a source port: too many concurrent connections to "
                       f"one destination. Look at which pods open connections without keep-alive; add endpoints.")
                for i, nat in enumerate(nat_ids)])],
        )

        def node(metric: str) -> cw.Metric:
            return cw.Metric(namespace="ContainerInsights", metric_name=metric, statistic="Average",
                             dimensions_map={"ClusterName": cluster.cluster_name}, period=cdk.Duration.minutes(1))

        f.monitor_custom(
            alarm_friendly_name="nodes", human_readable_name="Cluster nodes (Container Insights)",
            metric_groups=[CustomMetricGroup(title="Node CPU and memory (%)", metrics=[
                custom(node("node_cpu_utilization"), "cpu", a.node_cpu_percent,
                       f"Cluster nodes average more than {a.node_cpu_percent}% CPU: pods will be starved or pending. "
                       f"Look at node group sizes (max reached?) and Spot interruptions."),
                custom(node("node_memory_utilization"), "memory", a.node_memory_percent,
                       f"Cluster nodes average more than {a.node_memory_percent}% memory: evictions follow. Look at "
                       f"pods without limits and node group max sizes."),
            ])],
        )

        def reputation(metric: str) -> cw.Metric:
            # Account-wide rates over the account's recent sending (SES keeps them; no dimension).
            return cw.Metric(namespace="AWS/SES", metric_name=metric, statistic="Maximum",
                             period=cdk.Duration.minutes(15))

        f.monitor_custom(
            alarm_friendly_name="ses", human_readable_name="SES sending reputation (account)",
            metric_groups=[CustomMetricGroup(title="Bounce and complaint rates (fraction of sent mail)", metrics=[
                custom(reputation("Reputation.BounceRate"), "bounce-rate", a.ses_bounce_rate_percent / 100,
                       f"The SES account's bounce rate is above {a.ses_bounce_rate_percent}%; SES reviews (and may "
                       f"pause) sending at 5%. Bounced addresses are suppressed by the users service; look at the "
                       f"email-events queue's consumer, at where addresses come from (sign-up typos, imports) and at "
                       f"Cognito's own mail.", missing=cw.TreatMissingData.NOT_BREACHING),
                custom(reputation("Reputation.ComplaintRate"), "complaint-rate",
                       a.ses_complaint_rate_percent / 100,
                       f"The SES account's complaint rate is above {a.ses_complaint_rate_percent}%; SES reviews "
                       f"sending at 0.1%. Complaining addresses are suppressed; look at what was sent (only order "
                       f"updates should go out, to users who kept them on).",
                       missing=cw.TreatMissingData.NOT_BREACHING),
            ])],
        )
        self.overview = self._overview(environment, api.api, cluster.cluster_name, messaging, every)
        cdk.CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic_arn)

    def _overview(self, environment: str, api: apigw.IRestApi, cluster_name: str,
                  messaging: MessagingStack, details: bool) -> cw.Dashboard:
        """Traffic, errors, latency, queue depths and outbox backlog, one line per service."""
        period = cdk.Duration.minutes(5)

        def route_metric(service: Service, metric: str, statistic: str) -> dict[str, cw.IMetric]:
            routes = [r for r in ROUTES if r.service == service]
            return {f"{service.value}{i}": cw.Metric(
                namespace="AWS/ApiGateway", metric_name=metric, statistic=statistic, period=period,
                dimensions_map={"ApiName": api.rest_api_name, "Stage": STAGE_NAME, "Resource": r.path,
                                "Method": r.method})
                for i, r in enumerate(routes)}

        def per_service(metric: str, statistic: str, combine: str) -> list[cw.IMetric]:
            """One line per service from its routes' metrics: ``sum`` adds them up, ``max`` takes the worst."""
            lines: list[cw.IMetric] = []
            for s in SERVICES:
                metrics = route_metric(s, metric, statistic)
                expression = " + ".join(metrics) if combine == "sum" else f"MAX([{', '.join(metrics)}])"
                lines.append(cw.MathExpression(expression=expression, using_metrics=metrics, label=s.value,
                                               period=period))
            return lines

        def queue_depth(service: Service, dlq: bool) -> list[cw.IMetric]:
            out: list[cw.IMetric] = []
            for q in queues_consumed_by(service):
                queue = messaging.queues[q.name]
                target = queue.dead_letter_queue if dlq else queue.queue
                out.append(target.metric_approximate_number_of_messages_visible(
                    period=period, statistic="Maximum", label=f"{q.name}{' DLQ' if dlq else ''}"))
            return out

        dashboard = cw.Dashboard(self, "Overview", dashboard_name=f"{environment}-overview",
                                 default_interval=cdk.Duration.hours(6))
        dashboard.add_widgets(cw.TextWidget(width=24, height=2, markdown=(
            f"# {environment}: platform overview\nPer service: requests, 5XX, worst route p99 through API Gateway, "
            f"queue depths and outbox backlog. Details: "
            + (f"the `{environment}-<service>` and `{environment}-platform` dashboards" if details else
               f"the alarms named `{environment}-<service>-...` and `{environment}-platform-...`")
            + f"; traces: X-Ray (cluster `{cluster_name}`).")))
        dashboard.add_widgets(
            cw.GraphWidget(title="Requests per service (5 min)", width=8,
                           left=per_service("Count", "Sum", "sum")),
            cw.GraphWidget(title="5XX per service (5 min)", width=8,
                           left=per_service("5XXError", "Sum", "sum")),
            cw.GraphWidget(title="Worst route p99 latency per service (ms)", width=8,
                           left=per_service("Latency", "p99", "max")),
        )
        dashboard.add_widgets(*[
            cw.GraphWidget(title=f"{s.value}: queue depth (visible)", width=6,
                           left=queue_depth(s, dlq=False), right=queue_depth(s, dlq=True))
            for s in SERVICES if queues_consumed_by(s)
        ], cw.GraphWidget(title="Outbox backlog per service", width=6, left=[
            cw.Metric(namespace=METRICS_NAMESPACE, metric_name=OUTBOX_BACKLOG_METRIC, statistic="Maximum",
                      period=period, label=s.value, dimensions_map={"Environment": environment, "Service": s.value})
            for s in SERVICES]), cw.GraphWidget(title="Orders past deadline per sweep (cancelled)", width=6, left=[
                cw.Metric(namespace=METRICS_NAMESPACE, metric_name=ORDERS_PAST_DEADLINE_METRIC, statistic="Sum",
                          period=period, label="orders",
                          dimensions_map={"Environment": environment, "Service": Service.ORDERS.value})]))
        return dashboard
