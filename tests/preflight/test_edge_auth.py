"""Edge authorization: every protected method accepts the access tokens the clients send."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

from config.topology import ROUTES, Access
from tests.preflight.workbench import Workbench
from tests.synthesis import ROOT
from tools.reports.preflight import edge_auth

PROTECTED = sum(1 for r in ROUTES if r.access not in (Access.PUBLIC, Access.SIGNED))


def scoped(wb: Workbench, scopes: list[object] | None = None) -> Workbench:
    for body in wb.resources("Edge", "AWS::ApiGateway::Method").values():
        if body["Properties"].get("AuthorizationType") == "COGNITO_USER_POOLS":
            body["Properties"]["AuthorizationScopes"] = scopes or [edge_auth.SIGN_IN_SCOPE]
    return wb


def test_methods_with_the_sign_in_scope_pass(bench: Callable[[str], Workbench]) -> None:
    wb = scoped(bench("dev"))
    result = edge_auth.check(wb.assembly(), wb.config)
    assert result.ok, result.findings
    assert result.figure == (f"{PROTECTED} protected methods, clients send access tokens with scope "
                             "aws.cognito.signin.user.admin")


def test_method_without_scopes_fails(bench: Callable[[str], Workbench]) -> None:
    wb = scoped(bench("dev"))
    post_orders = next(b for lid, b in wb.resources("Edge", "AWS::ApiGateway::Method").items()
                       if lid.startswith("ApiRestApiordersPOST"))
    del post_orders["Properties"]["AuthorizationScopes"]
    [finding] = edge_auth.check(wb.assembly(), wb.config).findings
    assert finding.resource.startswith("Dev-Edge/ApiRestApiordersPOST") and finding.resource.endswith("[POST /orders]")
    assert "validates an ID token there" in finding.message


def test_scopes_the_tokens_do_not_carry_fail(bench: Callable[[str], Workbench]) -> None:
    wb = scoped(bench("dev"), ["products/read"])
    findings = edge_auth.check(wb.assembly(), wb.config).findings
    assert len(findings) == PROTECTED
    assert all("match none of the scopes in the clients' access tokens" in f.message for f in findings)


def test_a_pre_token_generation_trigger_may_add_custom_scopes(bench: Callable[[str], Workbench]) -> None:
    wb = scoped(bench("dev"), ["products/read"])
    pool = next(iter(wb.resources("Data", "AWS::Cognito::UserPool").values()))
    pool["Properties"]["LambdaConfig"] = {"PreTokenGenerationConfig": {"LambdaArn": "arn", "LambdaVersion": "V2_0"}}
    assert edge_auth.check(wb.assembly(), wb.config).ok


def test_the_clients_send_the_access_token_from_login() -> None:
    """The token type the check assumes is the one tools/local/workflows.py (the project's client) puts in
    Authorization."""
    tree = ast.parse((ROOT / "tools" / "local" / "workflows.py").read_text())
    bearer = [n for n in ast.walk(tree) if isinstance(n, ast.JoinedStr)
              and any(isinstance(v, ast.Constant) and "Bearer" in str(v.value) for v in n.values)]
    keys = {sub.slice.value for f in bearer for v in f.values if isinstance(v, ast.FormattedValue)
            for sub in ast.walk(v.value) if isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Constant)}
    assert keys == {f"{edge_auth.CLIENT_TOKEN_USE}_token"}


def webhook(wb: Workbench) -> dict[str, Any]:
    return next(b for lid, b in wb.resources("Edge", "AWS::ApiGateway::Method").items()
                if lid.startswith("ApiRestApipaymentswebhookPOST"))


def test_a_callback_needing_the_storefronts_key_or_refusing_new_fields_fails(
        bench: Callable[[str], Workbench]) -> None:
    """Issue 22, finding 5: main's payment webhook required the storefront's API key (which the provider does not send,
    in the storefront's usage plan) and a model with additionalProperties false (a new provider field answered 400)."""
    wb = scoped(bench("dev"))
    method = webhook(wb)
    assert method["Properties"]["ApiKeyRequired"] is False
    method["Properties"]["ApiKeyRequired"] = True
    model_id = method["Properties"]["RequestModels"]["application/json"]["Ref"]
    wb.template("Edge")["Resources"][model_id]["Properties"]["Schema"]["additionalProperties"] = False
    findings = edge_auth.check(wb.assembly(), wb.config).findings
    assert [f.resource.endswith("[POST /payments/webhook]") for f in findings] == [True, True]
    assert "requires an API key" in findings[0].message and "refuses unknown fields" in findings[1].message


def test_enforced_threat_protection_without_user_context_fails(bench: Callable[[str], Workbench]) -> None:
    """Issue 22, finding 12: prod's pool enforced threat protection while every sign-in is the users service's,
    server-side, through a client that passes no user context. AUDIT passes; ENFORCED with the context passes."""
    wb = scoped(bench("prod"))
    [pool] = wb.resources("Data", "AWS::Cognito::UserPool").values()
    assert pool["Properties"]["UserPoolAddOns"]["AdvancedSecurityMode"] == "AUDIT"
    pool["Properties"]["UserPoolAddOns"]["AdvancedSecurityMode"] = "ENFORCED"
    [finding] = edge_auth.check(wb.assembly(), wb.config).findings
    assert finding.resource.startswith("Prod-Data/UsersUserPool")
    assert "passes no user context" in finding.message
    for client in wb.resources("Data", "AWS::Cognito::UserPoolClient").values():
        client["Properties"]["EnablePropagateAdditionalUserContextData"] = True
    assert edge_auth.check(wb.assembly(), wb.config).ok
