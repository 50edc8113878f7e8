"""API Gateway's request models come from the services' own pydantic models, and agree with them.

- the converter (pydantic JSON Schema -> draft 4) on each construct it handles, and its refusals;
- every route's model in the synthesized Edge template *is* the conversion of its service's model;
- what a service accepts, the edge accepts: the workflows' bodies and bodies generated from the models;
- what a service refuses for a field's type or text, the edge refuses too, naming the same field.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from common.fields import Email, RequestModel, line, prose
from contract.limits import ARRAY_ITEMS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator, FormatChecker
from pydantic import BaseModel, Field, ValidationError

from cdk_constructs.api_models import ModelConversionError, edge_model, request_model, routes_with_bodies, to_draft4
from config.topology import ROUTES, Route
from tests.synthesis import Synthesized
from tools.local import workflows

BODY_ROUTES = routes_with_bodies()


def route_id(route: Route) -> str:
    return f"{route.method} {route.path}"


def edge_validator(route: Route) -> Draft4Validator:
    converted = edge_model(route)
    assert converted is not None
    return Draft4Validator(converted[1], format_checker=FormatChecker())


# --- the converter -------------------------------------------------------------------------------------------


def test_defs_are_inlined_and_the_result_is_a_draft4_schema() -> None:
    class Line(BaseModel):
        sku: str

    class Basket(BaseModel):
        lines: list[Line] = Field(max_length=5)
        gift: Line | None = None

    out = to_draft4(Basket.model_json_schema())
    Draft4Validator.check_schema(out)
    assert out["$schema"] == "http://json-schema.org/draft-04/schema#" and "$defs" not in out
    assert out["properties"]["lines"]["items"] == {"type": "object", "required": ["sku"],
                                                   "properties": {"sku": {"type": "string"}}}
    assert "$ref" not in repr(out)


def test_optional_becomes_a_nullable_type() -> None:
    class Profile(BaseModel):
        address: Annotated[str, Field(max_length=5)] | None = None

    prop = to_draft4(Profile.model_json_schema())["properties"]["address"]
    assert prop == {"type": ["string", "null"], "maxLength": 5}
    validator = Draft4Validator({"type": "object", "properties": {"address": prop}})
    assert validator.is_valid({"address": None}) and not validator.is_valid({"address": "toolong"})


def test_exclusive_bounds_take_the_draft4_boolean_form() -> None:
    class Price(BaseModel):
        amount: float = Field(gt=0, lt=10)

    prop = to_draft4(Price.model_json_schema())["properties"]["amount"]
    assert prop == {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 10,
                    "exclusiveMaximum": True}
    validator = Draft4Validator({"properties": {"amount": prop}})
    assert [validator.is_valid({"amount": v}) for v in (0, 0.5, 10)] == [False, True, False]


def test_const_becomes_an_enum_and_annotations_are_dropped() -> None:
    schema = {"type": "object", "title": "Kept", "properties": {
        "kind": {"const": "order", "title": "Kind", "examples": ["order"], "readOnly": True, "deprecated": False},
        "id": {"type": "string", "format": "uuid"}, "at": {"type": "string", "format": "date-time"}}}
    out = to_draft4(schema)
    assert out["title"] == "Kept"
    assert out["properties"] == {"kind": {"enum": ["order"]}, "id": {"type": "string"},
                                 "at": {"type": "string", "format": "date-time"}}


@pytest.mark.parametrize("keyword", ["if", "prefixItems", "dependentRequired", "unevaluatedProperties",
                                     "propertyNames", "contains"])
def test_a_validation_keyword_draft4_lacks_stops_the_synth(keyword: str) -> None:
    with pytest.raises(ModelConversionError, match=rf"#/properties/x/{keyword}: .*{keyword}"):
        to_draft4({"type": "object", "properties": {"x": {keyword: {}}}})


@pytest.mark.parametrize("bound", [None, ARRAY_ITEMS.value + 1])
def test_an_array_without_a_bound_within_the_limit_stops_the_synth(bound: int | None) -> None:
    class Basket(RequestModel):
        items: list[str] = Field(max_length=bound) if bound else Field()

    with pytest.raises(ModelConversionError, match=r"#/properties/items: an array needs maxItems of at most 100"):
        to_draft4(Basket.model_json_schema())


def test_every_array_of_every_request_model_is_bounded_within_the_limit() -> None:
    def arrays(schema: Any) -> Iterator[dict[str, Any]]:
        if isinstance(schema, dict):
            kinds = schema.get("type")
            if "array" in (kinds if isinstance(kinds, list) else [kinds]):
                yield schema
            for value in schema.values():
                yield from arrays(value)
        elif isinstance(schema, list):
            for value in schema:
                yield from arrays(value)

    found = [a for route in BODY_ROUTES for a in arrays(edge_validator(route).schema)]
    assert found, "no request model has an array: the check would be empty"
    assert all(0 < a["maxItems"] <= ARRAY_ITEMS.value for a in found), found


def test_recursive_models_and_foreign_refs_are_refused() -> None:
    class Node(BaseModel):
        children: list[Node] = Field(default=[], max_length=5)

    with pytest.raises(ModelConversionError, match="recursive model 'Node'"):
        to_draft4(Node.model_json_schema())
    with pytest.raises(ModelConversionError, match="cannot inline"):
        to_draft4({"properties": {"x": {"$ref": "https://example.com/x.json"}}})


def test_both_bounds_of_one_side_are_refused() -> None:
    with pytest.raises(ModelConversionError, match="both minimum and exclusiveMinimum"):
        to_draft4({"type": "number", "minimum": 0, "exclusiveMinimum": 1})


# --- the synthesized models are the conversion of the services' models ----------------------------------------


def edge_models_in(env: Synthesized) -> dict[tuple[str, str], dict[str, Any]]:
    """(method, path) -> the schema of its application/json model, read from the synthesized Edge template."""
    resources = env.template_json("Edge")["Resources"]
    by_id = {k: v for k, v in resources.items() if v["Type"] == "AWS::ApiGateway::Resource"}

    def path_of(ref: dict[str, Any]) -> str:
        if "Ref" not in ref:
            return ""
        props = by_id[ref["Ref"]]["Properties"]
        return path_of(props["ParentId"]) + "/" + props["PathPart"]

    out = {}
    for method in resources.values():
        if method["Type"] != "AWS::ApiGateway::Method" or "RequestModels" not in method["Properties"]:
            continue
        props = method["Properties"]
        model = resources[props["RequestModels"]["application/json"]["Ref"]]["Properties"]
        out[(props["HttpMethod"], path_of(props["ResourceId"]))] = {"name": model["Name"], "schema": model["Schema"]}
    return out


def test_every_body_route_has_its_services_model_at_the_edge(env: Synthesized) -> None:
    found = edge_models_in(env)
    assert set(found) == {(r.method, r.path) for r in BODY_ROUTES}
    assert len(BODY_ROUTES) == 12
    for route in BODY_ROUTES:
        converted = edge_model(route)
        assert converted is not None
        name, schema = converted
        assert found[(route.method, route.path)] == {"name": name, "schema": schema}, route_id(route)
        Draft4Validator.check_schema(schema)


def test_body_routes_are_the_write_routes() -> None:
    """A write route without a model would let any body through the edge: every POST/PUT has one, except the
    cancel and sign-out actions, which take no body."""
    actions = {("POST", "/orders/{orderId}/cancel"), ("POST", "/users/logout")}
    writes = {(r.method, r.path) for r in ROUTES if r.method in ("POST", "PUT")} - actions
    assert {(r.method, r.path) for r in BODY_ROUTES} == writes


def test_required_headers_reach_the_edge(env: Synthesized) -> None:
    (orders_post,) = [m["Properties"] for m in env.resources("Edge", "AWS::ApiGateway::Method").values()
                      if m["Properties"]["HttpMethod"] == "POST"
                      and m["Properties"].get("RequestModels", {}).get("application/json", {}).get("Ref", "")
                      .startswith("ApiRestApiOrderIn")]
    assert orders_post["RequestParameters"] == {"method.request.header.Idempotency-Key": True}
    (webhook,) = [m["Properties"] for m in env.resources("Edge", "AWS::ApiGateway::Method").values()
                  if m["Properties"].get("RequestModels", {}).get("application/json", {}).get("Ref", "")
                  .startswith("ApiRestApiPaymentWebhookIn")]
    assert webhook["RequestParameters"] == {"method.request.header.Webhook-Signature": True,
                                            "method.request.header.Webhook-Timestamp": True}


# --- what the services send, the edge lets through -------------------------------------------------------------

def workflow_bodies() -> Iterator[tuple[tuple[str, str], dict[str, Any]]]:
    """The bodies tools/local/workflows.py sends (the seed's workflows and the smoke test), and those of the
    storefront's session calls (web/src: confirmation, token refresh), by route."""
    yield ("POST", "/products"), workflows.product_body("Mug", 1250)
    yield ("PUT", "/products/{productId}"), workflows.product_body("Repriced", 800)
    yield ("POST", "/inventory/{productId}/adjust"), workflows.adjustment_body(5)
    yield ("POST", "/orders"), workflows.order_body({"p-1": 2, "p-2": 1})
    yield ("PUT", "/orders/{orderId}"), workflows.order_change_body({"p-1": 6, "p-2": 1}, "2 Harbour Rd\nPortsmouth")
    yield ("PUT", "/orders/{orderId}"), workflows.order_change_body({"p-1": 1})
    order = {"order_id": "5f0c6f7e-3c43-4a8e-9d8e-0b7f1a2b3c4d", "total_cents": 990, "currency": "EUR"}
    yield ("POST", "/payments/webhook"), workflows.payment_report(order)
    yield ("POST", "/payments/webhook"), workflows.payment_report(order, succeeded=False)
    yield ("POST", "/users/register"), workflows.registration_body("a@example.com", "Str0ng-pass-local!", "Ann")
    yield ("POST", "/users/login"), workflows.credentials_body("a@example.com", "Str0ng-pass-local!")
    yield ("PUT", "/users/me"), workflows.profile_body("Ann", "1 Main St\nSpringfield")
    yield ("PUT", "/users/me/preferences"), workflows.preferences_body("es-ES", "EUR", marketing=True)
    yield ("POST", "/users/confirm"), {"email": "a@example.com", "code": "123456"}
    yield ("POST", "/users/token"), {"refresh_token": "eyJjdHkiOiJKV1QiLCJlbmMiOiJBMjU2R0NNIn0.x.y.z"}


# Ids by route and position, not by body: the payment reports carry a fresh event id and time, and parallel workers
# (pytest-xdist) must collect the same test ids.
@pytest.mark.parametrize(("route", "body"), [pytest.param(route, body, id=f"{route[0]} {route[1]} #{n}")
                                             for n, (route, body) in enumerate(workflow_bodies())])
def test_the_workflows_bodies_pass_the_service_and_the_edge(route: tuple[str, str], body: dict[str, Any]) -> None:
    (r,) = [x for x in BODY_ROUTES if (x.method, x.path) == route]
    request_model(r).model_validate(body)
    errors = [e.message for e in edge_validator(r).iter_errors(body)]
    assert not errors, errors


def test_the_bodies_of_the_old_hand_written_models_cannot_come_back() -> None:
    """The edge once demanded `items` and `price` while the services send `lines` and `price_cents`."""
    (orders,) = [r for r in BODY_ROUTES if r.path == "/orders"]
    (products,) = [r for r in BODY_ROUTES if (r.method, r.path) == ("POST", "/products")]
    assert not edge_validator(orders).is_valid({"items": [{"product_id": "p", "quantity": 1}]})
    assert edge_validator(orders).is_valid(workflows.order_body({"p": 1}))
    assert not edge_validator(products).is_valid({"name": "Mug", "price": 12.5})
    assert edge_validator(products).is_valid(workflows.product_body("Mug", 1250))


def strategy(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values for the JSON Schema subset the request models use (their pydantic schemas, $refs resolved)."""
    kind = schema.get("type")
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "anyOf" in schema:
        return st.one_of(*(strategy(variant) for variant in schema["anyOf"]))
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind in ("integer", "number"):
        low, high = schema.get("minimum"), schema.get("maximum")
        values: st.SearchStrategy[Any] = st.integers(low, high)
        if kind == "number":
            values = values | st.floats(low, high, allow_nan=False, allow_infinity=False)
        return values
    if kind == "string":
        if schema.get("format") == "email":
            return st.emails()
        text = st.from_regex(schema["pattern"]) if "pattern" in schema else st.text()
        low, high = schema.get("minLength", 0), schema.get("maxLength", math.inf)
        return text.filter(lambda s: low <= len(s) <= high)
    if kind == "array":
        return st.lists(strategy(schema["items"]), min_size=schema.get("minItems", 0),
                        max_size=min(schema.get("maxItems", 5), 5))
    if kind == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries({k: strategy(v) for k, v in props.items() if k in required},
                                     optional={k: strategy(v) for k, v in props.items() if k not in required})
    raise AssertionError(f"no strategy for {schema}")


def resolved(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(defs[node["$ref"].rsplit("/", 1)[1]])
            return {k: walk(v) for k, v in node.items()}
        return [walk(v) for v in node] if isinstance(node, list) else node

    return dict(walk(schema))


@pytest.mark.parametrize("route", BODY_ROUTES, ids=route_id)
def test_every_body_the_service_accepts_the_edge_accepts(route: Route) -> None:
    model, validator = request_model(route), edge_validator(route)
    accepted = 0

    @settings(max_examples=150, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
    @given(strategy(resolved(model)))
    def check(body: dict[str, Any]) -> None:
        nonlocal accepted
        try:
            model.model_validate(body)
        except ValidationError:
            return
        accepted += 1
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
        assert not errors, (body, errors)

    check()
    assert accepted >= 50, f"only {accepted} generated bodies were valid; the generator needs a look"


# --- what the service refuses for a field's type or text, the edge refuses too ------------------------------------

def bad_values(schema: dict[str, Any]) -> list[Any]:
    """Values of the wrong type, or text no storage should get, for a field of this (draft-4) schema."""
    kinds = schema.get("type")
    kinds = set(kinds) if isinstance(kinds, list) else {kinds}
    if "string" in kinds:
        values: list[Any] = [7, True, ["x"], {"x": 1}, "A\x00B", "A\x1bB", "A\x7fB", "A\u0085B"]
        if "pattern" in schema and not re.search(schema["pattern"], "A\nB"):
            values.append("A\nB")
        return values
    if "integer" in kinds:
        return [True, False, "1", 1.5, None if "null" not in kinds else [], {"n": 1}]
    if "number" in kinds:
        return [True, "1.5", None if "null" not in kinds else [], ["1"]]
    if "boolean" in kinds:
        return [1, 0, "true", None if "null" not in kinds else []]
    if "array" in kinds:
        return [{"x": 1}, "x", 1, True]
    if "object" in kinds:
        return [[], "x", 1]
    if kinds == {"null"}:  # a field that must never carry a value (the webhook's cardholder-data names)
        return ["4242424242424242", 0, True, [], {}]
    raise AssertionError(f"no bad values for {schema}")


def field_cases(schema: dict[str, Any], path: tuple[str | int, ...] = ()) -> Iterator[
        tuple[tuple[str | int, ...], dict[str, Any]]]:
    """Every field of a draft-4 object schema, nested objects and array items included: (location, schema)."""
    for prop, sub in schema.get("properties", {}).items():
        where = (*path, prop)
        yield where, sub
        if sub.get("type") == "object":
            yield from field_cases(sub, where)
        if sub.get("type") == "array" and sub["items"].get("type") == "object":
            yield (*where, 0), sub["items"]
            yield from field_cases(sub["items"], (*where, 0))


def with_value(body: dict[str, Any], where: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(body)
    node: Any = out
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    return out


def valid_body(route: Route) -> dict[str, Any]:
    for key, body in workflow_bodies():
        if key == (route.method, route.path):
            return body
    raise AssertionError(route)


def type_cases() -> Iterator[Any]:
    for route in BODY_ROUTES:
        converted = edge_model(route)
        assert converted is not None
        for where, schema in field_cases(converted[1]):
            for bad in bad_values(schema):
                yield pytest.param(route, where, bad, id=f"{route_id(route)} {'.'.join(map(str, where))}={bad!r}")


@pytest.mark.parametrize(("route", "where", "bad"), list(type_cases()))
def test_wrong_types_and_control_characters_are_refused_by_both_naming_the_field(
        route: Route, where: tuple[str | int, ...], bad: Any) -> None:
    body = with_value(valid_body(route), where, bad)
    with pytest.raises(ValidationError) as refused:
        request_model(route).model_validate(body)
    assert any(tuple(e["loc"][:len(where)]) == where for e in refused.value.errors()), refused.value.errors()
    edge_errors = list(edge_validator(route).iter_errors(body))
    assert edge_errors, f"the edge lets {body} through"
    assert any(tuple(e.absolute_path)[:len(where)] == where for e in edge_errors), [
        (list(e.absolute_path), e.message) for e in edge_errors]


class EveryType(RequestModel):
    """Field types no route uses yet, so the converter and the strict rules are proven for them before one does."""

    ratio: float = Field(ge=0, le=1)
    flag: bool
    tags: list[Annotated[str, line(max_length=10)]] = Field(max_length=3)
    note: Annotated[str, prose(max_length=50)] | None = None
    contact: Email


GOOD_EVERY_TYPE = {"ratio": 0.5, "flag": True, "tags": ["a"], "note": "two\nlines", "contact": "a@example.com"}


@pytest.mark.parametrize(("field", "bad"), [
    ("ratio", True), ("ratio", "0.5"), ("ratio", None), ("flag", 1), ("flag", "true"), ("flag", None),
    ("tags", "a"), ("tags", [1]), ("tags", ["a\x00"]), ("tags", {"a": 1}), ("note", 5), ("note", "a\x00b"),
    ("contact", "a\x00@example.com"), ("contact", 5), ("contact", "a@example.com\n"),
])
def test_number_boolean_array_and_email_rules_agree(field: str, bad: Any) -> None:
    edge = Draft4Validator(to_draft4(EveryType.model_json_schema()), format_checker=FormatChecker())
    assert EveryType.model_validate(GOOD_EVERY_TYPE) and edge.is_valid(GOOD_EVERY_TYPE)
    body = {**GOOD_EVERY_TYPE, field: bad}
    with pytest.raises(ValidationError) as refused:
        EveryType.model_validate(body)
    assert refused.value.errors()[0]["loc"][0] == field
    assert {e.absolute_path[0] for e in edge.iter_errors(body)} == {field}
    assert EveryType.model_validate({**GOOD_EVERY_TYPE, "ratio": 1}).ratio == 1.0  # JSON integers are numbers
    assert edge.is_valid({**GOOD_EVERY_TYPE, "ratio": 1})
