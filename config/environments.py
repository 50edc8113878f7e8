"""The three environments. Account ids are placeholders: replace them with yours before the first deploy."""

from __future__ import annotations

from dataclasses import replace

from config.environment import (
    AlarmConfig,
    ApiConfig,
    CapacityKind,
    ClusterConfig,
    ComputeSchedule,
    ConfigError,
    DashboardSet,
    DatabaseConfig,
    EmailConfig,
    EnvironmentConfig,
    FaultConfig,
    MessagingConfig,
    NetworkConfig,
    NodePoolConfig,
    ObjectivesConfig,
    OrdersConfig,
    PreflightAcknowledgement,
    RemovalMode,
    RouteGroupObjective,
    ServiceSizing,
    SyntheticsConfig,
    UsageAssumptions,
    UsagePlanLimits,
    UserPoolTier,
    WebConfig,
    WorkloadSizing,
)

REGION = "eu-west-1"
AZS = ("eu-west-1a", "eu-west-1b", "eu-west-1c")
# The repository whose GitHub Actions deploy every environment (trusted by the Delivery stack's deploy roles).
GITHUB_REPOSITORY = "example-org/ecommerce-platform"
# Endpoints for the AWS APIs every pod and node calls on its hot path; the rest go through NAT.
CORE_ENDPOINTS = ("ecr.api", "ecr.dkr", "sts", "eks-auth", "sqs", "sns", "secretsmanager", "logs")
# Monthly budgets the cost gate holds each change to (`make cost-diff`): each environment's estimate at its usage
# assumptions plus about 10% headroom, room for a reviewed change of normal size, while a change that adds a NAT
# gateway, an endpoint set or a node pool's worth of cost has to raise the budget in the same pull request, where a
# reviewer sees both. Dev's was the issue's $250 until the storefront (issue 23: the CloudFront web ACL in us-east-1,
# its rules and logs key, about $10) and the synthetic customers' canary (issue 27, $2.41) took its estimate to $260.63
# (`make cost-all`, 2026-12-07); staging's went from $1,060 to $1,180 with the same two and its burn-rate pages and
# fault experiments (issue 27, $71) for an estimate of $1,075.79.
DEV_BUDGET = 285
STAGING_BUDGET = 1_180
# The load generator's nodes (`make load ENV=...`, a Kubernetes Job): Spot, from zero, tainted so that nothing else
# lands there; 4 vCPUs each run one Locust process with room for several hundred users.
LOAD_POOL = NodePoolConfig(name="load", instance_types=("c7g.xlarge", "m7g.xlarge"), capacity=CapacityKind.SPOT,
                           min_size=0, desired_size=0, max_size=2, dedicated_to="load-generator")
PROD_BUDGET = 7_100


def _email(domain: str) -> EmailConfig:
    """The environment's sending domain; notifications come from ``no-reply@`` it, signed "Shop"."""
    return EmailConfig(domain=domain, sender=f"no-reply@{domain}", sender_name="Shop")


# Dev and staging keep messages 4 days and retry a failing one for 4 hours; prod differs where its volume does.
MESSAGING = MessagingConfig(dlq_max_receive_count=200, message_retention_days=4, dlq_retention_days=14,
                            visibility_timeout_seconds=30, retry_budget_seconds=4 * 3600,
                            retry_backoff_max_seconds=300, ordering_backoff_max_seconds=120)
# Staging and prod sweep expired orders every minute and keep database connections for 5 minutes.
ORDERS = OrdersConfig(pending_reservation_deadline_seconds=900, awaiting_payment_deadline_seconds=1800,
                      sweep_interval_seconds=60, db_pool_max_idle_seconds=300)
# Staging's workers; prod's run more replicas of the same pod.
WORKER = WorkloadSizing(min_replicas=1, max_replicas=3, cpu_request_millicores=100, cpu_limit_millicores=500,
                        memory_request_mib=256, memory_limit_mib=512, target_cpu_utilization_percent=70)


