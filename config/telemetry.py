"""The platform's telemetry as the CDK app needs it: the metric and environment names of the service contract
(``services/contract/telemetry.py``, which the services read too) and the observability add-on's agent (alarms,
dashboards, the add-on's configuration, the pods' environment).
"""

from __future__ import annotations

from contract.telemetry import *  # noqa: F403 - the names the services use, for the CDK app
from contract.telemetry import ENV_EMF_ENDPOINT, ENV_ENVIRONMENT
from contract.telemetry import __all__ as _CONTRACT_NAMES

# The CloudWatch Observability EKS add-on: its namespace, the agent's service account and service, and the ports
# the agent listens on for OTLP traces (forwarded to X-Ray) and EMF metrics.
AGENT_NAMESPACE = "amazon-cloudwatch"
AGENT_SERVICE_ACCOUNT = "cloudwatch-agent"
AGENT_HOST = f"cloudwatch-agent.{AGENT_NAMESPACE}.svc.cluster.local"
OTLP_HTTP_PORT = 4318
EMF_PORT = 25888
# Container Insights log groups the add-on writes to (created by CDK first, with retention and the logs CMK).
CONTAINER_INSIGHTS_LOG_GROUPS = ("application", "dataplane", "host", "performance")


__all__ = [*_CONTRACT_NAMES, "AGENT_HOST", "AGENT_NAMESPACE", "AGENT_SERVICE_ACCOUNT",
           "CONTAINER_INSIGHTS_LOG_GROUPS", "EMF_PORT", "OTLP_HTTP_PORT", "otel_environment"]


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
