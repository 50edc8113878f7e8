"""The environment's overview dashboard ``<env>-overview``: one line per service for traffic, errors, latency,
queue depths and outbox backlog, pointing at the per-service and platform dashboards for details."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from cdk_constructs.consumer_queue import ConsumerQueue
from config.telemetry import METRICS_NAMESPACE, ORDERS_PAST_DEADLINE_METRIC, OUTBOX_BACKLOG_METRIC
from config.topology import Route, Service


class OverviewDashboard(cw.Dashboard):
    """Traffic, errors, latency, queue depths and outbox backlog, one line per service."""

    def __init__(self, scope: Construct, construct_id: str, *, environment: str, api: apigw.IRestApi,
                 stage_name: str, cluster_name: str, routes: Sequence[Route],
                 consumed: Mapping[Service, Sequence[ConsumerQueue]], sweepers: Sequence[Service],
                 details: bool) -> None:
        """``routes``: the API's, drawn per service; ``consumed``: every service (in drawing order) with the queues
        it consumes; ``sweepers``: the services that emit ORDERS_PAST_DEADLINE_METRIC (the contract's
        ServiceSpec.metrics); ``details``: whether per-service dashboards exist to point at (else their alarms)."""
        period = cdk.Duration.minutes(5)

        def route_metric(service: Service, metric: str, statistic: str) -> dict[str, cw.IMetric]:
            service_routes = [r for r in routes if r.service == service]
            return {f"{service.value}{i}": cw.Metric(
                namespace="AWS/ApiGateway", metric_name=metric, statistic=statistic, period=period,
                dimensions_map={"ApiName": api.rest_api_name, "Stage": stage_name, "Resource": r.path,
                                "Method": r.method})
                for i, r in enumerate(service_routes)}

        def per_service(metric: str, statistic: str, combine: str) -> list[cw.IMetric]:
            """One line per service from its routes' metrics: ``sum`` adds them up, ``max`` takes the worst."""
            lines: list[cw.IMetric] = []
            for s in consumed:
                metrics = route_metric(s, metric, statistic)
                # A route without requests in a period has no data point, not 0: unfilled, one idle route would
                # blank the service's whole line (sparse_metrics.py).
                expression = (" + ".join(f"FILL({m}, 0)" for m in metrics) if combine == "sum"
                              else f"MAX([{', '.join(metrics)}])")
                lines.append(cw.MathExpression(expression=expression, using_metrics=metrics, label=s.value,
                                               period=period))
            return lines

        def queue_depth(service: Service, dlq: bool) -> list[cw.IMetric]:
            out: list[cw.IMetric] = []
            for queue in consumed[service]:
                target = queue.dead_letter_queue if dlq else queue.queue
                out.append(target.metric_approximate_number_of_messages_visible(
                    period=period, statistic="Maximum", label=f"{queue.definition.name}{' DLQ' if dlq else ''}"))
            return out

        super().__init__(scope, construct_id, dashboard_name=f"{environment}-overview",
                         default_interval=cdk.Duration.hours(6))
        self.add_widgets(cw.TextWidget(width=24, height=2, markdown=(
            f"# {environment}: platform overview\nPer service: requests, 5XX, worst route p99 through API Gateway, "
            f"queue depths and outbox backlog. Details: "
            + (f"the `{environment}-<service>` and `{environment}-platform` dashboards" if details else
               f"the alarms named `{environment}-<service>-...` and `{environment}-platform-...`")
            + f"; traces: X-Ray (cluster `{cluster_name}`).")))
        self.add_widgets(
            cw.GraphWidget(title="Requests per service (5 min)", width=8,
                           left=per_service("Count", "Sum", "sum")),
            cw.GraphWidget(title="5XX per service (5 min)", width=8,
                           left=per_service("5XXError", "Sum", "sum")),
            cw.GraphWidget(title="Worst route p99 latency per service (ms)", width=8,
                           left=per_service("Latency", "p99", "max")),
        )
        self.add_widgets(*[
            cw.GraphWidget(title=f"{s.value}: queue depth (visible)", width=6,
                           left=queue_depth(s, dlq=False), right=queue_depth(s, dlq=True))
            for s in consumed if consumed[s]
        ], cw.GraphWidget(title="Outbox backlog per service", width=6, left=[
            cw.Metric(namespace=METRICS_NAMESPACE, metric_name=OUTBOX_BACKLOG_METRIC, statistic="Maximum",
                      period=period, label=s.value, dimensions_map={"Environment": environment, "Service": s.value})
            for s in consumed]), cw.GraphWidget(title="Orders past deadline per sweep (cancelled)", width=6, left=[
                cw.Metric(namespace=METRICS_NAMESPACE, metric_name=ORDERS_PAST_DEADLINE_METRIC, statistic="Sum",
                          period=period, label=s.value,
                          dimensions_map={"Environment": environment, "Service": s.value})
                for s in sweepers]))