# Prod's objectives, over 28 days (four whole weeks: every weekday weighs the same). Availability: browsing and
# paying are where a failure loses the sale outright (99.95%: 20 minutes of total outage in 28 days); checkout,
# tracking, sign-in and profile at 99.9% (40 minutes); the staff's catalog writes at 99.5%. Latency, at the share of
# requests a customer notices: a catalog read is one DynamoDB query (within 300 ms), a placement or change is a
# products read-model lookup and one PostgreSQL transaction (99.9% within 1 s, the example), sign-in and
# sign-up call Cognito (1.5 s), the staff's writes go through a conditional write and an event (2 s for 95%).
PROD_OBJECTIVES = (
    RouteGroupObjective("catalog", availability_percent=99.95, latency_ms=300, latency_percent=99.0),
    RouteGroupObjective("checkout", availability_percent=99.9, latency_ms=1000, latency_percent=99.9),
    RouteGroupObjective("order-tracking", availability_percent=99.9, latency_ms=500, latency_percent=99.0),
    RouteGroupObjective("sign-in", availability_percent=99.9, latency_ms=1500, latency_percent=99.0),
    RouteGroupObjective("profile", availability_percent=99.9, latency_ms=800, latency_percent=99.0),
    RouteGroupObjective("payments", availability_percent=99.95, latency_ms=1000, latency_percent=99.9),
    RouteGroupObjective("catalog-admin", availability_percent=99.5, latency_ms=2000, latency_percent=95.0),
)
# Dev runs on one on-demand node and Spot, and its database pauses: the first request after five idle minutes waits
# for Aurora to resume (~15 s). Its budgets are drawn, not paged: 99% answered, 95% within the thresholds.
DEV_OBJECTIVES = tuple(replace(o, availability_percent=99.0, latency_percent=95.0) for o in PROD_OBJECTIVES)


# A customer every five minutes: a failure pages after two runs in a row (10 minutes), as does a run that takes over
# three minutes twice (the workflows take well under a minute when the platform is healthy; each waits up to 30 s for
# an order's state). Four minutes before a run is cut off.
SYNTHETICS = SyntheticsConfig(interval_minutes=5, timeout_seconds=240, failed_runs_to_alarm=2,
                              duration_alarm_seconds=180, artifact_retention_days=30)
# The canaries' and the smoke test's key: one run of the smoke test's workflows every five minutes (288 a day, a few
# dozen requests each, polling an order's state); 50000 a day leaves room for several times that and for the smoke
# tests of a day's deploys, so only a runaway client reaches it, and it reaches its own plan, not the storefront's.
SYNTHETICS_PLAN = UsagePlanLimits(throttle_rate_limit=10, throttle_burst_limit=20, quota_requests_per_day=50_000)


def _alarms(evaluation_periods: int, emails: tuple[str, ...]) -> AlarmConfig:
    return AlarmConfig(
        email_subscriptions=emails,
        evaluation_periods=evaluation_periods,
        api_5xx_rate_percent=1.0,
        api_4xx_rate_percent=10.0,
        api_p99_latency_ms=1500,
        pod_cpu_percent_of_limit=85,
        pod_memory_percent_of_limit=85,
        pod_restarts=3,
        dlq_oldest_message_age_seconds=3600,
        database_cpu_percent=80,
        database_connections=400,
        database_freeable_memory_mib=256,
        database_capacity_percent=85,
        node_cpu_percent=85,
        node_memory_percent=85,
        waf_blocked_requests_per_5_min=500,
        outbox_backlog=100,
        queue_oldest_message_age_seconds=600,
        orders_past_deadline=50,
        worker_loop_restarts=3,
    )


