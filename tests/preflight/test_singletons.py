"""Singletons: no environment's stack owns an account-wide setting or a resource another environment creates too."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from config import environments
from tests.preflight.workbench import Workbench
from tools.reports.preflight import singletons


def test_the_environments_own_nothing_account_wide(bench: Callable[[str], Workbench]) -> None:
    for env in ("dev", "prod"):
        wb = bench(env)
        result = singletons.check(wb.assembly(), wb.config)
        assert result.ok, result.findings


def test_the_api_gateway_account_setting_in_a_stack_fails(bench: Callable[[str], Workbench]) -> None:
    """Issue 22, finding 11: main's Edge stack set the account's API Gateway CloudWatch role, with a role of its
    own that a teardown deletes."""
    wb = bench("dev")
    wb.add("Edge", "ApiRestApiAccount598A1DA6", {"Type": "AWS::ApiGateway::Account",
                                                "Properties": {"CloudWatchRoleArn": "arn"}})
    [finding] = singletons.check(wb.assembly(), wb.config).findings
    assert finding.resource.startswith("Dev-Edge/ApiRestApiAccount598A1DA6")
    assert "a teardown of Dev-Edge leaves the setting pointing at what the stack deleted" in finding.message


def test_two_environments_in_one_account_both_creating_the_oidc_provider_fail(
        bench: Callable[[str], Workbench], monkeypatch: pytest.MonkeyPatch) -> None:
    wb = bench("dev")
    staging = environments.ENVIRONMENTS["staging"]
    shared = dict(environments.ENVIRONMENTS, staging=replace(staging, account=wb.config.account))
    monkeypatch.setattr(singletons, "ENVIRONMENTS", shared)
    [finding] = singletons.check(wb.assembly(), wb.config).findings
    assert finding.resource.startswith("Dev-Delivery/GitHubOidcProvider")
    assert "staging share(s) and create(s) too" in finding.message
    # staging referencing the account's provider instead: no second create
    referencing = replace(shared["staging"], delivery=replace(
        staging.delivery, existing_oidc_provider_arn=f"arn:aws:iam::{wb.config.account}:oidc-provider/"
                                                     "token.actions.githubusercontent.com"))
    monkeypatch.setattr(singletons, "ENVIRONMENTS", dict(shared, staging=referencing))
    assert singletons.check(wb.assembly(), wb.config).ok
