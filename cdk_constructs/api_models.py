"""API Gateway's request models, derived at synth from the services' own request models (services/<svc>/models.py).

There is no hand-written copy: each route's body model is the pydantic model the service validates with, its JSON
Schema converted to the JSON Schema draft 4 that API Gateway's models use (AWS::ApiGateway::Model; the developer
guide: "API Gateway models are defined using JSON schema draft 4"). The conversion:

- ``$defs``/``$ref`` are inlined (a model is one self-contained schema; recursive models are refused);
- ``anyOf: [X, {"type": "null"}]`` (pydantic's ``X | None``) becomes X with ``"null"`` added to its ``type``;
- numeric ``exclusiveMinimum``/``exclusiveMaximum`` (draft 6+) become ``minimum``/``maximum`` with the draft-4
  boolean ``exclusiveMinimum``/``exclusiveMaximum: true``;
- ``const`` becomes a one-value ``enum``;
- annotations draft 4 does not know (``examples``, ``readOnly``, ``writeOnly``, ``deprecated``, ...) and formats it
  does not define are dropped, as are property titles and defaults (annotations only; the service applies
  defaults); a keyword that would *validate*
  something draft 4 cannot express (``if``, ``prefixItems``, ``dependentRequired``, ...) stops the synth with the
  keyword and its location, rather than silently letting more through at the edge than the service accepts;
- every array must declare ``maxItems`` at or below contract/limits.py's ARRAY_ITEMS (an unbounded array stops the
  synth), so that API Gateway bounds each array of a body as the service does.

The services' images do not contain this module; the models it reads are pydantic only and need no environment.
"""

from __future__ import annotations

import copy
import importlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from contract.limits import ARRAY_ITEMS

from config.topology import ROUTES, Route, Service

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"
DRAFT4 = "http://json-schema.org/draft-04/schema#"

# Draft-4 keywords kept as they are (their values are converted recursively where they hold schemas).
_KEPT = frozenset({
    "type", "enum", "format", "description",
    "multipleOf", "maximum", "minimum", "maxLength", "minLength", "pattern",
    "items", "additionalItems", "maxItems", "minItems", "uniqueItems",
    "maxProperties", "minProperties", "required", "properties", "patternProperties", "additionalProperties",
    "dependencies", "allOf", "anyOf", "oneOf", "not",
})
# Annotations only: dropping them changes what is documented, never what is accepted.
_DROPPED = frozenset({"title", "default", "examples", "readOnly", "writeOnly", "deprecated", "$comment",
                      "contentEncoding", "contentMediaType", "discriminator", "$schema", "$id"})
_DRAFT4_FORMATS = frozenset({"date-time", "email", "hostname", "ipv4", "ipv6", "uri"})


class ModelConversionError(ValueError):
    """A request model's JSON Schema cannot be expressed in draft 4 without accepting more than the service does."""


