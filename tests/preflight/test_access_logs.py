"""Access logs: an NLB logs only where it has a TLS listener."""

from __future__ import annotations

from collections.abc import Callable

from tests.preflight.workbench import Workbench
from tools.reports.preflight import access_logs


def test_nlb_access_logs_without_a_tls_listener_fail(bench: Callable[[str], Workbench]) -> None:
    """Issue 22, finding 10: main logged its TCP-only NLB to a bucket that stayed empty. With a TLS listener the
    same attribute is fine."""
    wb = bench("dev")
    assert access_logs.check(wb.assembly(), wb.config).ok
    [nlb] = wb.resources("Edge", "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    nlb["Properties"]["LoadBalancerAttributes"].append({"Key": "access_logs.s3.enabled", "Value": "true"})
    [finding] = access_logs.check(wb.assembly(), wb.config).findings
    assert "access logging is on but its listeners are TCP only" in finding.message
    listener = next(iter(wb.resources("Edge", "AWS::ElasticLoadBalancingV2::Listener").values()))
    listener["Properties"]["Protocol"] = "TLS"
    assert access_logs.check(wb.assembly(), wb.config).ok
