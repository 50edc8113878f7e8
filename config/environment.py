"""Typed, validated environment configuration.

``app.py`` picks one :class:`EnvironmentConfig` and passes its typed fields down to stacks and constructs; nothing
below ``app.py`` reads context or environment variables. Every field is checked by :meth:`EnvironmentConfig.validate`
and a bad value raises :class:`ConfigError`, whose message is one line naming the key and the allowed values.
"""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum, StrEnum
from typing import Any

from config.eks_addons import ROWS, addon_row
from config.slo import BURN_ALERTS, ROUTE_GROUPS


class ConfigError(ValueError):
    """A user error in an environment configuration: one line, naming the key and what is allowed."""

    def __init__(self, key: str, value: object, allowed: str) -> None:
        self.key = key
        super().__init__(f"config error: {key}={value!r} is invalid; allowed: {allowed}")


class RemovalMode(StrEnum):
    """What CloudFormation does with a stateful resource when it leaves the template."""

    DESTROY = "destroy"
    RETAIN = "retain"
    SNAPSHOT = "snapshot"


class CapacityKind(StrEnum):
    ON_DEMAND = "ON_DEMAND"
    SPOT = "SPOT"


class UserPoolTier(StrEnum):
    """Cognito's feature plans: threat protection (adaptive authentication, compromised-credential checks) comes
    with PLUS only; ESSENTIALS has everything else the app uses (resource servers, the hosted domain)."""

    LITE = "LITE"
    ESSENTIALS = "ESSENTIALS"
    PLUS = "PLUS"


class DashboardSet(StrEnum):
    """Which CloudWatch dashboards an environment has ($3 each a month): ALL is one per service, the platform's and
    the overview; OVERVIEW is the overview alone (the alarms are the same either way)."""

    ALL = "all"
    OVERVIEW = "overview"


WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)

INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "sts", "sqs", "sns", "secretsmanager", "logs", "xray", "kms",
                       "eks-auth", "monitoring")

# The versions config/eks_addons.py has a row of add-on, chart and kubectl layer pins for.
KUBERNETES_VERSIONS = tuple(ROWS)

GRAVITON_FAMILIES = re.compile(r"^(t4g|m6g|m7g|m8g|c6g|c7g|c8g|r6g|r7g|r8g)\.[a-z0-9]+$")
# Graviton families whose every size takes a trunk ENI, so pods with their own security group (security groups for
# pods: branch ENIs on the trunk) can run there. EKS user guide, "Assign security groups to individual Pods": the
# supported types are those the VPC resource controller marks IsTrunkingCompatible in
# aws/amazon-vpc-resource-controller-k8s pkg/aws/vpc/limits.go (read 2026-11-27; no t-family type is). Branch ENIs
# per node, from the same file: *.medium 4, *.large 9, *.xlarge 18 -- the ceiling of such pods per node.
TRUNK_ENI_FAMILIES = ("m6g", "m7g", "m8g", "c6g", "c7g", "c8g", "r6g", "r7g", "r8g")
# The node label the CDK app sets on node groups made only of TRUNK_ENI_FAMILIES types; pods with a
# SecurityGroupPolicy select it (the VPC CNI's own vpc.amazonaws.com/has-trunk-attached is gone since 1.15).
POD_ENI_LABEL = "platform/pod-eni"

AURORA_ACU_STEPS = tuple(x / 2 for x in range(0, 513))  # 0, 0.5, ... 256

HOURS_PER_MONTH = 730  # the hours AWS price pages use for a month

# Environment variables through which messaging and orders settings reach the services (spelled out again in
# services/common/consumer.py and services/orders/settings.py, whose image holds services/ only; tests check both).
CONSUMER_RETRY_BUDGET_ENV = "CONSUMER_RETRY_BUDGET_SECONDS"
CONSUMER_BACKOFF_MAX_ENV = "CONSUMER_BACKOFF_MAX_SECONDS"
CONSUMER_ORDERING_BACKOFF_MAX_ENV = "CONSUMER_ORDERING_BACKOFF_MAX_SECONDS"
ORDER_PENDING_DEADLINE_ENV = "ORDER_PENDING_DEADLINE_SECONDS"
ORDER_PAYMENT_DEADLINE_ENV = "ORDER_PAYMENT_DEADLINE_SECONDS"
ORDER_SWEEP_INTERVAL_ENV = "ORDER_SWEEP_INTERVAL_SECONDS"
DB_POOL_MAX_IDLE_ENV = "DB_POOL_MAX_IDLE_SECONDS"
SQS_MAX_RECEIVE_COUNT = 1000
SQS_MAX_VISIBILITY_SECONDS = 43_200


@dataclass(frozen=True)
class NetworkConfig:
    cidr: str
    availability_zones: tuple[str, ...]
    nat_gateways: int
    interface_endpoints: tuple[str, ...]
    flow_log_retention_days: int


@dataclass(frozen=True)
class NodePoolConfig:
    """A managed node group (Graviton only: the images are built for arm64)."""

    name: str
    instance_types: tuple[str, ...]
    capacity: CapacityKind
    min_size: int
    desired_size: int
    max_size: int
    disk_gib: int = 30
    # Non-empty: the pool takes only pods that tolerate the taint platform/dedicated=<value>:NoSchedule and select
    # its label (the load generator's Job: its load must not share nodes with what it measures).
    dedicated_to: str = ""

    @property
    def pod_eni(self) -> bool:
        """Every instance type takes a trunk ENI: pods with their own security group can run on any node."""
        return all(t.split(".")[0] in TRUNK_ENI_FAMILIES for t in self.instance_types)


@dataclass(frozen=True)
class ComputeSchedule:
    """Working hours of an environment's compute: on ``days`` the node groups are scaled to their configured sizes
    at ``wake_hour`` and to zero at ``sleep_hour`` (and again half an hour later, for a node the Cluster Autoscaler
    may have added while the others drained), in ``timezone`` (IANA name; EventBridge Scheduler follows its daylight
    saving time). Outside those hours the cluster has no node: `make wake ENV=...` brings it back early."""

    timezone: str
    days: tuple[str, ...]
    wake_hour: int
    sleep_hour: int

    @property
    def hours_awake_per_week(self) -> int:
        return len(self.days) * (self.sleep_hour - self.wake_hour)