DEV = EnvironmentConfig(
    name="dev",
    account="111111111111",
    region=REGION,
    network=NetworkConfig(
        cidr="10.10.0.0/16",
        availability_zones=AZS,
        nat_gateways=1,
        # None: the one NAT carries dev's AWS API traffic too. At dev's ~20 GB a month through them, four endpoints in
        # three zones cost $96 a month against $1 of NAT data (docs/cost.md, "NAT gateways or interface endpoints").
        interface_endpoints=(),
        flow_log_retention_days=14,
    ),
    cluster=ClusterConfig(
        kubernetes_version="1.35",
        node_pools=(
            # One on-demand node holds every minimum replica and the add-ons (docs/deploying.md, "Sizing"); m7g, not
            # t4g, because the orders pods need a trunk ENI. The Cluster Autoscaler adds Spot nodes for surges.
            NodePoolConfig(name="system", instance_types=("m7g.large",), capacity=CapacityKind.ON_DEMAND,
                           min_size=1, desired_size=1, max_size=2),
            NodePoolConfig(name="workloads", instance_types=("m7g.large", "m6g.large"),
                           capacity=CapacityKind.SPOT, min_size=0, desired_size=0, max_size=3),
        ),
        # Dev is used on working days: no node at night or at the weekend (`make wake ENV=dev` in between).
        schedule=ComputeSchedule(timezone="Europe/Dublin", days=("MON", "TUE", "WED", "THU", "FRI"), wake_hour=8,
                                 sleep_hour=18),
    ),
    # Pauses after 5 idle minutes: at night (no pods) and whenever nobody uses dev.
    database=DatabaseConfig(min_capacity_acu=0, max_capacity_acu=2, readers=0, backup_retention_days=1,
                            deletion_protection=False, secret_rotation_days=30, auto_pause_seconds=300),
    messaging=MESSAGING,
    api=ApiConfig(throttle_rate_limit=50, throttle_burst_limit=100, quota_requests_per_day=100_000,
                  waf_rate_limit_per_5_min=1000, synthetics=SYNTHETICS_PLAN,
                  load=UsagePlanLimits(throttle_rate_limit=100, throttle_burst_limit=200,
                                       quota_requests_per_day=1_000_000)),
    # Placeholder zone ids, like the accounts: each environment's own zone (delegated from shop.example.com).
    web=WebConfig(domain_name="dev.shop.example.com", hosted_zone_id="Z01111111111111111111",
                  hosted_zone_name="dev.shop.example.com", waf_rate_limit_per_5_min=2000),
    services=ServiceSizing(
        api=WorkloadSizing(min_replicas=1, max_replicas=3, cpu_request_millicores=100, cpu_limit_millicores=500,
                           memory_request_mib=192, memory_limit_mib=384, target_cpu_utilization_percent=70),
        worker=WorkloadSizing(min_replicas=1, max_replicas=2, cpu_request_millicores=25, cpu_limit_millicores=250,
                              memory_request_mib=128, memory_limit_mib=256, target_cpu_utilization_percent=70),
    ),
    alarms=_alarms(evaluation_periods=3, emails=("platform-dev@example.com",)),
    usage=UsageAssumptions(api_requests_per_month=2_000_000, orders_per_month=20_000, stored_gib_dynamodb=2,
                           stored_gib_database=5, nat_processed_gib=50, log_ingested_gib=10,
                           monthly_active_users=1_000, events_per_month=100_000,
                           dynamodb_read_units_per_month=5_000_000, dynamodb_write_units_per_month=500_000,
                           database_io_requests_per_month=5_000_000, database_acu_hours_above_min=40,
                           endpoint_processed_gib=20, custom_metrics=100, api_kib_per_request=8,
                           s3_stored_gib=1, web_page_views_per_month=20_000, web_kib_per_page_view=30),
    # Sweeps every 15 minutes unless an order's deadline comes first: an idle dev database can pause in between.
    orders=replace(ORDERS, sweep_interval_seconds=900, db_pool_max_idle_seconds=60),
    # Drawn on the overview dashboard, not paged: the burn-rate alarms would cost about $45 a month, a fifth of
    # dev's budget, to page the team about an environment that sleeps every night.
    objectives=ObjectivesConfig(window_days=28, objectives=DEV_OBJECTIVES, alerting=False, min_requests_per_hour=60),
    # Every 15 minutes while dev is awake (its working hours): about 870 runs, $1 a month.
    synthetics=replace(SYNTHETICS, interval_minutes=15, artifact_retention_days=7),
    log_retention_days=14,
    removal=RemovalMode.DESTROY,
    email=_email("dev.shop.example.com"),
    tags={"environment": "dev"},
    github_repository=GITHUB_REPOSITORY,
    # Dev's users are the team and the smoke test's accounts: no customer account to take over, so no threat
    # protection (Plus). The pool uses nothing Essentials adds (managed login, passwordless, access-token
    # customization), so Lite: $5.50 a month at dev's 1,000 MAUs against $15.00 (Essentials) and $20.00 (Plus).
    # The alarms stay; the per-service and platform dashboards go (the overview remains).
    user_pool_tier=UserPoolTier.LITE,
    dashboards=DashboardSet.OVERVIEW,
    monthly_budget_usd=DEV_BUDGET,
    # Every trace: dev's traffic is the team's and the tests', each of whose orders must be findable as one trace.
    trace_sampling_ratio=1.0,
)

