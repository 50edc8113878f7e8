"""The monitoring of one service, built inside its Microservice: alarms on its pods, API routes, queues and outbox,
one composite alarm over them, and the service's dashboard. cdk-monitoring-constructs renders the alarms and the
dashboard; the Container Insights and outbox metrics it has no monitor for are given to it as custom metrics."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_sns as sns
from cdk_monitoring_constructs import (
    AlarmFactoryDefaults,
    CustomMetricGroup,
    CustomMetricWithAlarm,
    CustomThreshold,
    DefaultDashboardFactory,
    ErrorRateThreshold,
    LatencyThreshold,
    MaxMessageAgeThreshold,
    MaxMessageCountThreshold,
    MetricFactory,
    MetricFactoryDefaults,
    MonitoringFacade,
    SnsAlarmActionStrategy,
)
from constructs import Construct

from cdk_constructs.consumer_queue import ConsumerQueue
from cdk_constructs.sparse_metrics import fill_sparse, is_sparse_count
from config.environment import AlarmConfig
from config.telemetry import (
    METRICS_NAMESPACE,
    NOTIFICATION_BACKLOG_METRIC,
    NOTIFICATION_SEND_FAILURES_METRIC,
    NOTIFICATIONS_SENT_METRIC,
    ORDERS_PAST_DEADLINE_METRIC,
    OUTBOX_BACKLOG_METRIC,
    OUTBOX_DEAD_LETTERED_METRIC,
    WORKER_LOOP_RESTARTS_METRIC,
)
from config.topology import Route, Service

# Every alarm of this app is created under this disambiguator; a service's composite alarm combines all of its own.
SEVERITY = "Critical"
CONTAINER_INSIGHTS = "ContainerInsights"
ABOVE = cw.ComparisonOperator.GREATER_THAN_THRESHOLD
T = TypeVar("T")


@dataclass(frozen=True)
class ServiceTelemetry:
    """What a Microservice needs to monitor itself, rendered by the Services stack from the stacks before it."""

    environment: str  # config name: alarm/dashboard name prefix and the Environment dimension of custom metrics
    alarm_topic: sns.ITopic
    alarms: AlarmConfig
    cluster_name: str
    api: apigw.IRestApi
    stage_name: str
    routes: tuple[Route, ...]  # the API's routes (config.topology.ROUTES); the service alarms on its own
    queues: tuple[ConsumerQueue, ...]  # the queues the service consumes (each with its DLQ)
    notifications: bool = False  # the service's worker emails customers (services/users/notifications.py)
    metrics: tuple[str, ...] = ()  # custom metrics of the service's own (the contract's ServiceSpec.metrics)
    dashboard: bool = True  # the service's own dashboard (config.dashboards); its alarms exist either way
    trace_sampling_ratio: float = 1.0  # share of root spans sampled (config trace_sampling_ratio)


def critical(kind: Callable[..., T], /, *, description: str, **props: Any) -> dict[str, T]:
    """An alarm of this app's one severity (:data:`SEVERITY`), as cdk-monitoring-constructs' ``add_*_alarm`` props
    take it: the threshold ``kind(**props)``, described by ``description`` (what fired, where to look)."""
    return {SEVERITY: kind(alarm_description_override=description, **props)}


class SparseFillingMetricFactory(MetricFactory):
    """cdk-monitoring-constructs' MetricFactory whose metric math reads every sparse count (sparse_metrics.py) as
    ``FILL(id, 0)``. The library sums DynamoDB's SystemErrors per operation as ``a+b+...`` unfilled, which has no
    value while any one operation is quiet (its own comment: "the metric is not emitted until error happens"); its
    monitors build every expression through this one method, alarms and dashboard widgets alike."""

    def create_metric_math(self, expression: str, using_metrics: Mapping[str, cw.IMetric],
                           label: str, color: str | None = None,
                           period: cdk.Duration | None = None, region: str | None = None,
                           account: str | None = None) -> cw.MathExpression | cw.Metric:
        sparse = [i for i, m in using_metrics.items()
                  if isinstance(m, cw.Metric) and is_sparse_count(m.metric_name, m.statistic)]
        return super().create_metric_math(fill_sparse(expression, sparse), using_metrics, label, color, period,
                                          region, account)


class SparseFillingMonitoringFacade(MonitoringFacade):
    """A MonitoringFacade whose monitors build their metrics with :class:`SparseFillingMetricFactory`."""

    def create_metric_factory(self) -> MetricFactory:
        return SparseFillingMetricFactory(self, global_defaults=self._metric_factory_defaults)


def facade_props(scope: Construct, construct_id: str, *, name_prefix: str, topic: sns.ITopic,
                 alarms: AlarmConfig, dashboard: bool = True) -> dict[str, Any]:
    """The props of a MonitoringFacade ``construct_id`` under ``scope`` whose alarms all notify ``topic`` after
    ``alarms.evaluation_periods`` breaching periods, and whose dashboard is named ``name_prefix``. The dashboard
    factory is the facade's sibling ``<construct_id>Dashboards``: the dashboards' logical IDs hang on that path."""
    return {
        "alarm_factory_defaults": AlarmFactoryDefaults(
            actions_enabled=True, alarm_name_prefix=name_prefix,
            action=SnsAlarmActionStrategy(on_alarm_topic=topic),
            evaluation_periods=alarms.evaluation_periods, datapoints_to_alarm=alarms.evaluation_periods),
        "metric_factory_defaults": MetricFactoryDefaults(period=cdk.Duration.minutes(1)),
        "dashboard_factory": DefaultDashboardFactory(scope, f"{construct_id}Dashboards",
                                                     dashboard_name_prefix=name_prefix, create_dashboard=dashboard,
                                                     create_summary_dashboard=False, create_alarm_dashboard=False),
    }


def alarm_facade(scope: Construct, construct_id: str, *, name_prefix: str, topic: sns.ITopic,
                 alarms: AlarmConfig, dashboard: bool = True) -> MonitoringFacade:
    """A :class:`SparseFillingMonitoringFacade` with :func:`facade_props`."""
    return SparseFillingMonitoringFacade(scope, construct_id, **facade_props(
        scope, construct_id, name_prefix=name_prefix, topic=topic, alarms=alarms, dashboard=dashboard))


def api_alarms(alarms: AlarmConfig, *, fault_rate: str, latency: str) -> dict[str, Any]:
    """``monitor_api_gateway``'s 5XX-rate and p99-latency alarms at the config's thresholds, described by
    ``fault_rate`` and ``latency`` (what to look at when each fires)."""
    return {
        "add5_xx_fault_rate_alarm": critical(ErrorRateThreshold, description=fault_rate,
                                             max_error_rate=alarms.api_5xx_rate_percent / 100),
        "add_latency_p99_alarm": critical(LatencyThreshold, description=latency,
                                          max_latency=cdk.Duration.millis(alarms.api_p99_latency_ms)),
    }


def route_slug(route: Route) -> str:
    """``GET /products/{productId}`` -> ``GET-products-productId`` (alarm names take no braces or slashes)."""
    return "-".join([route.method, *re.findall(r"\w+", route.path)])


def custom(metric: cw.IMetric, name: str, threshold: float, description: str,
           operator: cw.ComparisonOperator = ABOVE,
           missing: cw.TreatMissingData | None = None, datapoints: int | None = None) -> CustomMetricWithAlarm:
    """``missing``: how a period without data counts (a metric emitted only when something happens: NOT_BREACHING);
    ``datapoints``: breaching periods, of the configured evaluation periods, that raise the alarm (default: all)."""
    return CustomMetricWithAlarm(
        metric=metric,  # type: ignore[arg-type]
        alarm_friendly_name=name,
        add_alarm=critical(CustomThreshold, description=description, threshold=threshold,
                           comparison_operator=operator, treat_missing_data_override=missing,
                           datapoints_to_alarm=datapoints),
    )


class ServiceMonitoring(Construct):
    """Alarms (all on the environment's alarm topic) and the dashboard ``<env>-<service>``:

    * per pod component (api, worker): CPU and memory against the pod limit, container restarts (Container Insights);
    * per API route: 5XX rate and p99 latency (API Gateway per resource and method);
    * per consumed queue: DLQ depth above 0, age of the DLQ's oldest message, age of the queue's oldest message;
    * the outbox backlog the service's relay emits, and records it dead-letters (EMF, ``config.telemetry``);
    * restarts of its worker loops (EMF), and for orders the open orders found past their deadline (EMF);
    * for the service that emails customers, its notifier's send failures and backlog (EMF);
    * one composite alarm, ``<env>-<service>-health``, in ALARM while any of the above is.
    """

    def __init__(self, scope: Construct, construct_id: str, *, service: Service, components: tuple[str, ...],
                 telemetry: ServiceTelemetry) -> None:
        super().__init__(scope, construct_id)
        t, a, name = telemetry, telemetry.alarms, service.value
        self.name_prefix = f"{t.environment}-{name}"
        self.facade = alarm_facade(self, "Facade", name_prefix=self.name_prefix, topic=t.alarm_topic, alarms=a,
                                   dashboard=t.dashboard)
        self.facade.add_large_header(f"{name} service ({t.environment})")
        for component in components:
            self._pods(name, component, t)
        self.routes = tuple(r for r in t.routes if r.service == service)
        for route in self.routes:
            self.facade.monitor_api_gateway(
                api=t.api, api_stage=t.stage_name, api_method=route.method, api_resource=route.path,
                alarm_friendly_name=f"api-{route_slug(route)}", human_readable_name=f"{route.method} {route.path}",
                **api_alarms(
                    a,
                    fault_rate=(f"{route.method} {route.path}: more than {a.api_5xx_rate_percent}% of requests end "
                                f"in 5XX. Look at the {name}-api pods' logs (ERROR lines, correlation_id) and their "
                                f"readiness; 503 means the store was unreachable, 504 the NLB target timed out."),
                    latency=(f"{route.method} {route.path}: p99 latency above {a.api_p99_latency_ms} ms. Look at the "
                             f"{name} traces in X-Ray for the slow segment (store, downstream call), and at pod CPU "
                             f"throttling and HPA replicas.")),
            )
        for queue in t.queues:
            self._queue(name, queue, a)
        backlog = cw.Metric(namespace=METRICS_NAMESPACE, metric_name=OUTBOX_BACKLOG_METRIC,
                            dimensions_map={"Environment": t.environment, "Service": name},
                            statistic="Maximum", period=cdk.Duration.minutes(1))
        dead_lettered = cw.Metric(namespace=METRICS_NAMESPACE, metric_name=OUTBOX_DEAD_LETTERED_METRIC,
                                  dimensions_map={"Environment": t.environment, "Service": name},
                                  statistic="Sum", period=cdk.Duration.minutes(5))
        self.facade.monitor_custom(
            alarm_friendly_name="outbox", human_readable_name=f"{name} outbox",
            metric_groups=[CustomMetricGroup(title="Outbox backlog (unpublished events)", metrics=[custom(
                backlog, "backlog", a.outbox_backlog,
                f"More than {a.outbox_backlog} events of {name} wait in its outbox: the relay in the {name}-worker "
                f"pods is not publishing. Look at its logs ('relay could not publish'), SNS/SQS errors and KMS "
                f"access of the service role.")]), CustomMetricGroup(
                title="Outbox records dead-lettered (5 min)", metrics=[custom(
                    dead_lettered, "dead-lettered", 0,
                    f"The {name} relay set aside outbox records it can no longer publish: their destination is no "
                    f"longer in the service contract, or their payload fails its current schema. Consumers never "
                    f"get these events. The {name}-worker logs 'outbox record dead-lettered' with the record and the "
                    f"reason; the records are kept (DynamoDB: dead_lettered_at set; PostgreSQL: table "
                    f"outbox_dead_letters) for an operator to repair and re-publish.",
                    missing=cw.TreatMissingData.NOT_BREACHING, datapoints=1)])],  # one record is one too many
        )
        if "worker" in components:
            self._worker(name, t)
        if t.notifications:
            self._notifications(name, t)
        self.composite = self.facade.create_composite_alarm_using_disambiguator(
            SEVERITY, disambiguator=SEVERITY, alarm_name_override=f"{self.name_prefix}-health",
            alarm_description=(f"The {name} service is unhealthy: at least one of its alarms is in ALARM. Open the "
                               + (f"{self.name_prefix} dashboard" if t.dashboard else
                                  f"alarm list filtered on {self.name_prefix}-")
                               + " to see which, then that alarm's description."),
        )

    def _worker(self, name: str, t: ServiceTelemetry) -> None:
        """Loops that fail and restart; for orders, orders that outlive their deadline (the sweeper's count)."""
        a = t.alarms
        window = cdk.Duration.minutes(15)

        def metric(metric_name: str, statistic: str) -> cw.Metric:
            return cw.Metric(namespace=METRICS_NAMESPACE, metric_name=metric_name, statistic=statistic,
                             dimensions_map={"Environment": t.environment, "Service": name}, period=window)

        metrics = [custom(
            metric(WORKER_LOOP_RESTARTS_METRIC, "Sum"), "loop-restarts", a.worker_loop_restarts,
            f"{name}-worker loops (consumers, relay, sweeper) failed and restarted more than "
            f"{a.worker_loop_restarts} times in 15 minutes. Each restart logs 'worker loop crashed' with the "
            f"exception: a bug or a dependency that fails in a way the loop does not expect. The other loops go on; "
            f"a loop that stops beating is restarted by the liveness probe.",
            missing=cw.TreatMissingData.NOT_BREACHING)]  # one data point per restart: no data is no restarts
        deadlines = ORDERS_PAST_DEADLINE_METRIC in t.metrics
        if deadlines:
            metrics.append(custom(
                metric(ORDERS_PAST_DEADLINE_METRIC, "Maximum"), "past-deadline", a.orders_past_deadline,
                f"The orders sweeper found more than {a.orders_past_deadline} open orders past their deadline in "
                f"one sweep, 15 minutes running: payments (RESERVED) or reservation outcomes (PENDING) are not "
                f"arriving. They are being cancelled and their stock released; look at the payment provider "
                f"integration, the inventory worker, and the orders-payment-events / inventory-reservations "
                f"queues and DLQs ('order expired' in the orders-worker logs)."))
        self.facade.monitor_custom(
            alarm_friendly_name="worker", human_readable_name=f"{name} worker",
            metric_groups=[CustomMetricGroup(title="Worker loop restarts and orders past deadline (15 min)"
                                             if deadlines else "Worker loop restarts (15 min)",
                                             metrics=metrics)],
        )

    def _notifications(self, name: str, t: ServiceTelemetry) -> None:
        """The notifier's emails (EMF from its sender loop): sent, failed attempts (alarm), backlog (alarm)."""
        a = t.alarms
        five = cdk.Duration.minutes(5)

        def metric(metric_name: str, statistic: str, period: cdk.Duration) -> cw.Metric:
            return cw.Metric(namespace=METRICS_NAMESPACE, metric_name=metric_name, statistic=statistic,
                             dimensions_map={"Environment": t.environment, "Service": name}, period=period)

        self.facade.monitor_custom(
            alarm_friendly_name="notifications", human_readable_name=f"{name} notifications (SES)",
            metric_groups=[
                CustomMetricGroup(title="Emails sent and failed attempts (5 min)", metrics=[
                    metric(NOTIFICATIONS_SENT_METRIC, "Sum", five),
                    custom(metric(NOTIFICATION_SEND_FAILURES_METRIC, "Sum", five), "send-failures",
                           a.notification_send_failures,
                           f"More than {a.notification_send_failures} notification emails failed in 5 minutes: SES "
                           f"refused them or could not be reached. Look at the {name}-worker logs ('SES refused', "
                           f"'SES unavailable' with the error code): throttling or quota, paused sending, the "
                           f"identity's DKIM status, the configuration set, or the role's ses:SendEmail.",
                           missing=cw.TreatMissingData.NOT_BREACHING),
                ]),
                CustomMetricGroup(title="Notifications not yet sent", metrics=[
                    custom(metric(NOTIFICATION_BACKLOG_METRIC, "Maximum", cdk.Duration.minutes(1)), "backlog",
                           a.notification_backlog,
                           f"More than {a.notification_backlog} notifications wait to be sent: SES has been failing "
                           f"for a while (see the send-failures alarm) or the {name}-worker's notification loop is "
                           f"not running. They are retried for days; nothing is lost yet."),
                ]),
            ],
        )

    def _pods(self, name: str, component: str, t: ServiceTelemetry) -> None:
        a = t.alarms
        pod = f"{name}-{component}"
        dims = {"ClusterName": t.cluster_name, "Namespace": name, "PodName": pod}

        def metric(metric_name: str, statistic: str) -> cw.Metric:
            return cw.Metric(namespace=CONTAINER_INSIGHTS, metric_name=metric_name, dimensions_map=dims,
                             statistic=statistic, period=cdk.Duration.minutes(1))

        self.facade.monitor_custom(
            alarm_friendly_name=f"{component}-pods", human_readable_name=f"{pod} pods (Container Insights)",
            metric_groups=[
                CustomMetricGroup(title="CPU and memory, % of the pod limit", metrics=[
                    custom(metric("pod_cpu_utilization_over_pod_limit", "Average"), "cpu",
                           a.pod_cpu_percent_of_limit,
                           f"{pod} pods use more than {a.pod_cpu_percent_of_limit}% of their CPU limit: they are "
                           f"throttled. Look at request rate, HPA replicas (max reached?) and the service sizing."),
                    custom(metric("pod_memory_utilization_over_pod_limit", "Average"), "memory",
                           a.pod_memory_percent_of_limit,
                           f"{pod} pods use more than {a.pod_memory_percent_of_limit}% of their memory limit and "
                           f"will be OOM-killed at 100%. Look at memory growth since the last deploy."),
                ]),
                CustomMetricGroup(title="Container restarts", metrics=[
                    # The metric counts restarts since each pod started; its increase per 15 minutes is what
                    # pages, so the alarm clears once restarts stop instead of staying on until a pod is replaced.
                    custom(cw.MathExpression(
                        expression="DIFF(restarts)", label="restarts in 15 min", period=cdk.Duration.minutes(15),
                        using_metrics={"restarts": metric("pod_number_of_container_restarts", "Maximum").with_(
                            period=cdk.Duration.minutes(15))}),
                        "restarts", a.pod_restarts,
                           f"{pod} containers restarted more than {a.pod_restarts} times in 15 minutes: crash loop, "
                           f"OOM kill or "
                           f"failing liveness probe. Look at `kubectl -n {name} describe pod` (last state) and the "
                           f"container logs before the restart."),
                ]),
            ],
        )

    def _queue(self, name: str, queue: ConsumerQueue, a: AlarmConfig) -> None:
        q = queue.definition.name
        self.facade.monitor_sqs_queue_with_dlq(
            queue=queue.queue, dead_letter_queue=queue.dead_letter_queue,
            alarm_friendly_name=f"queue-{q}", human_readable_name=f"{q} queue ({queue.definition.description})",
            add_dead_letter_queue_max_size_alarm=critical(MaxMessageCountThreshold,
                max_message_count=0,
                description=(
                    f"Messages of {q} reached its DLQ: {name} failed to apply them after every retry. Look at the "
                    f"{name}-worker logs for 'handler failed' or 'invalid message' with the event id, fix, then "
                    f"redrive the DLQ.")),
            add_dead_letter_queue_max_message_age_alarm=critical(MaxMessageAgeThreshold,
                max_age_in_seconds=a.dlq_oldest_message_age_seconds,
                description=(
                    f"A message has sat in the DLQ of {q} for more than {a.dlq_oldest_message_age_seconds} s "
                    f"without a redrive; it expires after the DLQ's retention. Inspect it and redrive or discard.")),
            add_queue_max_message_age_alarm=critical(MaxMessageAgeThreshold,
                max_age_in_seconds=a.queue_oldest_message_age_seconds,
                description=(
                    f"The oldest message of {q} is older than {a.queue_oldest_message_age_seconds} s: {name} is "
                    f"not consuming. Look at the {name}-worker pods (running? restarts?) and their logs.")),
        )


@dataclass(frozen=True)
class PlatformTelemetry:
    """The environment-wide part of :class:`ServiceTelemetry`, handed to the Services stack by the platform."""

    environment: str
    alarm_topic: sns.ITopic
    alarms: AlarmConfig
    api: apigw.IRestApi
    stage_name: str
    routes: tuple[Route, ...]
    dashboards: bool = True  # a dashboard per service (config.dashboards is ALL)
    trace_sampling_ratio: float = 1.0  # share of root spans the services sample (config trace_sampling_ratio)

    def for_service(self, *, cluster_name: str, queues: tuple[ConsumerQueue, ...],
                    notifications: bool = False, metrics: tuple[str, ...] = ()) -> ServiceTelemetry:
        return ServiceTelemetry(environment=self.environment, alarm_topic=self.alarm_topic, alarms=self.alarms,
                                cluster_name=cluster_name, api=self.api, stage_name=self.stage_name,
                                routes=self.routes, queues=queues,
                                notifications=notifications, metrics=metrics, dashboard=self.dashboards,
                                trace_sampling_ratio=self.trace_sampling_ratio)