@dataclass(frozen=True)
class ClusterConfig:
    kubernetes_version: str
    node_pools: tuple[NodePoolConfig, ...]
    # None: the node groups run around the clock (the Cluster Autoscaler alone sizes them).
    schedule: ComputeSchedule | None = None
    # Roles that exist in the account already (an SSO administrator role, say) and get cluster admin besides the
    # admin role the Cluster stack creates itself. Each is a prerequisite: EKS refuses an access entry for a principal
    # that does not exist, after the cluster's 15 minutes, so `make account-check` proves it exists before a deploy.
    admin_role_arns: tuple[str, ...] = ()
    # Step 1 of a Kubernetes upgrade (docs/deploying.md, "Upgrading Kubernetes"): the next minor, whose row's EKS
    # add-on versions this deploy installs while the control plane stays on ``kubernetes_version`` (kube-proxy, built
    # for one minor, stays). Step 2 sets ``kubernetes_version`` to it and this back to None. None: every pin is the
    # row of ``kubernetes_version``.
    addons_from: str | None = None

    def addon_row(self, name: str) -> str:
        """The row of config/eks_addons.py whose pin of add-on ``name`` this cluster runs."""
        return addon_row(self.kubernetes_version, name, self.addons_from)


@dataclass(frozen=True)
class DatabaseConfig:
    """Orders' Aurora PostgreSQL Serverless v2 cluster."""

    min_capacity_acu: float
    max_capacity_acu: float
    readers: int
    backup_retention_days: int
    # Deletion protection of the environment's data (the cluster, the tables, the user pool): on with removal retain
    # only, since CloudFormation must be able to delete them everywhere else (validated).
    deletion_protection: bool
    secret_rotation_days: int
    # With min_capacity_acu 0: idle seconds (no user connection) before Aurora pauses an instance; None otherwise.
    auto_pause_seconds: int | None = None


@dataclass(frozen=True)
class EmailConfig:
    """Mail the platform sends (Cognito's sign-up and recovery codes; later order notifications) goes out through
    Amazon SES from ``sender``, an address of the verified SES domain identity ``domain`` (DKIM records published
    from the Data stack's outputs; docs/deploying.md)."""

    domain: str
    sender: str
    sender_name: str
    # Whether the domain identity is verified (its DKIM records published and seen by SES). Until it is, Cognito
    # sends its codes with its own sender: a user pool created or updated with an SES identity that is still pending
    # fails ("Email address is not verified"), and the identity is created by the same deploy, so a first deploy
    # cannot have a verified one. Set it once `make account-check ENV=...` reports the identity verified; from
    # then on account-check proves it before every deploy (docs/deploying.md, "Mail").
    ses_identity_verified: bool = False


@dataclass(frozen=True)
class DeliveryConfig:
    """GitHub Actions' OIDC provider: an account holds one per URL. Empty: the Delivery stack creates it; otherwise
    the ARN of the provider the account already has, which the deploy role then trusts:
    ``arn:aws:iam::ACCOUNT:oidc-provider/token.actions.githubusercontent.com``."""

    existing_oidc_provider_arn: str = ""


@dataclass(frozen=True)
class MessagingConfig:
    """Queues and how consumers retry (services/common/consumer.py).

    A consumer dead-letters a message itself, with the reason, when it can never be applied; it retries a message
    whose failure is transient (a dependency down, an ordering wait) for ``retry_budget_seconds``, its visibility
    backing off exponentially up to ``retry_backoff_max_seconds`` (dependency down) or
    ``ordering_backoff_max_seconds`` (ordering wait). ``dlq_max_receive_count`` is then only a safety net for
    messages that crash the consumer: validation keeps it above any receive count those schedules reach within the
    budget, so a transient failure can never reach the DLQ through it.
    """

    dlq_max_receive_count: int
    message_retention_days: int
    dlq_retention_days: int
    visibility_timeout_seconds: int
    retry_budget_seconds: int
    retry_backoff_max_seconds: int
    ordering_backoff_max_seconds: int

    def receives_within_budget(self) -> int:
        """The most receives one message can reach while retried within the budget, on either schedule."""

        def receives(first: int, cap: int) -> int:
            elapsed, n = 0, 0
            while elapsed <= self.retry_budget_seconds:
                n += 1
                elapsed += min(first * 2 ** min(n - 1, 30), cap)
            return n

        return max(receives(2, self.retry_backoff_max_seconds), receives(1, self.ordering_backoff_max_seconds))

    def consumer_environment(self) -> dict[str, str]:
        """What every consuming service reads (services/common/consumer.py RetryPolicy)."""
        return {
            CONSUMER_RETRY_BUDGET_ENV: str(self.retry_budget_seconds),
            CONSUMER_BACKOFF_MAX_ENV: str(self.retry_backoff_max_seconds),
            CONSUMER_ORDERING_BACKOFF_MAX_ENV: str(self.ordering_backoff_max_seconds),
        }


@dataclass(frozen=True)
class OrdersConfig:
    """Deadlines of the open order states, enforced by the orders worker's sweeper, and its database pool."""

    pending_reservation_deadline_seconds: int  # PENDING: the reservation outcome must arrive within this
    awaiting_payment_deadline_seconds: int  # RESERVED: the payment must arrive within this
    # How often the sweeper looks for outbox leftovers and expired orders when it knows of no earlier deadline; in
    # dev longer than Aurora's auto-pause delay (300 s), so that an idle database can pause between sweeps.
    sweep_interval_seconds: int
    db_pool_max_idle_seconds: int  # a pooled connection unused this long is closed

    def environment(self) -> dict[str, str]:
        """What the orders service reads (services/orders/settings.py)."""
        return {
            ORDER_PENDING_DEADLINE_ENV: str(self.pending_reservation_deadline_seconds),
            ORDER_PAYMENT_DEADLINE_ENV: str(self.awaiting_payment_deadline_seconds),
            ORDER_SWEEP_INTERVAL_ENV: str(self.sweep_interval_seconds),
            DB_POOL_MAX_IDLE_ENV: str(self.db_pool_max_idle_seconds),
        }


