"""A bad environment config fails with one line that names the key and what is allowed."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from typing import Any

import pytest

from config.__main__ import CONTEXT_FILE, expected_context
from config.environment import CapacityKind, ConfigError, EnvironmentConfig, NodePoolConfig, RemovalMode
from config.environments import DEV, ENVIRONMENTS, PROD, load
from tests.synthesis import ROOT


def replace(cfg: Any, path: str, value: object) -> Any:
    head, _, rest = path.partition(".")
    if not rest:
        return dataclasses.replace(cfg, **{head: value})
    return dataclasses.replace(cfg, **{head: replace(getattr(cfg, head), rest, value)})


def error_of(cfg: EnvironmentConfig) -> str:
    with pytest.raises(ConfigError) as info:
        cfg.validate()
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("name", sorted(ENVIRONMENTS))
def test_every_shipped_environment_is_valid(name: str) -> None:
    assert load(name).name == name


def test_default_environment_is_dev() -> None:
    assert load(None) is DEV


def test_unknown_environment_names_the_allowed_ones() -> None:
    with pytest.raises(ConfigError) as info:
        load("nope")
    assert str(info.value) == "config error: env='nope' is invalid; allowed: dev, staging, prod"


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("network.nat_gateways", 4, "dev.network.nat_gateways=4 is invalid; allowed: 1 to 3"),
        ("network.nat_gateways", 0, "dev.network.nat_gateways=0"),
        ("log_retention_days", -1, "dev.log_retention_days=-1 is invalid; allowed: one of 1, 3, 5"),
        ("log_retention_days", 10, "dev.log_retention_days=10"),
        ("network.availability_zones", ("eu-west-1a", "eu-west-1a", "eu-west-1b"), "dev.network.availability_zones"),
        ("network.availability_zones", ("us-east-1a", "us-east-1b", "us-east-1c"), "dev.network.availability_zones"),
        ("network.interface_endpoints", ("sqs", "ftp"), "dev.network.interface_endpoints"),
        ("network.cidr", "10.0.0.0/8", "dev.network.cidr='10.0.0.0/8' is invalid; allowed: an IPv4 CIDR"),
        ("account", "12345", "dev.account='12345' is invalid; allowed: a 12-digit AWS account id"),
        ("region", "mars", "dev.region='mars'"),
        ("cluster.kubernetes_version", "1.20", "dev.cluster.kubernetes_version='1.20' is invalid; allowed: 1.34, 1.35"),
        # Step 1 of an upgrade installs the next minor's add-ons, never a later one's or the current one's.
        ("cluster.addons_from", "1.37", "dev.cluster.addons_from='1.37' is invalid; allowed: None, or 1.36 (the next "
                                        "minor"),
        ("cluster.addons_from", "1.35", "dev.cluster.addons_from='1.35' is invalid"),
        ("cluster.admin_role_arns", ("admin",), "dev.cluster.admin_role_arns"),
        ("cluster.admin_role_arns", ("arn:aws:iam::222222222222:role/Admin",), "dev.cluster.admin_role_arns"),
        ("deploy_limits.first_deploy_minutes", 0, "dev.deploy_limits.first_deploy_minutes=0"),
        ("database.max_capacity_acu", 0.5, "dev.database.max_capacity_acu"),
        ("database.min_capacity_acu", 0.3, "dev.database.min_capacity_acu"),
        ("database.backup_retention_days", 0, "dev.database.backup_retention_days=0 is invalid; allowed: 1 to 35"),
        ("database.deletion_protection", True, "dev.database.deletion_protection=True"),
        ("messaging.dlq_max_receive_count", 0, "dev.messaging.dlq_max_receive_count=0"),
        ("messaging.message_retention_days", 15, "dev.messaging.message_retention_days=15"),
        # A maxReceiveCount that retries within the budget could reach would dead-letter transient failures.
        ("messaging.dlq_max_receive_count", 100, "dev.messaging.dlq_max_receive_count=100 is invalid; allowed: 127 to "
                                                 "1000 (above the 126 receives"),
        ("messaging.retry_budget_seconds", 600, "dev.messaging.retry_budget_seconds=600 is invalid; allowed: 3600"),
        ("messaging.retry_budget_seconds", 3 * 86400, "dev.messaging.retry_budget_seconds=259200"),
        ("messaging.ordering_backoff_max_seconds", 301, "dev.messaging.ordering_backoff_max_seconds=301"),
        ("messaging.retry_backoff_max_seconds", 5, "dev.messaging.retry_backoff_max_seconds=5"),
        ("orders.pending_reservation_deadline_seconds", 0, "dev.orders.pending_reservation_deadline_seconds=0"),
        ("orders.awaiting_payment_deadline_seconds", 10**7, "dev.orders.awaiting_payment_deadline_seconds"),
        ("orders.sweep_interval_seconds", 0, "dev.orders.sweep_interval_seconds=0 is invalid; allowed: 1 to 3600"),
        ("alarms.orders_past_deadline", 0, "dev.alarms.orders_past_deadline=0"),
        ("api.throttle_burst_limit", 10, "dev.api.throttle_burst_limit=10"),
        ("web.domain_name", "*.shop.example.com", "dev.web.domain_name='*.shop.example.com' is invalid"),
        ("web.domain_name", "shop.example.org", "dev.web.domain_name='shop.example.org' is invalid; allowed: a name in "
                                                "the hosted zone dev.shop.example.com"),
        ("web.redirect_domain_names", ("dev.shop.example.com",), "dev.web.redirect_domain_names"),
        ("web.hosted_zone_id", "shop", "dev.web.hosted_zone_id='shop' is invalid; allowed: a Route 53 hosted zone id"),
        ("web.waf_rate_limit_per_5_min", 10, "dev.web.waf_rate_limit_per_5_min=10"),
        ("web.price_class", "PriceClass_Cheapest", "dev.web.price_class='PriceClass_Cheapest'"),
        ("services.api.max_replicas", 0, "dev.services.api.max_replicas=0"),
        ("services.worker.cpu_request_millicores", 10, "dev.services.worker.cpu_limit_millicores"),
        ("alarms.evaluation_periods", 0, "dev.alarms.evaluation_periods=0 is invalid; allowed: a number > 0"),
        ("removal", "explode", "dev.removal='explode'"),
        ("trace_sampling_ratio", 1.5, "dev.trace_sampling_ratio=1.5 is invalid; allowed: a ratio from 0 to 1"),
        ("trace_sampling_ratio", -0.1, "dev.trace_sampling_ratio=-0.1 is invalid"),
        ("trace_sampling_ratio", "0.1", "dev.trace_sampling_ratio='0.1' is invalid"),
        ("trace_sampling_ratio", True, "dev.trace_sampling_ratio=True is invalid"),
    ],
)
def test_bad_value_fails_with_one_line_naming_the_key(path: str, value: object, expected: str) -> None:
    assert expected in error_of(replace(DEV, path, value))


def test_x86_node_pool_is_refused() -> None:
    pool = NodePoolConfig(name="x86", instance_types=("m5.large",), capacity=CapacityKind.ON_DEMAND,
                          min_size=1, desired_size=1, max_size=1)
    message = error_of(replace(DEV, "cluster.node_pools", (pool,)))
    assert "dev.cluster.node_pools.x86.instance_types" in message and "Graviton" in message


def test_spot_pool_needs_several_instance_types() -> None:
    pool = NodePoolConfig(name="spot", instance_types=("m7g.large",), capacity=CapacityKind.SPOT,
                          min_size=1, desired_size=1, max_size=2)
    assert "at least 2 types for a SPOT pool" in error_of(replace(DEV, "cluster.node_pools", (pool,)))


def test_pods_with_their_own_security_group_need_an_on_demand_trunk_eni_pool() -> None:
    """t-family types take no trunk ENI, and Spot alone could leave the orders pods with no node."""
    burstable = NodePoolConfig(name="system", instance_types=("t4g.medium",), capacity=CapacityKind.ON_DEMAND,
                               min_size=1, desired_size=1, max_size=2)
    spot = NodePoolConfig(name="spot", instance_types=("m7g.large", "m6g.large"), capacity=CapacityKind.SPOT,
                          min_size=1, desired_size=1, max_size=2)
    assert not burstable.pod_eni and spot.pod_eni
    message = error_of(replace(DEV, "cluster.node_pools", (burstable, spot)))
    assert "dev.cluster.node_pools=['system', 'spot']" in message and "ON_DEMAND pool made only of trunk-ENI" in message


def test_every_accepted_kubernetes_version_has_its_row_of_pins() -> None:
    from config.eks_addons import (
        ADDONS,
        CLUSTER_AUTOSCALER,
        KUBECTL_LAYERS,
        LOAD_BALANCER_CONTROLLER,
        ROWS,
        addon_pin,
        cluster_autoscaler,
    )
    from config.environment import KUBERNETES_VERSIONS

    assert set(KUBERNETES_VERSIONS) == set(ROWS) >= {"1.34", "1.35", "1.36"}
    assert set(ADDONS) == set(CLUSTER_AUTOSCALER) == set(LOAD_BALANCER_CONTROLLER) == set(KUBECTL_LAYERS) == set(ROWS)
    requirements = (ROOT / "requirements.txt").read_text()
    for version in KUBERNETES_VERSIONS:
        assert set(ADDONS[version]) == {"vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent",
                                        "metrics-server", "amazon-cloudwatch-observability"}
        for name, pin in ADDONS[version].items():
            assert pin is addon_pin(version, name) and pin.name == name
            assert re.fullmatch(r"v\d+\.\d+\.\d+-eksbuild\.\d+", pin.version), pin
            assert pin.replaces_self_managed == (name in ("vpc-cni", "coredns", "kube-proxy"))
        # kube-proxy and the Cluster Autoscaler must match the cluster's minor version.
        assert ADDONS[version]["kube-proxy"].version.startswith(f"v{version}.")
        assert cluster_autoscaler(version).image_tag.startswith(f"v{version}.")
        assert re.fullmatch(r"v\d+\.\d+\.\d+", LOAD_BALANCER_CONTROLLER[version].image_tag)
        # kubectl within one minor of the API server (Kubernetes' version skew policy), from a pinned package.
        layer = KUBECTL_LAYERS[version]
        assert abs(int(layer.kubectl.split(".")[1]) - int(version.split(".")[1])) <= 1, (version, layer)
        assert re.search(rf"^{re.escape(layer.package)}==", requirements, re.M), layer.package
    with pytest.raises(KeyError, match=r"Kubernetes 1\.20"):
        addon_pin("1.20", "coredns")
    with pytest.raises(KeyError, match="'nope'"):
        addon_pin("1.34", "nope")


@pytest.mark.parametrize("name", sorted(ENVIRONMENTS))
def test_each_environments_kubernetes_version_has_a_row(name: str) -> None:
    from config.eks_addons import ROWS, row

    version = ENVIRONMENTS[name].cluster.kubernetes_version
    assert version in ROWS, f"{name} runs Kubernetes {version}, which has no row in config/eks_addons.py"
    pins = row(version)  # the whole row is there: add-ons, charts and kubectl layer
    assert pins.addons and pins.cluster_autoscaler.image_tag and pins.load_balancer_controller.version
    assert pins.kubectl_layer.package.startswith("aws-cdk.lambda-layer-kubectl-v")


def test_a_kubernetes_version_without_a_row_fails_in_one_line() -> None:
    from config.eks_addons import row

    message = error_of(replace(DEV, "cluster.kubernetes_version", "1.37"))
    assert "dev.cluster.kubernetes_version='1.37'" in message and "1.34, 1.35, 1.36" in message
    assert "\n" not in message.strip()
    with pytest.raises(KeyError, match=r"no row for Kubernetes 1\.37 in config/eks_addons\.py"):
        row("1.37")


def test_retained_environment_must_protect_its_database() -> None:
    cfg = replace(replace(PROD, "removal", RemovalMode.RETAIN), "database.deletion_protection", False)
    assert "prod.database.deletion_protection=False" in error_of(cfg)


def test_a_snapshotting_environment_must_not_protect_its_database() -> None:
    """Removal snapshot has CloudFormation snapshot and then delete the cluster at teardown, which deletion
    protection refuses (review finding 3: staging's teardown failed on it)."""
    cfg = replace(replace(PROD, "removal", RemovalMode.SNAPSHOT), "database.deletion_protection", True)
    message = error_of(replace(cfg, "preflight_acknowledgements", ()))
    assert "prod.database.deletion_protection=True" in message and "True when removal is retain" in message


def test_cli_prints_one_line_and_exits_2() -> None:
    result = subprocess.run([sys.executable, "-m", "config", "nope"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["config error: env='nope' is invalid; allowed: dev, staging, prod"]
    assert "Traceback" not in result.stderr


def test_make_synth_with_unknown_env_stops_in_one_line_before_any_work() -> None:
    result = subprocess.run(["make", "--no-print-directory", "synth", "ENV=nope"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "config error: env='nope' is invalid; allowed: dev, staging, prod" in lines[0]
    assert result.stdout == ""


def test_committed_context_holds_the_configured_zones_so_synth_never_looks_them_up() -> None:
    assert json.loads(CONTEXT_FILE.read_text()) == expected_context()


def test_no_receive_count_within_the_retry_budget_reaches_the_redrive_policy() -> None:
    """Simulate a message retried until its budget runs out, on each schedule the consumer uses: it is dead-lettered
    by the consumer (with the budget reason) before SQS's maxReceiveCount would move it without one."""
    from common.consumer import RetryPolicy
    from common.failures import Kind

    for cfg in ENVIRONMENTS.values():
        m = cfg.messaging
        policy = RetryPolicy(m.retry_budget_seconds, m.retry_backoff_max_seconds, m.ordering_backoff_max_seconds)
        for kind in (Kind.UNAVAILABLE, Kind.RETRY_LATER):
            elapsed, receives = 0, 0
            while elapsed <= m.retry_budget_seconds:
                receives += 1
                elapsed += policy.visibility(kind, receives)
            assert receives <= m.receives_within_budget() < m.dlq_max_receive_count, (cfg.name, kind)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("cluster.schedule.timezone", "Mars/Olympus", "dev.cluster.schedule.timezone='Mars/Olympus' is invalid; "
                                                      "allowed: an IANA time zone"),
        ("cluster.schedule.days", ("MON", "MON"), "dev.cluster.schedule.days"),
        ("cluster.schedule.days", ("Monday",), "dev.cluster.schedule.days"),
        ("cluster.schedule.days", (), "dev.cluster.schedule.days"),
        ("cluster.schedule.wake_hour", 23, "dev.cluster.schedule.wake_hour=23"),
        ("cluster.schedule.sleep_hour", 8, "dev.cluster.schedule.sleep_hour=8 is invalid; allowed: wake_hour + 1"),
        ("database.auto_pause_seconds", 60, "dev.database.auto_pause_seconds=60 is invalid; allowed: 300 to 86400"),
        ("database.auto_pause_seconds", None, "dev.database.auto_pause_seconds=None"),
        ("monthly_budget_usd", 0, "dev.monthly_budget_usd=0 is invalid; allowed: a monthly amount in USD > 0"),
        ("user_pool_tier", "gold", "dev.user_pool_tier='gold'"),
        ("dashboards", "some", "dev.dashboards='some'"),
    ],
)
def test_cost_settings_fail_with_one_line_naming_the_key(path: str, value: object, expected: str) -> None:
    assert expected in error_of(replace(DEV, path, value))


def test_auto_pause_only_where_the_database_can_reach_zero() -> None:
    message = error_of(replace(PROD, "database.auto_pause_seconds", 300))
    assert "prod.database.auto_pause_seconds=300" in message and "only an instance that can scale to 0" in message


def test_a_scheduled_pool_must_not_wake_to_its_sleeping_sizes() -> None:
    """A sleeping group is parked at 0/0/1: a pool configured so would make the morning call change nothing."""
    pool = NodePoolConfig(name="burst", instance_types=("m7g.large", "m6g.large"), capacity=CapacityKind.SPOT,
                          min_size=0, desired_size=0, max_size=1)
    message = error_of(replace(DEV, "cluster.node_pools", (*DEV.cluster.node_pools[:1], pool)))
    assert "dev.cluster.node_pools.burst.max_size=1" in message
    # the same pool is fine where nothing sleeps
    no_schedule = replace(DEV, "cluster.schedule", None)
    assert replace(no_schedule, "cluster.node_pools", (*DEV.cluster.node_pools[:1], pool)).validate()


def test_every_environment_has_a_budget_and_dev_sleeps() -> None:
    # Issue 14's $250, raised by the storefront's CloudFront web ACL and its key (config/environments.py, docs/cost.md)
    assert DEV.monthly_budget_usd == 285
    assert all(c.monthly_budget_usd > 0 for c in ENVIRONMENTS.values())
    assert DEV.cluster.schedule is not None and 0 < DEV.cluster.schedule.hours_awake_per_week < 168
    assert all(c.cluster.schedule is None for c in ENVIRONMENTS.values() if c.name != "dev")


def _objective(cfg: EnvironmentConfig, name: str, **changes: Any) -> EnvironmentConfig:
    objectives = tuple(dataclasses.replace(o, **changes) if o.group == name else o
                       for o in cfg.objectives.objectives)
    return dataclasses.replace(cfg, objectives=dataclasses.replace(cfg.objectives, objectives=objectives))


@pytest.mark.parametrize(("changes", "expected"), [
    ({"availability_percent": 100}, "prod.objectives.checkout.availability_percent=100 is invalid; allowed: above "
                                    "92.56 and below 100"),
    # 92% leaves a budget whose burn, with every request failing (12.5x), never reaches the 13.44x page threshold.
    ({"availability_percent": 92.0}, "prod.objectives.checkout.availability_percent=92.0"),
    ({"latency_percent": "99.9"}, "prod.objectives.checkout.latency_percent='99.9'"),
    ({"latency_ms": 30_000}, "prod.objectives.checkout.latency_ms=30000 is invalid; allowed: 1 to 29000 ms"),
    ({"group": "basket"}, "prod.objectives.objectives="),
])
def test_a_bad_objective_fails_with_one_line_naming_it(changes: dict[str, Any], expected: str) -> None:
    assert expected in error_of(_objective(PROD, "checkout", **changes))


def test_the_page_thresholds_follow_the_window() -> None:
    from config.slo import BURN_ALERTS

    assert [round(a.threshold(30), 2) for a in BURN_ALERTS] == [14.4, 6.0]  # the SRE workbook's, for 30 days
    assert [round(a.threshold(28), 2) for a in BURN_ALERTS] == [13.44, 5.6]
    assert "dev.objectives.window_days=3" in error_of(replace(DEV, "objectives.window_days", 3))


def test_every_route_has_one_route_group(monkeypatch: pytest.MonkeyPatch) -> None:
    from config import slo
    from config.topology import ROUTES

    routes = [(r.method, r.path) for r in ROUTES]
    slo.check_route_groups(routes)
    groups = dict(slo.ROUTE_GROUPS)
    monkeypatch.setitem(slo.ROUTE_GROUPS, "checkout", groups["checkout"][:-1])
    with pytest.raises(ConfigError, match=r"\['POST /orders/\{orderId\}/cancel'\] is invalid; allowed: every route"):
        slo.check_route_groups(routes)
    monkeypatch.setitem(slo.ROUTE_GROUPS, "checkout", (*groups["checkout"], "GET /products"))
    with pytest.raises(ConfigError, match=r"\['GET /products'\] is invalid; allowed: each route in one group only"):
        slo.check_route_groups(routes)


def test_the_config_check_needs_no_service_contract() -> None:
    """`make synth` checks the config with the machine's python3 before any venv (no contract on its path)."""
    r = subprocess.run(["python3", "-I", "-c", "import sys; sys.path.insert(0, '.'); from config.__main__ import main; "
                        "sys.exit(main(['staging']))"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_make_synth_with_a_bad_objective_stops_in_one_line(tmp_path: Any) -> None:
    """What an operator sees: `python -m config` (the Makefile's check before synth) prints the one line."""
    code = ("import dataclasses, sys; from config import environments as e; o = e.PROD.objectives; "
            "e.ENVIRONMENTS['prod'] = dataclasses.replace(e.PROD, objectives=dataclasses.replace(o, objectives=("
            "dataclasses.replace(o.objectives[0], latency_percent=101),) + o.objectives[1:])); "
            "from config.__main__ import main; sys.exit(main(['prod']))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("config error: prod.objectives.catalog.latency_percent=101 is invalid")


@pytest.mark.parametrize(("path", "value", "expected"), [
    ("synthetics.interval_minutes", 7, "dev.synthetics.interval_minutes=7 is invalid; allowed: 1, 2, 5, 10, 15, 30"),
    ("synthetics.timeout_seconds", 1000, "dev.synthetics.timeout_seconds=1000 is invalid; allowed: 60 to 840"),
    ("synthetics.duration_alarm_seconds", 240, "dev.synthetics.duration_alarm_seconds=240"),
    ("synthetics.artifact_retention_days", 0, "dev.synthetics.artifact_retention_days=0"),
])
def test_a_bad_canary_setting_fails_in_one_line(path: str, value: object, expected: str) -> None:
    assert expected in error_of(replace(DEV, path, value))


def test_fault_experiments_need_the_burn_rate_alarms_to_stop_on() -> None:
    from config.environment import FaultConfig
    from config.environments import STAGING

    assert "dev.faults='set' is invalid; allowed: None unless objectives.alerting" in error_of(
        dataclasses.replace(DEV, faults=FaultConfig(fault_minutes=5, percent=50)))
    assert "staging.faults.percent=0" in error_of(replace(STAGING, "faults.percent", 0))


def test_a_dedicated_pool_starts_empty() -> None:
    from config.environments import LOAD_POOL

    pools = (*PROD.cluster.node_pools[:-1], dataclasses.replace(LOAD_POOL, min_size=1, desired_size=1))
    assert "prod.cluster.node_pools.load.dedicated_to='load-generator'" in error_of(
        replace(PROD, "cluster.node_pools", pools))
