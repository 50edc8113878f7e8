"""Custom resources depend on every policy of the roles their handlers run as."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.preflight.workbench import Workbench
from tools.reports.preflight import custom_resources


def drop_dependency(wb: Workbench, part: str, logical_id: str, prefix: str) -> str:
    body = wb.template(part)["Resources"][logical_id]
    deps = body["DependsOn"] if isinstance(body["DependsOn"], list) else [body["DependsOn"]]
    [dropped] = [d for d in deps if d.startswith(prefix)]
    body["DependsOn"] = [d for d in deps if d != dropped]
    return dropped


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_custom_resource_waits_for_its_handlers_policies(bench: Callable[[str], Workbench], env: str) -> None:
    wb = bench(env)
    result = custom_resources.check(wb.assembly(), wb.config)
    assert result.ok, result.findings
    assert int(result.figure.split()[0]) > 30


def test_the_smoke_accounts_resource_without_its_policy_fails(bench: Callable[[str], Workbench]) -> None:
    """Review finding 2: every Edge stack's accounts resource depended on the role only, so its handler could run
    before the managed policy was attached, and lose it before its delete ran."""
    wb = bench("prod")
    [lid] = [k for k in wb.resources("Edge", "Custom::SmokeAccounts")]
    policy = drop_dependency(wb, "Edge", lid, "SmokeTestAccountsFunctionPolicy")
    [finding] = custom_resources.check(wb.assembly(), wb.config).findings
    assert finding.resource.startswith(f"Prod-Edge/{lid}")
    assert f"whose policy Prod-Edge/{policy} it does not depend on" in finding.message


def test_a_provider_framework_is_followed_to_the_user_handler(bench: Callable[[str], Workbench]) -> None:
    """The network interface cleanup runs through the provider framework: its onEvent function invokes the user's
    onEvent and isComplete handlers, whose role's policy the resource reaches only through their DependsOn."""
    wb = bench("dev")
    [(cleanup, _)] = wb.resources("Cluster", "Custom::NetworkInterfaceCleanup").items()
    handlers = sorted(k for k in wb.resources("Cluster", "AWS::Lambda::Function")
                      if k.startswith(("PlatformNetworkInterfaceCleanupOnEventHandler",
                                       "PlatformNetworkInterfaceCleanupIsCompleteHandler")))
    assert len(handlers) == 2
    [policy] = {drop_dependency(wb, "Cluster", h, "PlatformNetworkInterfaceCleanupHandlerPolicy") for h in handlers}
    findings = custom_resources.check(wb.assembly(), wb.config).findings
    assert {f.resource.split(" ")[0] for f in findings} == {f"Dev-Cluster/{cleanup}"}
    assert {f.message.split(" as ")[0] for f in findings} == {f"runs {h}" for h in handlers}
    assert all(policy in f.message for f in findings)


def test_a_shared_singleton_handler_needs_each_resource_s_own_policy_only(bench: Callable[[str], Workbench]) -> None:
    """aws-cdk-lib's AwsCustomResource runs every resource of a stack on one function whose role carries one policy
    per resource: each resource waits for its own, never for its neighbours'."""
    wb = bench("dev")
    customs = wb.resources("WebGlobal", "Custom::AWS")
    assert len(customs) == 2
    lid = sorted(customs)[0]
    own = drop_dependency(wb, "WebGlobal", lid, lid.removesuffix(lid[-8:]) + "CustomResourcePolicy")
    [finding] = custom_resources.check(wb.assembly(), wb.config).findings
    assert finding.resource.startswith(f"Dev-WebGlobal/{lid}") and own in finding.message