class ApiClient(StrEnum):
    """Who calls the public API with an API key. Each has a key of its own in a usage plan of its own, so a canary
    or a load test never spends the storefront's throttle or quota (customers answered 429)."""

    STOREFRONT = "storefront"  # the shop's web front end (config.js)
    SYNTHETICS = "synthetics"  # the Synthetics canaries and the smoke test after each deploy (the same journeys)
    LOAD = "load"  # the load generator (`make load`)


# The tag naming the client of each API key and usage plan (cdk_constructs/platform_api.py; the local edge reads it).
API_CLIENT_TAG = "api-client"


@dataclass(frozen=True)
class UsagePlanLimits:
    """One API client's usage plan: its key's steady rate and burst (requests per second) and its daily quota."""

    throttle_rate_limit: int
    throttle_burst_limit: int
    quota_requests_per_day: int


@dataclass(frozen=True)
class ApiConfig:
    """The public API. ``throttle_*`` and ``quota_requests_per_day``: the storefront's usage plan; ``synthetics`` and
    ``load``: the plans of the canaries (with the smoke test) and of the load generator. The stage's throttle is the
    sum of the plans (``stage_throttle``): it caps the backends' total, while each client is held to its own plan, so
    one client at its limit leaves the others theirs."""

    throttle_rate_limit: int
    throttle_burst_limit: int
    quota_requests_per_day: int
    waf_rate_limit_per_5_min: int
    synthetics: UsagePlanLimits
    load: UsagePlanLimits
    # Whether the smoke test after each deploy may publish PaymentConfirmed, as the payment provider does, to see its
    # order confirmed (docs/smoke.md). Where it may not, its order is cancelled instead.
    smoke_test_pays: bool = True

    @property
    def usage_plans(self) -> dict[ApiClient, UsagePlanLimits]:
        return {ApiClient.STOREFRONT: UsagePlanLimits(self.throttle_rate_limit, self.throttle_burst_limit,
                                                      self.quota_requests_per_day),
                ApiClient.SYNTHETICS: self.synthetics, ApiClient.LOAD: self.load}

    @property
    def stage_throttle(self) -> tuple[int, int]:
        """(rate, burst) of the stage: every client at its plan's limit at once still gets through."""
        plans = self.usage_plans.values()
        return sum(p.throttle_rate_limit for p in plans), sum(p.throttle_burst_limit for p in plans)


class PriceClass(StrEnum):
    """CloudFront's price classes: which edge locations serve the storefront (docs/cost.md)."""

    PRICE_CLASS_100 = "PriceClass_100"  # North America, Europe, Israel
    PRICE_CLASS_200 = "PriceClass_200"  # ... and most of Asia, the Middle East and Africa
    PRICE_CLASS_ALL = "PriceClass_All"


@dataclass(frozen=True)
class WebConfig:
    """The storefront (the Web stacks): CloudFront serves it at ``https://<domain_name>`` with an ACM certificate
    (us-east-1) validated in the Route 53 hosted zone ``hosted_zone_name`` (id ``hosted_zone_id``), which also gets
    the alias records. That origin is known before any stack exists, so the Edge stack's CORS and the services name
    it from config while the Web stack takes the API's URL from the Edge stack: no dependency cycle
    (docs/architecture.md, "The storefront"). ``redirect_domain_names`` answer with a redirect to the domain (e.g.
    www.), as does the distribution's own ``*.cloudfront.net`` name."""

    domain_name: str
    hosted_zone_id: str
    hosted_zone_name: str
    waf_rate_limit_per_5_min: int
    redirect_domain_names: tuple[str, ...] = ()
    price_class: PriceClass = PriceClass.PRICE_CLASS_100

    @property
    def origin(self) -> str:
        """The storefront's origin: the one the API's CORS allows and that serves the storefront."""
        return f"https://{self.domain_name}"

    @property
    def domain_names(self) -> tuple[str, ...]:
        return (self.domain_name, *self.redirect_domain_names)


@dataclass(frozen=True)
class WorkloadSizing:
    """Kubernetes sizing of one component (API or worker) of every service."""

    min_replicas: int
    max_replicas: int
    cpu_request_millicores: int
    cpu_limit_millicores: int
    memory_request_mib: int
    memory_limit_mib: int
    target_cpu_utilization_percent: int


@dataclass(frozen=True)
class ServiceSizing:
    """The API (HTTP behind the NLB, spread over the zones) and the worker (queue consumers and outbox relay) of each
    service are sized apart: the workers idle on long polls and need a fraction of the API's CPU."""

    api: WorkloadSizing
    worker: WorkloadSizing

    def of(self, component: str) -> WorkloadSizing:
        return {"api": self.api, "worker": self.worker}[component]


@dataclass(frozen=True)
class AlarmConfig:
    """Thresholds and evaluation periods every alarm reads (Observability)."""

    email_subscriptions: tuple[str, ...]
    evaluation_periods: int
    api_5xx_rate_percent: float
    api_4xx_rate_percent: float
    api_p99_latency_ms: int
    pod_cpu_percent_of_limit: int
    pod_memory_percent_of_limit: int
    pod_restarts: int
    dlq_oldest_message_age_seconds: int
    database_cpu_percent: int
    database_connections: int
    database_freeable_memory_mib: int
    database_capacity_percent: int
    node_cpu_percent: int
    node_memory_percent: int
    waf_blocked_requests_per_5_min: int
    outbox_backlog: int
    # A consumer that stopped consuming: the oldest message of a (non-dead-letter) queue is older than this.
    queue_oldest_message_age_seconds: int
    # Open orders the sweeper found past their deadline in one sweep (payments or reservations not arriving).
    orders_past_deadline: int
    # Restarts of worker loops (consumers, relay, sweeper) that failed unexpectedly, per 15 minutes.
    worker_loop_restarts: int
    # Notification emails (users worker): failed SES attempts in 5 minutes, and notifications waiting to be sent.
    notification_send_failures: int = 10
    notification_backlog: int = 100
    # The SES account's reputation (CloudWatch AWS/SES, over every sender of the account). SES reviews an account at
    # a bounce rate of 5% and a complaint rate of 0.1%; these alarm before that.
    ses_bounce_rate_percent: float = 4.0
    ses_complaint_rate_percent: float = 0.08