def to_draft4(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A pydantic (draft 2020-12) JSON Schema as a self-contained draft-4 schema for an API Gateway model."""
    definitions = dict(schema.get("$defs", {}))
    converted = _convert(schema, definitions, path="#", seen=())
    root_title = schema.get("title")
    return {"$schema": DRAFT4, **({"title": root_title} if root_title else {}), **converted}


def _convert(node: Mapping[str, Any], defs: Mapping[str, Any], path: str, seen: tuple[str, ...]) -> dict[str, Any]:
    if "$ref" in node:
        ref = str(node["$ref"])
        prefix = "#/$defs/"
        if not ref.startswith(prefix) or ref[len(prefix):] not in defs:
            raise ModelConversionError(f"{path}: cannot inline $ref {ref!r}")
        name = ref[len(prefix):]
        if name in seen:
            raise ModelConversionError(f"{path}: recursive model {name!r} cannot be inlined")
        target = {**defs[name], **{k: v for k, v in node.items() if k != "$ref"}}
        return _convert(target, defs, path, (*seen, name))
    nullable = _nullable_variant(node)
    if nullable is not None:
        inner = _convert(nullable, defs, path, seen)
        kinds = inner["type"] if isinstance(inner["type"], list) else [inner["type"]]
        rest = {k: v for k, v in node.items() if k not in ("anyOf", "title")}
        return {**inner, **_convert(rest, defs, path, seen), "type": [*kinds, "null"]}
    declared = node.get("type")
    if "array" in (declared if isinstance(declared, list) else [declared]) and not (
            isinstance(node.get("maxItems"), int) and node["maxItems"] <= ARRAY_ITEMS.value):
        raise ModelConversionError(f"{path}: an array needs maxItems of at most {ARRAY_ITEMS.describe()} "
                                   f"(Field(max_length=...)), got {node.get('maxItems')!r}")
    out: dict[str, Any] = {}
    for key, value in node.items():
        where = f"{path}/{key}"
        if key in _DROPPED or key == "$defs":
            continue
        if key == "const":
            out["enum"] = [value]
        elif key in ("exclusiveMinimum", "exclusiveMaximum"):
            bound = "minimum" if key == "exclusiveMinimum" else "maximum"
            if isinstance(value, bool):
                out[key] = value
                continue
            if bound in node:
                raise ModelConversionError(f"{where}: both {bound} and {key}; keep one")
            out[bound], out[key] = value, True
        elif key == "format":
            if value in _DRAFT4_FORMATS:
                out[key] = value
        elif key not in _KEPT:
            raise ModelConversionError(f"{where}: JSON Schema keyword {key!r} has no draft-4 equivalent")
        elif key in ("properties", "patternProperties"):
            out[key] = {name: _convert(sub, defs, f"{where}/{name}", seen) for name, sub in value.items()}
        elif key in ("items", "additionalItems", "additionalProperties", "not"):
            if isinstance(value, bool):
                out[key] = value
            elif isinstance(value, list):
                out[key] = [_convert(sub, defs, f"{where}/{i}", seen) for i, sub in enumerate(value)]
            else:
                out[key] = _convert(value, defs, where, seen)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [_convert(sub, defs, f"{where}/{i}", seen) for i, sub in enumerate(value)]
        elif key == "dependencies":
            out[key] = {name: (sub if isinstance(sub, list) else _convert(sub, defs, f"{where}/{name}", seen))
                        for name, sub in value.items()}
        else:
            out[key] = copy.deepcopy(value)
    return out


def _nullable_variant(node: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """X of ``anyOf: [X, {"type": "null"}]`` when X names a single type, else None."""
    variants = node.get("anyOf")
    if not isinstance(variants, list) or len(variants) != 2 or {"type": "null"} not in variants:
        return None
    (other,) = [v for v in variants if v != {"type": "null"}]
    if "$ref" in other or not isinstance(other.get("type"), str):
        return None
    return dict(other)


def service_module(service: Service, name: str) -> Any:
    """``services/<service>/<name>.py``, imported as the service's image imports it (``services/`` on the path)."""
    if str(SERVICES_DIR) not in sys.path:
        sys.path.append(str(SERVICES_DIR))
    return importlib.import_module(f"{service.value}.{name}")


def request_model(route: Route) -> Any:
    """The pydantic model of a route's JSON body, from its service's models module, or None."""
    return service_module(route.service, "models").REQUEST_BODIES.get((route.method, route.path))


def required_headers(route: Route) -> tuple[str, ...]:
    headers: Mapping[tuple[str, str], tuple[str, ...]] = getattr(
        service_module(route.service, "models"), "REQUIRED_HEADERS", {})
    return tuple(headers.get((route.method, route.path), ()))


def edge_model(route: Route) -> tuple[str, dict[str, Any]] | None:
    """(model name, draft-4 schema) of a route's body, or None for a route without a body."""
    model = request_model(route)
    if model is None:
        return None
    return model.__name__, to_draft4(model.model_json_schema())


def routes_with_bodies() -> list[Route]:
    return [r for r in ROUTES if request_model(r) is not None]


def as_cdk_json_schema(schema: Mapping[str, Any]) -> Any:
    """A draft-4 schema dict as aws_apigateway.JsonSchema (the type RestApi.add_model takes)."""
    from aws_cdk import aws_apigateway as apigw

    keys = {"$schema": "schema", "not": "not_"}
    nested_one = {"items", "additionalItems", "additionalProperties", "not"}
    nested_map = {"properties", "patternProperties"}
    nested_list = {"allOf", "anyOf", "oneOf"}
    kwargs: dict[str, Any] = {}
    for key, value in schema.items():
        name = keys.get(key) or "".join(f"_{c.lower()}" if c.isupper() else c for c in key)
        if key == "$schema":
            value = apigw.JsonSchemaVersion.DRAFT4
        elif key == "type":
            value = ([apigw.JsonSchemaType(v.upper()) for v in value] if isinstance(value, list)
                     else apigw.JsonSchemaType(value.upper()))
        elif key in nested_one and isinstance(value, dict):
            value = as_cdk_json_schema(value)
        elif key in nested_map:
            value = {k: as_cdk_json_schema(v) for k, v in value.items()}
        elif key in nested_list:
            value = [as_cdk_json_schema(v) for v in value]
        elif key == "dependencies":
            value = {k: v if isinstance(v, list) else as_cdk_json_schema(v) for k, v in value.items()}
        kwargs[name] = value
    return apigw.JsonSchema(**kwargs)