STAGING = EnvironmentConfig(
    name="staging",
    account="222222222222",
    region=REGION,
    network=NetworkConfig(
        cidr="10.20.0.0/16",
        availability_zones=AZS,
        nat_gateways=1,
        interface_endpoints=CORE_ENDPOINTS,
        flow_log_retention_days=30,
    ),
    cluster=ClusterConfig(
        kubernetes_version="1.35",
        node_pools=(
            # One on-demand node per zone holds every minimum replica and the add-ons; Spot takes the surges.
            NodePoolConfig(name="system", instance_types=("m7g.large",), capacity=CapacityKind.ON_DEMAND,
                           min_size=3, desired_size=3, max_size=4),
            NodePoolConfig(name="workloads", instance_types=("m7g.large", "m6g.large"),
                           capacity=CapacityKind.SPOT, min_size=0, desired_size=0, max_size=6),
            LOAD_POOL,
        ),
    ),
    # No deletion protection on the data here: removal snapshot has the teardown snapshot and delete the cluster,
    # and a failed first create's rollback deletes what it made, both refused by protection (make preflight,
    # deletion-protection). The stack's termination protection and the final snapshot guard staging's data.
    database=DatabaseConfig(min_capacity_acu=0.5, max_capacity_acu=4, readers=1, backup_retention_days=7,
                            deletion_protection=False, secret_rotation_days=30),
    messaging=MESSAGING,
    api=ApiConfig(throttle_rate_limit=200, throttle_burst_limit=400, quota_requests_per_day=1_000_000,
                  waf_rate_limit_per_5_min=2000, synthetics=SYNTHETICS_PLAN,
                  load=UsagePlanLimits(throttle_rate_limit=500, throttle_burst_limit=1000,
                                       quota_requests_per_day=5_000_000)),
    web=WebConfig(domain_name="staging.shop.example.com", hosted_zone_id="Z02222222222222222222",
                  hosted_zone_name="staging.shop.example.com", waf_rate_limit_per_5_min=2000),
    services=ServiceSizing(
        api=WorkloadSizing(min_replicas=2, max_replicas=6, cpu_request_millicores=200, cpu_limit_millicores=1000,
                           memory_request_mib=320, memory_limit_mib=640, target_cpu_utilization_percent=70),
        worker=WORKER,
    ),
    alarms=_alarms(evaluation_periods=3, emails=("platform-staging@example.com",)),
    usage=UsageAssumptions(api_requests_per_month=10_000_000, orders_per_month=100_000, stored_gib_dynamodb=10,
                           stored_gib_database=20, nat_processed_gib=200, log_ingested_gib=50,
                           monthly_active_users=5_000, events_per_month=500_000,
                           dynamodb_read_units_per_month=25_000_000, dynamodb_write_units_per_month=2_500_000,
                           database_io_requests_per_month=25_000_000, database_acu_hours_above_min=150,
                           endpoint_processed_gib=100, custom_metrics=150, api_kib_per_request=8,
                           s3_stored_gib=5, web_page_views_per_month=200_000, web_kib_per_page_view=30,
                           # Two one-hour load tests a week; four 10-minute experiments of two actions a month.
                           load_test_hours_per_month=8, fault_action_minutes_per_month=80),
    orders=ORDERS,
    # Staging rehearses prod's objectives: a release that would burn prod's budget burns staging's first. Its
    # traffic is the canaries' and the load tests', so an hour needs 60 requests before a burn counts.
    objectives=ObjectivesConfig(window_days=28, objectives=PROD_OBJECTIVES, alerting=True, min_requests_per_hour=60),
    synthetics=SYNTHETICS,
    log_retention_days=90,
    removal=RemovalMode.SNAPSHOT,
    email=_email("staging.shop.example.com"),
    tags={"environment": "staging"},
    github_repository=GITHUB_REPOSITORY,
    # Staging rehearses prod: the same threat protection and dashboards.
    user_pool_tier=UserPoolTier.PLUS,
    dashboards=DashboardSet.ALL,
    monthly_budget_usd=STAGING_BUDGET,
    # Faults on purpose (`make fault ENV=staging`): half of a service's pods or a node group's instances, network cuts
    # of five minutes. Prod has none: its templates would be one deploy away from a prod outage, and staging
    # rehearses the same platform.
    faults=FaultConfig(fault_minutes=5, percent=50),
    # A tenth: at usage's 10 M requests a month about 1 M traces (X-Ray: ~$5 a month), enough to see every route's
    # shape under load tests; a rehearsal's single order is found by its correlation id in the logs, not its trace.
    trace_sampling_ratio=0.1,
)