@dataclass(frozen=True)
class RouteGroupObjective:
    """The objectives of one route group (config/slo.py ROUTE_GROUPS) over the environment's window: the share of
    its requests answered without a 5xx, and the share answered within ``latency_ms``."""

    group: str
    availability_percent: float
    latency_ms: int
    latency_percent: float


@dataclass(frozen=True)
class ObjectivesConfig:
    """Service level objectives per public route group, their error budgets over ``window_days`` (drawn on the
    overview dashboard), and whether their burn rate pages (config/slo.py BURN_ALERTS). A burn-rate window with
    fewer than ``min_requests_per_hour`` requests (pro rata for the short windows) does not alarm: at canary-only
    traffic one failed request in an hour would otherwise page."""

    window_days: int
    objectives: tuple[RouteGroupObjective, ...]
    alerting: bool
    min_requests_per_hour: int

    def of(self, group: str) -> RouteGroupObjective:
        return next(o for o in self.objectives if o.group == group)


@dataclass(frozen=True)
class FaultConfig:
    """AWS FIS experiment templates for the faults `make chaos` simulates locally (cdk_constructs/fault_experiments.py),
    started by `make fault`: each fault lasts ``fault_minutes`` (network cuts) and touches ``percent`` of its targets
    (pods of a service, instances of a node group)."""

    fault_minutes: int
    percent: int


@dataclass(frozen=True)
class SyntheticsConfig:
    """The synthetic customers: a CloudWatch Synthetics canary running the smoke test's workflows against the
    public API every ``interval_minutes`` (in an environment with working hours, only while its nodes are awake),
    alarmed after ``failed_runs_to_alarm`` failed runs in a row and when a run takes longer than
    ``duration_alarm_seconds`` that often; its artifacts (logs, reports) kept ``artifact_retention_days``."""

    interval_minutes: int
    timeout_seconds: int
    failed_runs_to_alarm: int
    duration_alarm_seconds: int
    artifact_retention_days: int


@dataclass(frozen=True)
class UsageAssumptions:
    """Monthly work used by the offline cost report (`make cost`)."""

    api_requests_per_month: int
    orders_per_month: int
    stored_gib_dynamodb: float
    stored_gib_database: float
    nat_processed_gib: float
    log_ingested_gib: float
    # Added for the cost report (tools/reports/cost): each is a monthly total for the whole environment.
    monthly_active_users: int  # Cognito MAUs
    events_per_month: int  # SNS publishes (every domain event)
    dynamodb_read_units_per_month: int  # read request units over all tables
    dynamodb_write_units_per_month: int  # write request units over all tables (before GSI amplification)
    database_io_requests_per_month: int  # Aurora standard storage I/O requests
    database_acu_hours_above_min: float  # per Aurora instance: ACU-hours above the minimum-capacity floor
    endpoint_processed_gib: float  # traffic through interface endpoints (what would otherwise cross a NAT)
    custom_metrics: int  # Container Insights and application metrics
    api_kib_per_request: float  # request + response size through API Gateway and the NLB
    s3_stored_gib: float  # objects in the environment's buckets (access logs)
    # The storefront (Web stacks): page views a month (each loads index.html, config.js and its hashed assets
    # once, then caches them) and what CloudFront sends per view.
    web_page_views_per_month: int
    web_kib_per_page_view: float

    # Operations (#27): hours of load tests a month (the load pool's nodes run only then) and the minutes FIS
    # actions run in a month of fault experiments (FIS bills per action-minute).
    load_test_hours_per_month: float = 0.0
    fault_action_minutes_per_month: float = 0.0


@dataclass(frozen=True)
class PreflightAcknowledgement:
    """A failure `make preflight` computes and this environment accepts: the report prints it as acknowledged, with
    ``reason``, instead of failing. ``check`` is the check's name (``deploy-duration``); the acknowledgement covers
    the findings of that check whose resource contains ``resource`` (a logical id, ``Deployment orders/orders-api``).
    One that matches no finding fails the check, so none outlives what it acknowledged."""

    check: str
    resource: str
    reason: str


@dataclass(frozen=True)
class DeployLimits:
    """How long a deploy of the environment may take by `make preflight`'s estimate (deploy-duration fails above):
    a first deploy of every stack, and a change of one service's code (its image and the Services stack)."""

    first_deploy_minutes: float = 60
    code_update_minutes: float = 10


@dataclass(frozen=True)
class EnvironmentConfig:
    name: str
    account: str
    region: str
    network: NetworkConfig
    cluster: ClusterConfig
    database: DatabaseConfig
    messaging: MessagingConfig
    api: ApiConfig
    web: WebConfig
    services: ServiceSizing
    alarms: AlarmConfig
    usage: UsageAssumptions
    orders: OrdersConfig
    objectives: ObjectivesConfig
    synthetics: SyntheticsConfig
    log_retention_days: int
    removal: RemovalMode
    email: EmailConfig
    tags: dict[str, str] = field(default_factory=dict)
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    # "owner/name" of the GitHub repository whose workflows deploy this environment (Delivery stack's OIDC trust).
    github_repository: str = "example-org/ecommerce-platform"
    # Cognito feature plan of the user pool, and the CloudWatch dashboards the environment keeps.
    user_pool_tier: UserPoolTier = UserPoolTier.PLUS
    dashboards: DashboardSet = DashboardSet.ALL
    # The monthly estimate (`make cost`) this environment may reach; `make cost-diff` fails a change that exceeds it.
    monthly_budget_usd: float = 0.0
    # Share of root spans (requests, messages without a trace) the services sample (OTEL_TRACES_SAMPLER_ARG,
    # services/common/tracing.py); every later span of a trace follows its root, so a sampled order is one whole
    # trace and an unsampled one costs no span anywhere.
    trace_sampling_ratio: float = 1.0
    # Failures the preflight computes and this environment accepts, each with the reason its report prints.
    preflight_acknowledgements: tuple[PreflightAcknowledgement, ...] = ()
    deploy_limits: DeployLimits = field(default_factory=DeployLimits)
    # None: no fault experiment templates (they need the burn-rate alarms as their stop conditions).
    faults: FaultConfig | None = None

    @property
    def stack_prefix(self) -> str:
        """``dev`` -> ``Dev``: stacks are named ``<Env>-<Part>`` so environments share an account."""
        return self.name[:1].upper() + self.name[1:]

    @property
    def termination_protection(self) -> bool:
        return self.removal != RemovalMode.DESTROY

    def validate(self) -> EnvironmentConfig:
        _validate(self)
        return self


