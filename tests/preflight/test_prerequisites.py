"""Prerequisites: what the templates reference that the assembly does not create is declared in config."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from config.prerequisites import PrerequisiteKind, github_oidc_provider_arn, prerequisites, ses_identity_arn
from tests.preflight.workbench import Workbench
from tools.reports.preflight import prerequisites as check

MISSING_ROLE = "arn:aws:iam::111111111111:role/PlatformAdmin"


def pool(wb: Workbench) -> dict[str, Any]:
    [body] = wb.resources("Data", "AWS::Cognito::UserPool").values()
    return body


def test_the_app_references_only_what_it_creates_or_declares(bench: Callable[[str], Workbench]) -> None:
    for env in ("dev", "prod"):
        wb = bench(env)
        result = check.check(wb.assembly(), wb.config)
        assert result.ok, result.findings
        kinds = {p.kind for p in prerequisites(wb.config)}
        # The storefront's zone (issue 23): its certificate's validation and alias records are written there.
        assert kinds == {PrerequisiteKind.API_GATEWAY_LOGGING, PrerequisiteKind.OIDC_PROVIDER,
                         PrerequisiteKind.HOSTED_ZONE}


def test_the_storefronts_zone_undeclared_fails(bench: Callable[[str], Workbench], monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    """The WebGlobal stack's certificate and the Web stack's alias records name the domain's hosted zone, which
    nothing in the app creates: a config that did not declare it would fail the check, naming the certificate."""
    wb = bench("dev")
    declared = prerequisites(wb.config)
    monkeypatch.setattr(check, "prerequisites", lambda config: tuple(
        p for p in declared if p.kind is not PrerequisiteKind.HOSTED_ZONE))
    findings = check.check(wb.assembly(), wb.config).findings
    assert findings and all(wb.config.web.hosted_zone_id in f.message for f in findings)
    assert any(f.resource.startswith("Dev-WebGlobal/Certificate") for f in findings)


def test_an_access_entry_for_a_role_nothing_creates_fails(bench: Callable[[str], Workbench]) -> None:
    """Issue 22, finding 2: main's admin access entry named arn:...:role/PlatformAdmin, which nothing created; EKS
    refuses such an entry after the cluster's 15 minutes. Declared in config (admin_role_arns) it passes, since
    `make account-check` then proves it exists."""
    wb = bench("dev")
    entry = next(b for b in wb.resources("Cluster", "AWS::EKS::AccessEntry").values()
                 if "AdminRole" in str(b["Properties"]["PrincipalArn"]))
    entry["Properties"]["PrincipalArn"] = MISSING_ROLE
    assembly = wb.assembly()
    [finding] = check.check(assembly, wb.config).findings
    assert "PlatformAdminAccess" in finding.resource
    assert f"principal (EKS refuses one that does not exist) is {MISSING_ROLE}" in finding.message
    declared = replace(wb.config, cluster=replace(wb.config.cluster, admin_role_arns=(MISSING_ROLE,)))
    assert check.check(assembly, declared).ok


def test_a_pool_sending_through_an_identity_the_same_deploy_creates_fails(bench: Callable[[str], Workbench]) -> None:
    """Issue 22, finding 1: main's pool sent through the SES identity the Data stack creates seconds earlier, still
    pending: Cognito refuses it and the first deploy rolls back. With the config declaring the identity verified
    (account-check proves it) the same template passes."""
    wb = bench("dev")
    p = pool(wb)["Properties"]
    assert p["EmailConfiguration"]["EmailSendingAccount"] == "COGNITO_DEFAULT"
    p["EmailConfiguration"] = {"EmailSendingAccount": "DEVELOPER", "SourceArn": ses_identity_arn(wb.config),
                               "From": f"Shop <{wb.config.email.sender}>"}
    assembly = wb.assembly()
    [finding] = check.check(assembly, wb.config).findings
    assert finding.resource.startswith("Dev-Data/UsersUserPool")
    assert (f"sends through the SES identity {wb.config.email.domain}, which Dev-Data/EmailIdentity" in finding.message
            and "creates in the same deploy" in finding.message)
    verified = replace(wb.config, email=replace(wb.config.email, ses_identity_verified=True))
    assert check.check(assembly, verified).ok


def test_a_trusted_provider_nothing_creates_or_declares_fails(bench: Callable[[str], Workbench]) -> None:
    wb = bench("dev")
    other = "arn:aws:iam::111111111111:oidc-provider/gitlab.example.com"
    role = next(b for b in wb.resources("Edge", "AWS::IAM::Role").values()
                if "Federated" in str(b["Properties"]["AssumeRolePolicyDocument"]))
    role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Federated"] = other
    [finding] = check.check(wb.assembly(), wb.config).findings
    assert f"a Federated principal of its policy (IAM refuses one it cannot resolve) is {other}" in finding.message
    assert github_oidc_provider_arn(wb.config) != other


def test_a_logging_stage_without_the_accounts_role_fails(bench: Callable[[str], Workbench],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the declared API Gateway logging prerequisite (and no stack setting the account's role), the stage
    that logs executions fails."""
    wb = bench("dev")
    monkeypatch.setattr(check, "prerequisites", lambda c: tuple(
        p for p in prerequisites(c) if p.kind != PrerequisiteKind.API_GATEWAY_LOGGING))
    [finding] = check.check(wb.assembly(), wb.config).findings
    assert finding.resource.startswith("Dev-Edge/ApiRestApiDeploymentStage")
    assert "nothing sets the account's API Gateway CloudWatch role" in finding.message