# Prod keeps deletion protection on its data (its data matters most; staging runs the same templates first), so a
# failed first create of Prod-Data cannot roll back on its own: CloudFormation deletes what the create made and these
# refuse. docs/deploying.md ("A failed first create of Prod-Data") has the recovery; teardowns retain them and never
# meet their protection.
_RECOVERY = "docs/deploying.md, 'A failed first create of Prod-Data': turn its protection off, then delete the stack"
PROD_DATA_PROTECTION = (
    PreflightAcknowledgement(
        "deletion-protection", "Prod-Data/OrdersDatabaseCluster",
        "Prod's orders database keeps deletion protection against an operator's delete; a failed first create of "
        f"Prod-Data (an empty cluster) is recovered by hand: {_RECOVERY}."),
    *(PreflightAcknowledgement(
        "deletion-protection", f"Prod-Data/{table}Table",
        f"Prod's {table.lower()} table keeps deletion protection against an operator's delete; a failed first "
        f"create of Prod-Data (an empty table) is recovered by hand: {_RECOVERY}.")
      for table in ("Products", "Users", "Inventory")),
    PreflightAcknowledgement(
        "deletion-protection", "Prod-Data/UsersUserPool",
        "Prod's user pool (the customers' accounts) keeps deletion protection against an operator's delete; a "
        f"failed first create of Prod-Data (an empty pool) is recovered by hand: {_RECOVERY}."),
)

