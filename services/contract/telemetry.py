"""Names of the platform's own telemetry: the custom metrics the services emit (CloudWatch Embedded Metric Format)
and the CDK app's alarms and dashboards read, and the environment variables telling a pod where telemetry goes."""

from __future__ import annotations

METRICS_NAMESPACE = "Ecommerce/Services"
# Records in a service's transactional outbox not yet published (DynamoDB OutboxPending index / PostgreSQL outbox
# rows with published_at NULL), emitted by the outbox relay about once a minute.
OUTBOX_BACKLOG_METRIC = "OutboxBacklog"
# Outbox records the relay can no longer publish (their destination is gone from the contract, or their payload no
# longer matches its schema): set aside with the reason instead of blocking the records behind them; one per record.
OUTBOX_DEAD_LETTERED_METRIC = "OutboxDeadLettered"
# A worker loop (consumer, relay, sweeper) that failed unexpectedly and was started again; one data point per restart.
WORKER_LOOP_RESTARTS_METRIC = "WorkerLoopRestarts"
# Open orders (PENDING, RESERVED) found past their deadline by the orders sweeper, each sweep (it then cancels them).
ORDERS_PAST_DEADLINE_METRIC = "OrdersPastDeadline"
# The users service's notifier (users/notifications.py): emails SES accepted, attempts that failed (refused or SES
# unreachable), and notifications not yet sent or ended (due, or waiting for a retry), the last about once a minute.
NOTIFICATIONS_SENT_METRIC = "NotificationsSent"
NOTIFICATION_SEND_FAILURES_METRIC = "NotificationSendFailures"
NOTIFICATION_BACKLOG_METRIC = "NotificationBacklog"
# Dimension set of every custom metric: environments may share an account, so the environment is a dimension.
METRIC_DIMENSIONS = ("Environment", "Service")
METRICS_INTERVAL_SECONDS = 60

# Environment variables through which the pods learn where telemetry goes.
ENV_ENVIRONMENT = "PLATFORM_ENVIRONMENT"  # value of the Environment dimension
ENV_EMF_ENDPOINT = "EMF_AGENT_ENDPOINT"  # udp://host:port of the CloudWatch agent's EMF listener; unset: stdout
# Read by the shared code when present (common/telemetry.py, common/tracing.py): rendered where the platform has an
# observability agent, all of them or none.
TELEMETRY_ENV: tuple[str, ...] = (ENV_ENVIRONMENT, ENV_EMF_ENDPOINT, "OTEL_SERVICE_NAME", "OTEL_TRACES_EXPORTER",
                                  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_RESOURCE_ATTRIBUTES",
                                  "OTEL_TRACES_SAMPLER_ARG")

__all__ = [
    "ENV_EMF_ENDPOINT",
    "ENV_ENVIRONMENT",
    "METRICS_INTERVAL_SECONDS",
    "METRICS_NAMESPACE",
    "METRIC_DIMENSIONS",
    "NOTIFICATIONS_SENT_METRIC",
    "NOTIFICATION_BACKLOG_METRIC",
    "NOTIFICATION_SEND_FAILURES_METRIC",
    "ORDERS_PAST_DEADLINE_METRIC",
    "OUTBOX_BACKLOG_METRIC",
    "OUTBOX_DEAD_LETTERED_METRIC",
    "TELEMETRY_ENV",
    "WORKER_LOOP_RESTARTS_METRIC",
]
