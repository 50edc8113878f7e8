"""Names of the platform's own telemetry, defined once for the CDK app (alarms, dashboards, the observability
add-on's configuration, the pods' environment) and the services (which spell the same names out in
``services/common/telemetry.py``: their image holds ``services/`` only; a test checks that the two agree).
"""

from __future__ import annotations

# Custom metrics the services emit in CloudWatch Embedded Metric Format (EMF).
METRICS_NAMESPACE = "Ecommerce/Services"
# Records in a service's transactional outbox not yet published (DynamoDB OutboxPending index / PostgreSQL outbox
# rows with published_at NULL), emitted by the outbox relay about once a minute.
OUTBOX_BACKLOG_METRIC = "OutboxBacklog"
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

# The CloudWatch Observability EKS add-on: its namespace, the agent's service account and service, and the ports
# the agent listens on for OTLP traces (forwarded to X-Ray) and EMF metrics.
AGENT_NAMESPACE = "amazon-cloudwatch"
AGENT_SERVICE_ACCOUNT = "cloudwatch-agent"
AGENT_HOST = f"cloudwatch-agent.{AGENT_NAMESPACE}.svc.cluster.local"
OTLP_HTTP_PORT = 4318
EMF_PORT = 25888
# Container Insights log groups the add-on writes to (created by CDK first, with retention and the logs CMK).
CONTAINER_INSIGHTS_LOG_GROUPS = ("application", "dataplane", "host", "performance")


def otel_environment(service: str, environment: str, sampling_ratio: float) -> dict[str, str]:
    """What a service's pods need to export traces over OTLP/HTTP to the agent (``sampling_ratio`` of root spans,
    config ``trace_sampling_ratio``) and metrics to its EMF port."""
    return {
        ENV_ENVIRONMENT: environment,
        ENV_EMF_ENDPOINT: f"udp://{AGENT_HOST}:{EMF_PORT}",
        "OTEL_SERVICE_NAME": service,
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://{AGENT_HOST}:{OTLP_HTTP_PORT}/v1/traces",
        "OTEL_RESOURCE_ATTRIBUTES": f"deployment.environment={environment}",
        "OTEL_TRACES_SAMPLER_ARG": f"{sampling_ratio:g}",
    }
