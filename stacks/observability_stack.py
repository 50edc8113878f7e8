from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from cdk_constructs.alarm_topic import AlarmTopic
from cdk_constructs.consumer_queue import ConsumerQueue
from cdk_constructs.log_groups import LogSettings
from cdk_constructs.overview_dashboard import OverviewDashboard
from cdk_constructs.platform_alarms import PlatformAlarms
from cdk_constructs.platform_api import STAGE_NAME
from cdk_constructs.service_level_objectives import ServiceLevelObjectives
from cdk_constructs.service_monitoring import PlatformTelemetry
from cdk_constructs.synthetic_customers import CanaryTarget, SyntheticCustomers
from config.environment import (
    AlarmConfig,
    ComputeSchedule,
    DashboardSet,
    DatabaseConfig,
    ObjectivesConfig,
    RemovalMode,
    SyntheticsConfig,
)
from config.topology import Route, Service


class ObservabilityStack(cdk.Stack):
    """Stateless: the alarm topic every alarm notifies, the platform-wide alarms per shared resource (API, WAF,
    Aurora, DynamoDB, NAT gateways, cluster nodes, the SES account's reputation) with their dashboard
    ``<env>-platform``, the overview dashboard, the service level objectives (error budgets on the overview,
    burn-rate pages where config says so) and the synthetic customers' canary.

    It comes before the Services stack, which takes :attr:`telemetry` (the topic among it) so that each
    Microservice's own alarms notify the same topic: Services depends on Observability, never the reverse.
    """

    def __init__(self, scope: Construct, construct_id: str, *, environment: str, alarms: AlarmConfig,
                 database: DatabaseConfig, removal: RemovalMode, vpc: ec2.IVpc, cluster_name: str,
                 api: apigw.IRestApi, web_acl: wafv2.CfnWebACL, orders_cluster: rds.IDatabaseCluster,
                 tables: Mapping[Service, dynamodb.ITableV2], routes: tuple[Route, ...],
                 consumed: Mapping[Service, tuple[ConsumerQueue, ...]], sweepers: Sequence[Service],
                 objectives: ObjectivesConfig, synthetics: SyntheticsConfig, canary_target: CanaryTarget,
                 storefront_url: str, working_hours: ComputeSchedule | None, log_settings: LogSettings,
                 dashboards: DashboardSet = DashboardSet.ALL,
                 trace_sampling_ratio: float = 1.0, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        every = dashboards == DashboardSet.ALL
        self.alarm_topic = AlarmTopic(self, "AlarmTopic", emails=alarms.email_subscriptions, removal=removal).topic
        self.telemetry = PlatformTelemetry(environment=environment, alarm_topic=self.alarm_topic, alarms=alarms,
                                           api=api, stage_name=STAGE_NAME, routes=routes,
                                           dashboards=every, trace_sampling_ratio=trace_sampling_ratio)
        self.platform_alarms = PlatformAlarms(
            self, "Platform", environment=environment, topic=self.alarm_topic, alarms=alarms, dashboard=every,
            api=api, stage_name=STAGE_NAME, web_acl=web_acl, database=orders_cluster,
            database_max_capacity_acu=database.max_capacity_acu, tables=tables, vpc=vpc, cluster_name=cluster_name)
        self.overview = OverviewDashboard(
            self, "Overview", environment=environment, api=api, stage_name=STAGE_NAME, cluster_name=cluster_name,
            routes=routes, consumed=consumed, sweepers=sweepers,
            details=every)
        # Error budgets per route group on the overview; burn-rate pages where the environment's config says so.
        self.objectives = ServiceLevelObjectives(
            self, "Objectives", environment=environment, api_name=api.rest_api_name, stage_name=STAGE_NAME,
            routes=routes, config=objectives, topic=self.alarm_topic)
        self.overview.add_widgets(*self.objectives.dashboard_widgets())
        # Synthetic customers: the smoke test's workflows through the public API and the storefront's page load,
        # around the clock (or while the environment's nodes are awake).
        self.customers = SyntheticCustomers(
            self, "SyntheticCustomers", environment=environment, config=synthetics, target=canary_target,
            storefront_url=storefront_url, working_hours=working_hours, alarm_topic=self.alarm_topic, removal=removal,
            log_settings=log_settings)
        cdk.CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic_arn)
        # Canary artifacts and load test results (`make load ENV=...` reads its run's results here).
        cdk.CfnOutput(self, "OperationsBucketName", value=self.customers.bucket.bucket_name)
        if self.objectives.stop_condition is not None:
            # What `make fault` and `make load` report on (tools/ops): is any objective burning fast?
            cdk.CfnOutput(self, "SloFastBurnAlarmArn", value=self.objectives.stop_condition.alarm_arn)
