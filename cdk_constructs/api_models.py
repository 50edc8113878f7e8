"""JSON Schemas API Gateway checks request bodies against before they reach a service.

They reject malformed bodies at the edge (types, required fields, sizes); each service still validates fully and
names the offending field in its 4xx answer.
"""

from __future__ import annotations

from typing import Any

ID = {"type": "string", "minLength": 1, "maxLength": 64}
MONEY = {"type": "number", "minimum": 0}

MODELS: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("POST", "/products"): ("CreateProduct", {
        "type": "object", "required": ["name", "price"], "additionalProperties": False,
        "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200},
                       "description": {"type": "string", "maxLength": 2000}, "price": MONEY,
                       "currency": {"type": "string", "minLength": 3, "maxLength": 3},
                       "category": {"type": "string", "maxLength": 100}},
    }),
    ("PUT", "/products/{productId}"): ("UpdateProduct", {
        "type": "object", "additionalProperties": False, "minProperties": 1,
        "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200},
                       "description": {"type": "string", "maxLength": 2000}, "price": MONEY,
                       "category": {"type": "string", "maxLength": 100},
                       "status": {"type": "string", "enum": ["ACTIVE", "DISCONTINUED"]}},
    }),
    ("POST", "/orders"): ("CreateOrder", {
        "type": "object", "required": ["items"], "additionalProperties": False,
        "properties": {"items": {"type": "array", "minItems": 1, "maxItems": 50, "items": {
            "type": "object", "required": ["product_id", "quantity"],
            "properties": {"product_id": ID, "quantity": {"type": "integer", "minimum": 1, "maximum": 1000},
                           "unit_price": MONEY}}}},
    }),
    ("POST", "/inventory/{productId}/adjust"): ("AdjustStock", {
        "type": "object", "required": ["delta"], "additionalProperties": False,
        "properties": {"delta": {"type": "integer", "minimum": -100000, "maximum": 100000},
                       "reason": {"type": "string", "maxLength": 200}},
    }),
    ("POST", "/users/register"): ("RegisterUser", {
        "type": "object", "required": ["email", "password", "name"], "additionalProperties": False,
        "properties": {"email": {"type": "string", "minLength": 3, "maxLength": 254},
                       "password": {"type": "string", "minLength": 12, "maxLength": 256},
                       "name": {"type": "string", "minLength": 1, "maxLength": 200}},
    }),
    ("POST", "/users/login"): ("Login", {
        "type": "object", "required": ["email", "password"], "additionalProperties": False,
        "properties": {"email": {"type": "string", "minLength": 3, "maxLength": 254},
                       "password": {"type": "string", "minLength": 1, "maxLength": 256}},
    }),
    ("PUT", "/users/me"): ("UpdateProfile", {
        "type": "object", "additionalProperties": False, "minProperties": 1,
        "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200},
                       "address": {"type": "string", "maxLength": 500},
                       "phone": {"type": "string", "maxLength": 32}},
    }),
}
