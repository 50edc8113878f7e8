"""Access logs: logging is configured only where the service writes logs.

A Network Load Balancer writes access logs for TLS listeners only ("Access logs are created only if the load
balancer has a TLS listener, and the logs contain information about TLS requests only": Elastic Load Balancing,
"Access logs for your Network Load Balancer"). Logging turned on for an NLB without one promises an audit trail
that stays empty (and a bucket that nags call compliant).
"""

from __future__ import annotations

from config.environment import EnvironmentConfig
from tools.assembly import Assembly
from tools.reports.preflight.model import CheckResult, Finding

NAME = "access-logs"


def check(assembly: Assembly, config: EnvironmentConfig) -> CheckResult:
    findings: list[Finding] = []
    balancers = [lb for lb in assembly.resources("AWS::ElasticLoadBalancingV2::LoadBalancer")
                 if lb.properties.get("Type") == "network"]
    for lb in balancers:
        attrs = {a.get("Key"): a.get("Value") for a in lb.properties.get("LoadBalancerAttributes") or []}
        if str(attrs.get("access_logs.s3.enabled", "false")).lower() != "true":
            continue
        protocols = set()
        for listener in assembly.resources("AWS::ElasticLoadBalancingV2::Listener"):
            t = assembly.target(listener.stack, listener.properties.get("LoadBalancerArn"))
            if t is not None and (t.stack, t.logical_id) == (lb.stack, lb.logical_id):
                protocols.add(str(listener.properties.get("Protocol", "")).upper())
        if "TLS" not in protocols:
            listeners = ", ".join(sorted(protocols)) or "none"
            findings.append(Finding(lb.name, f"access logging is on but its listeners are {listeners} only: an NLB "
                                             "logs TLS listeners alone, so the logs stay empty"))
    figure = f"{len(balancers)} network load balancers"
    return CheckResult(NAME, config.name, figure, findings)
