"""The platform-wide alarms: one per shared resource (the API, its WAF, the orders Aurora cluster, the DynamoDB
tables, the NAT gateways, the cluster's nodes, the SES account's reputation), all on the environment's alarm topic,
with their dashboard ``<env>-platform``. Each service's own alarms are its Microservice's (service_monitoring.py)."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_wafv2 as wafv2
from cdk_monitoring_constructs import (
    CustomMetricGroup,
    ErrorCountThreshold,
    ErrorRateThreshold,
    HighConnectionCountThreshold,
    ThrottledEventsThreshold,
    UsageThreshold,
)
from constructs import Construct

from cdk_constructs.service_monitoring import (
    SparseFillingMonitoringFacade,
    api_alarms,
    critical,
    custom,
    facade_props,
)
from config.environment import AlarmConfig
from config.topology import Service

BELOW = cw.ComparisonOperator.LESS_THAN_THRESHOLD
MIB = 1024 * 1024


class PlatformAlarms(SparseFillingMonitoringFacade):
    """A MonitoringFacade (its alarms are its children, named ``<env>-platform-...``) holding the alarms of the
    resources the services share. Thresholds and evaluation periods come from ``alarms`` (config)."""

    def __init__(self, scope: Construct, construct_id: str, *, environment: str, topic: sns.ITopic,
                 alarms: AlarmConfig, dashboard: bool, api: apigw.IRestApi, stage_name: str,
                 web_acl: wafv2.CfnWebACL, database: rds.IDatabaseCluster, database_max_capacity_acu: float,
                 tables: Mapping[Service, dynamodb.ITableV2], vpc: ec2.IVpc, cluster_name: str) -> None:
        """``database_max_capacity_acu``: what the capacity alarm's description names as the ceiling;
        ``vpc``: its NAT gateways (one alarm each); ``cluster_name``: whose nodes (Container Insights)."""
        super().__init__(scope, construct_id, **facade_props(scope, construct_id,
                                                             name_prefix=f"{environment}-platform", topic=topic,
                                                             alarms=alarms, dashboard=dashboard))
        a = alarms

        self.add_large_header(f"Shared resources ({environment})")
        self.monitor_api_gateway(
            api=api, api_stage=stage_name, alarm_friendly_name="api", human_readable_name="Public REST API",
            **api_alarms(
                a,
                fault_rate=(f"More than {a.api_5xx_rate_percent}% of all API requests end in 5XX. Check which "
                            f"service's route alarms fire too; if all do, look at the VPC Link, the NLB targets and "
                            f"the cluster."),
                latency=(f"API p99 latency above {a.api_p99_latency_ms} ms across all routes. Look at the per-route "
                         f"alarms and at X-Ray's service map for the slow service.")),
            add4_xx_error_rate_alarm=critical(ErrorRateThreshold,
                max_error_rate=a.api_4xx_rate_percent / 100,
                description=(
                    f"More than {a.api_4xx_rate_percent}% of API requests are rejected with 4XX: a broken client "
                    f"release, expired API key or tokens, throttling (429) or a scan. Look at the access log "
                    f"(status, resourcePath, ip) and WAF.")),
        )
        self.monitor_web_application_firewall_acl_v2(
            acl=web_acl, region=cdk.Stack.of(self).region, alarm_friendly_name="waf",
            human_readable_name="API web ACL",
            add_blocked_requests_count_alarm=critical(ErrorCountThreshold,
                max_error_count=a.waf_blocked_requests_per_5_min, period=cdk.Duration.minutes(5),
                description=(
                    f"WAF blocked more than {a.waf_blocked_requests_per_5_min} requests in 5 minutes: an attack, "
                    f"a scan, or a rule blocking real customers. Look at the WAF log group (terminatingRuleId, "
                    f"clientIp) and sampled requests.")),
        )
        db = database
        self.monitor_aurora_cluster(
            cluster=db, alarm_friendly_name="orders-db", human_readable_name="Orders Aurora PostgreSQL",
            add_cpu_usage_alarm=critical(UsageThreshold,
                max_usage_percent=a.database_cpu_percent,
                description=(
                    f"Orders database CPU above {a.database_cpu_percent}%. Look at Performance Insights (top SQL, "
                    f"waits) and the orders request rate.")),
            add_max_connection_count_alarm=critical(HighConnectionCountThreshold,
                max_connection_count=a.database_connections,
                description=(
                    f"More than {a.database_connections} connections to the orders database: pools of too many "
                    f"orders pods (HPA scale-out) or leaked connections. Compare with replicas x pool size.")),
        )

        def rds(metric: str, statistic: str) -> cw.Metric:
            return cw.Metric(namespace="AWS/RDS", metric_name=metric, statistic=statistic,
                             dimensions_map={"DBClusterIdentifier": db.cluster_identifier},
                             period=cdk.Duration.minutes(1))

        self.monitor_custom(
            alarm_friendly_name="orders-db-capacity", human_readable_name="Orders Aurora memory and capacity",
            metric_groups=[CustomMetricGroup(title="Freeable memory and ACU utilization", metrics=[
                custom(rds("FreeableMemory", "Minimum"), "freeable-memory", a.database_freeable_memory_mib * MIB,
                       f"Orders database freeable memory below {a.database_freeable_memory_mib} MiB: it swaps and "
                       f"evicts cache. Look at connections and work_mem-heavy queries; raise max ACU.", BELOW),
                custom(rds("ACUUtilization", "Maximum"), "acu-utilization", a.database_capacity_percent,
                       f"Orders database uses more than {a.database_capacity_percent}% of its maximum "
                       f"{database_max_capacity_acu} ACU: it is about to stop scaling. Raise "
                       f"database.max_capacity_acu or look at the load."),
            ])],
        )
        for service, table in tables.items():
            itable = dynamodb.Table.from_table_attributes(self, f"{service.value.capitalize()}TableRef",
                                                          table_arn=table.table_arn)
            what = (f"Look at the {service.value} service's request rate and hot partition keys "
                    f"(CloudWatch Contributor Insights); the table is on-demand.")
            self.monitor_dynamo_table(
                table=itable, billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                alarm_friendly_name=f"{service.value}-table", human_readable_name=f"{service.value} DynamoDB table",
                add_read_throttled_events_count_alarm=critical(ThrottledEventsThreshold,
                    max_throttled_events_threshold=0,
                    description=f"Reads of the {service.value} table are throttled. {what}"),
                add_write_throttled_events_count_alarm=critical(ThrottledEventsThreshold,
                    max_throttled_events_threshold=0,
                    description=f"Writes to the {service.value} table are throttled. {what}"),
                add_system_error_count_alarm=critical(ErrorCountThreshold,
                    max_error_count=0,
                    description=(
                        f"DynamoDB returned internal errors (5xx) for the {service.value} table. The service "
                        f"retries; check the AWS Health Dashboard if it persists.")),
            )
        nat_ids = [s.node.find_child("NATGateway") for s in vpc.public_subnets if s.node.try_find_child("NATGateway")]
        self.monitor_custom(
            alarm_friendly_name="nat", human_readable_name="NAT gateways",
            metric_groups=[CustomMetricGroup(title="Port allocation errors", metrics=[
                custom(cw.Metric(namespace="AWS/NATGateway", metric_name="ErrorPortAllocation", statistic="Sum",
                                 dimensions_map={"NatGatewayId": nat.ref},  # type: ignore[attr-defined]
                                 period=cdk.Duration.minutes(1)),
                       f"{i + 1}-port-allocation", 0,
                       f"NAT gateway {i + 1} could not allocate a source port: too many concurrent connections to "
                       f"one destination. Look at which pods open connections without keep-alive; add endpoints.",
                       missing=cw.TreatMissingData.NOT_BREACHING)  # sparse_metrics.py: no data is no errors
                for i, nat in enumerate(nat_ids)])],
        )

        def node(metric: str) -> cw.Metric:
            return cw.Metric(namespace="ContainerInsights", metric_name=metric, statistic="Average",
                             dimensions_map={"ClusterName": cluster_name}, period=cdk.Duration.minutes(1))

        self.monitor_custom(
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

        self.monitor_custom(
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