def _check(ok: bool, key: str, value: object, allowed: str) -> None:
    if not ok:
        raise ConfigError(key, value, allowed)


def _validate(c: EnvironmentConfig) -> None:
    p = c.name
    _check(bool(re.fullmatch(r"[a-z][a-z0-9]{1,15}", c.name)), f"{p}.name", c.name, "lowercase letters and digits")
    _check(bool(re.fullmatch(r"\d{12}", c.account)), f"{p}.account", c.account, "a 12-digit AWS account id")
    _check(bool(re.fullmatch(r"[a-z]{2}(-gov)?-[a-z]+-\d", c.region)), f"{p}.region", c.region,
           "an AWS region name such as eu-west-1")
    _check(c.log_retention_days in LOG_RETENTION_DAYS, f"{p}.log_retention_days", c.log_retention_days,
           f"one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
    _check(isinstance(c.removal, RemovalMode), f"{p}.removal", c.removal,
           ", ".join(m.value for m in RemovalMode))
    _check(bool(re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}", c.github_repository))
           and not c.github_repository.endswith((".git", "/.", "/..")), f"{p}.github_repository",
           c.github_repository, "a GitHub repository as owner/name, e.g. example-org/ecommerce-platform")

    e = c.email
    dns_name = r"(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
    _check(bool(re.fullmatch(dns_name, e.domain)), f"{p}.email.domain", e.domain, "a DNS domain, e.g. shop.example.com")
    _check(bool(re.fullmatch(r"[a-z0-9._%+-]+@" + re.escape(e.domain), e.sender)), f"{p}.email.sender", e.sender,
           f"an address of the SES domain {e.domain}, e.g. no-reply@{e.domain}")
    _check(0 < len(e.sender_name) <= 64 and '"' not in e.sender_name, f"{p}.email.sender_name", e.sender_name,
           "1 to 64 characters, no double quote")
    arn = c.delivery.existing_oidc_provider_arn
    _check(arn == "" or bool(re.fullmatch(rf"arn:aws[a-z-]*:iam::{c.account}:oidc-provider/"
                                          r"token\.actions\.githubusercontent\.com", arn)),
           f"{p}.delivery.existing_oidc_provider_arn", arn,
           f"empty (create it) or arn:aws:iam::{c.account}:oidc-provider/token.actions.githubusercontent.com")

    n = c.network
    try:
        net = ipaddress.ip_network(n.cidr)
        cidr_ok = net.version == 4 and 16 <= net.prefixlen <= 20
    except ValueError:
        cidr_ok = False
    _check(cidr_ok, f"{p}.network.cidr", n.cidr, "an IPv4 CIDR from /16 to /20")
    azs = n.availability_zones
    _check(len(azs) == 3 and len(set(azs)) == 3 and all(az.startswith(c.region) and len(az) == len(c.region) + 1
                                                          for az in azs),
           f"{p}.network.availability_zones", list(azs), f"3 distinct zones of {c.region}, e.g. {c.region}a")
    _check(1 <= n.nat_gateways <= len(azs), f"{p}.network.nat_gateways", n.nat_gateways,
           f"1 to {len(azs)} (one per availability zone at most)")
    bad = [e for e in n.interface_endpoints if e not in INTERFACE_ENDPOINTS]
    _check(not bad and len(set(n.interface_endpoints)) == len(n.interface_endpoints),
           f"{p}.network.interface_endpoints", list(n.interface_endpoints),
           f"distinct names from {', '.join(INTERFACE_ENDPOINTS)}")
    _check(n.flow_log_retention_days in LOG_RETENTION_DAYS, f"{p}.network.flow_log_retention_days",
           n.flow_log_retention_days, f"one of {', '.join(map(str, LOG_RETENTION_DAYS))}")

    k = c.cluster
    _check(k.kubernetes_version in KUBERNETES_VERSIONS, f"{p}.cluster.kubernetes_version", k.kubernetes_version,
           ", ".join(KUBERNETES_VERSIONS))
    if k.addons_from is not None and k.kubernetes_version in KUBERNETES_VERSIONS:
        major, minor = k.kubernetes_version.split(".")
        following = f"{major}.{int(minor) + 1}"
        _check(k.addons_from == following and following in KUBERNETES_VERSIONS, f"{p}.cluster.addons_from",
               k.addons_from, f"None, or {following} (the next minor, with a row in config/eks_addons.py)")
    _check(all(re.fullmatch(rf"arn:aws[a-z-]*:iam::{c.account}:role/[\w+=,.@/-]+", a) for a in k.admin_role_arns)
           and len(set(k.admin_role_arns)) == len(k.admin_role_arns),
           f"{p}.cluster.admin_role_arns", list(k.admin_role_arns), f"distinct IAM role ARNs of account {c.account}")
    _check(len(k.node_pools) >= 1, f"{p}.cluster.node_pools", len(k.node_pools), "at least one node pool")
    names = [pool.name for pool in k.node_pools]
    _check(len(set(names)) == len(names), f"{p}.cluster.node_pools", names, "distinct pool names")
    for pool in k.node_pools:
        key = f"{p}.cluster.node_pools.{pool.name}"
        _check(bool(re.fullmatch(r"[a-z][a-z0-9-]{0,30}", pool.name)), f"{key}.name", pool.name,
               "lowercase letters, digits and dashes")
        _check(bool(pool.instance_types) and all(GRAVITON_FAMILIES.match(t) for t in pool.instance_types),
               f"{key}.instance_types", list(pool.instance_types), "Graviton (arm64) instance types, e.g. m7g.large")
        _check(isinstance(pool.capacity, CapacityKind), f"{key}.capacity", pool.capacity, "ON_DEMAND, SPOT")
        _check(pool.capacity != CapacityKind.SPOT or len(pool.instance_types) >= 2, f"{key}.instance_types",
               list(pool.instance_types), "at least 2 types for a SPOT pool (diversified capacity)")
        _check(0 <= pool.min_size <= pool.desired_size <= pool.max_size and pool.max_size >= 1,
               f"{key}.desired_size", pool.desired_size, f"0 <= min ({pool.min_size}) <= desired <= max "
                                                          f"({pool.max_size}), max >= 1")
        _check(20 <= pool.disk_gib <= 500, f"{key}.disk_gib", pool.disk_gib, "20 to 500")
        _check(pool.dedicated_to == "" or (bool(re.fullmatch(r"[a-z][a-z0-9-]{0,30}", pool.dedicated_to))
                                           and pool.min_size == 0),
               f"{key}.dedicated_to", pool.dedicated_to,
               "empty, or a lowercase name on a pool of min_size 0 (it holds nodes only while its workload runs)")
    # Orders pods carry their own security group (branch ENIs): some on-demand pool must take them, so that they
    # are scheduled on day one and survive a Spot reclaim.
    if k.schedule is not None:
        _validate_schedule(k.schedule, f"{p}.cluster.schedule")
        for pool in k.node_pools:
            # A sleeping group is parked at min 0, desired 0, max 1: waking to the same sizes would change nothing.
            _check((pool.min_size, pool.desired_size, pool.max_size) != (0, 0, 1),
                   f"{p}.cluster.node_pools.{pool.name}.max_size", pool.max_size,
                   "2 or more for a pool of min and desired 0 in an environment with a schedule")
    pod_eni_pools = [pool.name for pool in k.node_pools if pool.pod_eni and pool.capacity == CapacityKind.ON_DEMAND
                     and pool.max_size >= 1 and not pool.dedicated_to]
    _check(bool(pod_eni_pools), f"{p}.cluster.node_pools", names,
           f"at least one ON_DEMAND pool made only of trunk-ENI types ({', '.join(TRUNK_ENI_FAMILIES)}) for pods "
           "with their own security group")

    d = c.database
    _check(d.min_capacity_acu in AURORA_ACU_STEPS and d.min_capacity_acu <= 256, f"{p}.database.min_capacity_acu",
           d.min_capacity_acu, "0 to 256 in steps of 0.5")
    _check(d.max_capacity_acu in AURORA_ACU_STEPS and 1 <= d.max_capacity_acu <= 256
           and d.max_capacity_acu >= d.min_capacity_acu,
           f"{p}.database.max_capacity_acu", d.max_capacity_acu, "1 to 256 in steps of 0.5, >= min_capacity_acu")
    _check(0 <= d.readers <= 15, f"{p}.database.readers", d.readers, "0 to 15")
    _check(1 <= d.backup_retention_days <= 35, f"{p}.database.backup_retention_days", d.backup_retention_days,
           "1 to 35")
    _check(1 <= d.secret_rotation_days <= 365, f"{p}.database.secret_rotation_days", d.secret_rotation_days,
           "1 to 365")
    _check(d.deletion_protection == (c.removal == RemovalMode.RETAIN), f"{p}.database.deletion_protection",
           d.deletion_protection, "True when removal is retain (the data outlives the stack), False otherwise: "
           "destroy and snapshot have CloudFormation delete the database, which protection refuses")
    if d.min_capacity_acu == 0:
        _check(d.auto_pause_seconds is not None and 300 <= d.auto_pause_seconds <= 86400,
               f"{p}.database.auto_pause_seconds", d.auto_pause_seconds,
               "300 to 86400 (Aurora's range) when min_capacity_acu is 0")
    else:
        _check(d.auto_pause_seconds is None, f"{p}.database.auto_pause_seconds", d.auto_pause_seconds,
               "None unless min_capacity_acu is 0 (only an instance that can scale to 0 ACU pauses)")

    m = c.messaging
    _check(1 <= m.dlq_max_receive_count <= 1000, f"{p}.messaging.dlq_max_receive_count", m.dlq_max_receive_count,
           "1 to 1000")
    _check(1 <= m.message_retention_days <= 14, f"{p}.messaging.message_retention_days", m.message_retention_days,
           "1 to 14")
    _check(m.message_retention_days <= m.dlq_retention_days <= 14, f"{p}.messaging.dlq_retention_days",
           m.dlq_retention_days, "message_retention_days to 14 (a DLQ keeps messages at least as long)")
    _check(10 <= m.visibility_timeout_seconds <= 43200, f"{p}.messaging.visibility_timeout_seconds",
           m.visibility_timeout_seconds, "10 to 43200")
    retention = m.message_retention_days * 86400
    _check(3600 <= m.retry_budget_seconds <= retention // 2, f"{p}.messaging.retry_budget_seconds",
           m.retry_budget_seconds, f"3600 (an hour) to {retention // 2} (half the queues' retention, so a message "
                                   f"being retried cannot expire first)")
    _check(10 <= m.retry_backoff_max_seconds <= min(SQS_MAX_VISIBILITY_SECONDS, m.retry_budget_seconds),
           f"{p}.messaging.retry_backoff_max_seconds", m.retry_backoff_max_seconds,
           f"10 to {min(SQS_MAX_VISIBILITY_SECONDS, m.retry_budget_seconds)} (SQS's largest visibility, the budget)")
    _check(1 <= m.ordering_backoff_max_seconds <= m.retry_backoff_max_seconds,
           f"{p}.messaging.ordering_backoff_max_seconds", m.ordering_backoff_max_seconds,
           f"1 to retry_backoff_max_seconds ({m.retry_backoff_max_seconds})")
    reachable = m.receives_within_budget()
    _check(reachable < m.dlq_max_receive_count <= SQS_MAX_RECEIVE_COUNT, f"{p}.messaging.dlq_max_receive_count",
           m.dlq_max_receive_count, f"{reachable + 1} to {SQS_MAX_RECEIVE_COUNT} (above the {reachable} receives a "
                                    f"message retried for retry_budget_seconds can reach, so only crashes hit it)")

    o = c.orders
    _check(30 <= o.pending_reservation_deadline_seconds <= 86400, f"{p}.orders.pending_reservation_deadline_seconds",
           o.pending_reservation_deadline_seconds, "30 to 86400")
    _check(30 <= o.awaiting_payment_deadline_seconds <= 7 * 86400, f"{p}.orders.awaiting_payment_deadline_seconds",
           o.awaiting_payment_deadline_seconds, "30 to 604800 (7 days)")
    _check(1 <= o.sweep_interval_seconds <= 3600, f"{p}.orders.sweep_interval_seconds", o.sweep_interval_seconds,
           "1 to 3600")
    _check(1 <= o.db_pool_max_idle_seconds <= 3600, f"{p}.orders.db_pool_max_idle_seconds",
           o.db_pool_max_idle_seconds, "1 to 3600")

    a = c.api
    for client, plan in a.usage_plans.items():
        key = f"{p}.api" if client is ApiClient.STOREFRONT else f"{p}.api.{client.value}"
        _check(1 <= plan.throttle_rate_limit <= 10000, f"{key}.throttle_rate_limit", plan.throttle_rate_limit,
               "1 to 10000")
        _check(plan.throttle_rate_limit <= plan.throttle_burst_limit <= 5000, f"{key}.throttle_burst_limit",
               plan.throttle_burst_limit, "throttle_rate_limit to 5000")
        _check(plan.quota_requests_per_day >= 1, f"{key}.quota_requests_per_day", plan.quota_requests_per_day, ">= 1")
    # API Gateway's account-level defaults per region: 10000 requests per second, bursts of 5000.
    stage_rate, stage_burst = a.stage_throttle
    _check(stage_rate <= 10000, f"{p}.api.throttle_rate_limit", stage_rate,
           "the usage plans' rates summing to at most 10000 (the stage's throttle, within the account's)")
    _check(stage_burst <= 5000, f"{p}.api.throttle_burst_limit", stage_burst,
           "the usage plans' bursts summing to at most 5000 (the stage's throttle, within the account's)")
    _check(100 <= a.waf_rate_limit_per_5_min <= 2_000_000_000, f"{p}.api.waf_rate_limit_per_5_min",
           a.waf_rate_limit_per_5_min, "100 to 2000000000 (WAF's range)")

    w = c.web
    for key, name in (("domain_name", w.domain_name), ("hosted_zone_name", w.hosted_zone_name),
                      *(("redirect_domain_names", r) for r in w.redirect_domain_names)):
        _check(bool(re.fullmatch(dns_name, name)), f"{p}.web.{key}", name, "a DNS name, e.g. shop.example.com")
    for name in w.domain_names:
        _check(name == w.hosted_zone_name or name.endswith("." + w.hosted_zone_name), f"{p}.web.domain_name", name,
               f"a name in the hosted zone {w.hosted_zone_name} (its alias records and certificate validation go "
               "there)")
    _check(len(set(w.domain_names)) == len(w.domain_names), f"{p}.web.redirect_domain_names",
           list(w.redirect_domain_names), f"names other than {w.domain_name}, each once")
    _check(bool(re.fullmatch(r"Z[A-Z0-9]{1,31}", w.hosted_zone_id)), f"{p}.web.hosted_zone_id", w.hosted_zone_id,
           "a Route 53 hosted zone id, e.g. Z0123456789ABCDEFGHIJ")
    _check(100 <= w.waf_rate_limit_per_5_min <= 2_000_000_000, f"{p}.web.waf_rate_limit_per_5_min",
           w.waf_rate_limit_per_5_min, "100 to 2000000000 (WAF's range)")
    _check(isinstance(w.price_class, PriceClass), f"{p}.web.price_class", w.price_class,
           ", ".join(c_.value for c_ in PriceClass))

    for component in ("api", "worker"):
        s = c.services.of(component)
        key = f"{p}.services.{component}"
        _check(1 <= s.min_replicas <= s.max_replicas <= 50, f"{key}.max_replicas", s.max_replicas,
               f"min_replicas ({s.min_replicas}) to 50")
        _check(25 <= s.cpu_request_millicores <= s.cpu_limit_millicores <= 4000, f"{key}.cpu_limit_millicores",
               s.cpu_limit_millicores, f"cpu_request_millicores ({s.cpu_request_millicores}) to 4000")
        _check(64 <= s.memory_request_mib <= s.memory_limit_mib <= 8192, f"{key}.memory_limit_mib",
               s.memory_limit_mib, f"memory_request_mib ({s.memory_request_mib}) to 8192")
        _check(10 <= s.target_cpu_utilization_percent <= 100, f"{key}.target_cpu_utilization_percent",
               s.target_cpu_utilization_percent, "10 to 100")

    al = c.alarms
    for f_ in fields(al):
        value = getattr(al, f_.name)
        if f_.name == "email_subscriptions":
            _check(all(re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", e) for e in value), f"{p}.alarms.{f_.name}",
                   list(value), "email addresses")
        else:
            _check(isinstance(value, (int, float)) and value > 0, f"{p}.alarms.{f_.name}", value, "a number > 0")
    for pct in ("pod_cpu_percent_of_limit", "pod_memory_percent_of_limit", "database_cpu_percent",
                "database_capacity_percent", "node_cpu_percent", "node_memory_percent", "api_5xx_rate_percent",
                "api_4xx_rate_percent", "ses_bounce_rate_percent", "ses_complaint_rate_percent"):
        _check(getattr(al, pct) <= 100, f"{p}.alarms.{pct}", getattr(al, pct), "0 to 100 (percent)")
    retention_seconds = c.messaging.message_retention_days * 86400
    _check(al.queue_oldest_message_age_seconds < retention_seconds, f"{p}.alarms.queue_oldest_message_age_seconds",
           al.queue_oldest_message_age_seconds, f"less than the queues' retention ({retention_seconds} s)")

    for i, ack in enumerate(c.preflight_acknowledgements):
        key = f"{p}.preflight_acknowledgements[{i}]"
        _check(bool(re.fullmatch(r"[a-z][a-z-]*", ack.check)), f"{key}.check", ack.check, "a preflight check's name")
        _check(bool(ack.resource.strip()), f"{key}.resource", ack.resource, "the resource the finding names")
        _check(len(ack.reason.strip()) >= 40, f"{key}.reason", ack.reason,
               "a reason of 40 characters or more, specific to the resource (the report prints it)")
    lim = c.deploy_limits
    for name_ in ("first_deploy_minutes", "code_update_minutes"):
        _check(isinstance(getattr(lim, name_), (int, float)) and 0 < getattr(lim, name_) <= 600,
               f"{p}.deploy_limits.{name_}", getattr(lim, name_), "minutes, more than 0 and at most 600")
    _check(isinstance(c.user_pool_tier, UserPoolTier), f"{p}.user_pool_tier", c.user_pool_tier,
           ", ".join(t.value for t in UserPoolTier))
    _check(isinstance(c.dashboards, DashboardSet), f"{p}.dashboards", c.dashboards,
           ", ".join(d_.value for d_ in DashboardSet))
    _check(isinstance(c.monthly_budget_usd, (int, float)) and c.monthly_budget_usd > 0, f"{p}.monthly_budget_usd",
           c.monthly_budget_usd, "a monthly amount in USD > 0")
    _check(isinstance(c.trace_sampling_ratio, (int, float)) and not isinstance(c.trace_sampling_ratio, bool)
           and 0 <= c.trace_sampling_ratio <= 1, f"{p}.trace_sampling_ratio", c.trace_sampling_ratio,
           "a ratio from 0 to 1 (1: every trace)")

    _validate_objectives(c.objectives, f"{p}.objectives")
    if c.faults is not None:
        _check(c.objectives.alerting, f"{p}.faults", "set", "None unless objectives.alerting (the burn-rate alarms "
                                                            "are every experiment's stop condition)")
        _check(1 <= c.faults.fault_minutes <= 60, f"{p}.faults.fault_minutes", c.faults.fault_minutes, "1 to 60")
        _check(1 <= c.faults.percent <= 100, f"{p}.faults.percent", c.faults.percent, "1 to 100")
    y, key = c.synthetics, f"{p}.synthetics"
    _check(y.interval_minutes in (1, 2, 5, 10, 15, 30, 60), f"{key}.interval_minutes", y.interval_minutes,
           "1, 2, 5, 10, 15, 30 or 60 (a divisor of the hour, so runs keep the same minutes every hour)")
    _check(60 <= y.timeout_seconds <= min(840, y.interval_minutes * 60), f"{key}.timeout_seconds",
           y.timeout_seconds, f"60 to {min(840, y.interval_minutes * 60)} (Synthetics' 14 minutes, and within "
                              "the interval so that runs never overlap)")
    _check(1 <= y.failed_runs_to_alarm <= 10, f"{key}.failed_runs_to_alarm", y.failed_runs_to_alarm, "1 to 10")
    _check(1 <= y.duration_alarm_seconds < y.timeout_seconds, f"{key}.duration_alarm_seconds",
           y.duration_alarm_seconds, f"1 to {y.timeout_seconds - 1} (below the timeout, which fails the run)")
    _check(1 <= y.artifact_retention_days <= 455, f"{key}.artifact_retention_days", y.artifact_retention_days,
           "1 to 455 (Synthetics' longest run retention)")

    u = c.usage
    for f_ in fields(u):
        _check(getattr(u, f_.name) >= 0, f"{p}.usage.{f_.name}", getattr(u, f_.name), ">= 0")
    _check(u.api_kib_per_request > 0, f"{p}.usage.api_kib_per_request", u.api_kib_per_request, "> 0")
    acu_room = (d.max_capacity_acu - d.min_capacity_acu) * HOURS_PER_MONTH
    _check(u.database_acu_hours_above_min <= acu_room, f"{p}.usage.database_acu_hours_above_min",
           u.database_acu_hours_above_min, f"0 to {acu_room:g} ((max - min capacity) x {HOURS_PER_MONTH} h)")


def _validate_objectives(o: ObjectivesConfig, key: str) -> None:
    _check(isinstance(o.window_days, int) and 7 <= o.window_days <= 31, f"{key}.window_days", o.window_days,
           "7 to 31 days (28: four whole weeks, the SRE workbook's window)")
    _check(isinstance(o.min_requests_per_hour, int) and o.min_requests_per_hour >= 0,
           f"{key}.min_requests_per_hour", o.min_requests_per_hour, "an integer >= 0")
    names = [g.group for g in o.objectives]
    _check(sorted(names) == sorted(ROUTE_GROUPS), f"{key}.objectives", names,
           f"one objective per route group: {', '.join(ROUTE_GROUPS)}")
    # A burn alert whose threshold exceeds the burn of every request failing could never fire: the objective must
    # leave a budget small enough for the fastest alert to be reachable.
    fastest = max(a.threshold(o.window_days) for a in BURN_ALERTS) if 7 <= o.window_days <= 31 else 1.0
    floor = 100 - 100 / fastest
    for objective in o.objectives:
        k = f"{key}.{objective.group}"
        for field_name in ("availability_percent", "latency_percent"):
            value = getattr(objective, field_name)
            _check(isinstance(value, (int, float)) and not isinstance(value, bool) and floor < value < 100,
                   f"{k}.{field_name}", value,
                   f"above {floor:.2f} and below 100 (at or under {floor:.2f}% even every request failing burns the "
                   f"budget slower than the {fastest:g}x page threshold)")
        _check(isinstance(objective.latency_ms, int) and 1 <= objective.latency_ms <= 29_000,
               f"{k}.latency_ms", objective.latency_ms, "1 to 29000 ms (API Gateway's integration timeout)")


def _validate_schedule(s: ComputeSchedule, key: str) -> None:
    try:
        zone_ok = bool(s.timezone) and zoneinfo.ZoneInfo(s.timezone) is not None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone_ok = False
    _check(zone_ok, f"{key}.timezone", s.timezone, "an IANA time zone, e.g. Europe/Dublin")
    _check(bool(s.days) and len(set(s.days)) == len(s.days) and all(d in WEEKDAYS for d in s.days),
           f"{key}.days", list(s.days), f"distinct days from {', '.join(WEEKDAYS)}")
    _check(isinstance(s.wake_hour, int) and 0 <= s.wake_hour <= 22, f"{key}.wake_hour", s.wake_hour, "0 to 22")
    _check(isinstance(s.sleep_hour, int) and s.wake_hour < s.sleep_hour <= 23, f"{key}.sleep_hour", s.sleep_hour,
           f"wake_hour + 1 ({s.wake_hour + 1}) to 23 (the same day)")


def as_dict(obj: Any) -> Any:
    """Plain-data view of a config (for reports and tests)."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: as_dict(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, (tuple, list)):
        return [as_dict(x) for x in obj]
    if isinstance(obj, dict):
        return {k: as_dict(v) for k, v in obj.items()}
    return obj
