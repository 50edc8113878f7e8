"""Edge authorization: every protected method accepts the access tokens the clients send."""

from __future__ import annotations

import ast
from collections.abc import Callable

from config.topology import ROUTES, Access
from tests.preflight.workbench import Workbench
from tests.synthesis import ROOT
from tools.reports.preflight import edge_auth

PROTECTED = sum(1 for r in ROUTES if r.access != Access.PUBLIC)


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