PROD = EnvironmentConfig(
    name="prod",
    account="333333333333",
    region=REGION,
    network=NetworkConfig(
        cidr="10.30.0.0/16",
        availability_zones=AZS,
        nat_gateways=3,
        interface_endpoints=(*CORE_ENDPOINTS, "xray", "kms", "monitoring"),
        flow_log_retention_days=365,
    ),
    cluster=ClusterConfig(
        kubernetes_version="1.35",
        node_pools=(
            # On-demand baseline, one node per zone: holds every minimum replica, the add-ons and a rollout's surge
            # even if all Spot capacity is reclaimed (docs/deploying.md, "Sizing"). Spot bursts up to the HPA maxima;
            # its types share one shape (2 vCPU, 8 GiB) so the Cluster Autoscaler's node template is right for all.
            NodePoolConfig(name="baseline", instance_types=("m7g.xlarge",), capacity=CapacityKind.ON_DEMAND,
                           min_size=3, desired_size=3, max_size=6),
            # Desired 1: what the cost report prices as the average burst; the autoscaler sets the real count.
            NodePoolConfig(name="burst", instance_types=("m7g.large", "m6g.large"),
                           capacity=CapacityKind.SPOT, min_size=0, desired_size=1, max_size=10),
            LOAD_POOL,
        ),
    ),
    database=DatabaseConfig(min_capacity_acu=1, max_capacity_acu=16, readers=1, backup_retention_days=30,
                            deletion_protection=True, secret_rotation_days=30),
    messaging=replace(MESSAGING, dlq_max_receive_count=500, message_retention_days=7, retry_budget_seconds=12 * 3600),
    api=ApiConfig(throttle_rate_limit=1000, throttle_burst_limit=2000, quota_requests_per_day=20_000_000,
                  waf_rate_limit_per_5_min=2000, synthetics=SYNTHETICS_PLAN,
                  load=UsagePlanLimits(throttle_rate_limit=1000, throttle_burst_limit=2000,
                                       quota_requests_per_day=10_000_000),
                  # A role that can confirm payments is too much power to keep next to real orders.
                  smoke_test_pays=False),
    # www. answers with a redirect to the shop's one origin, the only one the API's CORS allows.
    web=WebConfig(domain_name="shop.example.com", hosted_zone_id="Z03333333333333333333",
                  hosted_zone_name="shop.example.com", redirect_domain_names=("www.shop.example.com",),
                  waf_rate_limit_per_5_min=4000),
    services=ServiceSizing(
        api=WorkloadSizing(min_replicas=3, max_replicas=12, cpu_request_millicores=250, cpu_limit_millicores=1000,
                           memory_request_mib=384, memory_limit_mib=768, target_cpu_utilization_percent=65),
        worker=replace(WORKER, min_replicas=2, max_replicas=6),
    ),
    alarms=_alarms(evaluation_periods=2, emails=("platform-oncall@example.com",)),
    usage=UsageAssumptions(api_requests_per_month=100_000_000, orders_per_month=1_000_000, stored_gib_dynamodb=50,
                           stored_gib_database=100, nat_processed_gib=500, log_ingested_gib=300,
                           monthly_active_users=200_000, events_per_month=6_000_000,
                           dynamodb_read_units_per_month=250_000_000, dynamodb_write_units_per_month=25_000_000,
                           database_io_requests_per_month=250_000_000, database_acu_hours_above_min=1_500,
                           endpoint_processed_gib=500, custom_metrics=300, api_kib_per_request=8,
                           s3_stored_gib=20, web_page_views_per_month=5_000_000, web_kib_per_page_view=30,
                           # A one-hour load test before each release, twice a month; no fault experiments.
                           load_test_hours_per_month=2),
    orders=ORDERS,
    objectives=ObjectivesConfig(window_days=28, objectives=PROD_OBJECTIVES, alerting=True,
                                min_requests_per_hour=120),
    synthetics=replace(SYNTHETICS, artifact_retention_days=90),
    log_retention_days=365,
    removal=RemovalMode.RETAIN,
    email=_email("shop.example.com"),
    tags={"environment": "prod"},
    github_repository=GITHUB_REPOSITORY,
    user_pool_tier=UserPoolTier.PLUS,
    dashboards=DashboardSet.ALL,
    monthly_budget_usd=PROD_BUDGET,
    # One in twenty: at usage's 100 M requests a month about 5 M traces (X-Ray: ~$25 a month, against ~$500 at
    # 1.0), still ~50,000 sampled orders a month, dozens per route per hour for latency analysis; and a span per
    # request at full sampling cost orders' API about a third of its CPU (docs/performance.md).
    trace_sampling_ratio=0.05,
    preflight_acknowledgements=PROD_DATA_PROTECTION,
)

ENVIRONMENTS: dict[str, EnvironmentConfig] = {c.name: c for c in (DEV, STAGING, PROD)}
DEFAULT_ENVIRONMENT = "dev"


def load(name: str | None) -> EnvironmentConfig:
    """The validated config of environment ``name`` (default ``dev``); :class:`ConfigError` if unknown or invalid."""
    key = name or DEFAULT_ENVIRONMENT
    if key not in ENVIRONMENTS:
        raise ConfigError("env", key, ", ".join(ENVIRONMENTS))
    return ENVIRONMENTS[key].validate()
