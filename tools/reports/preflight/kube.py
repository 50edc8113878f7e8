"""Kubernetes semantics the checks need, as the API server and scheduler define them: resource quantities, label
selectors, node affinity, taints and tolerations, and a pod's effective requests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}


def quantity(value: Any) -> float:
    """A Kubernetes resource quantity ("250m", "0.5", "192Mi", "1G", 2) as a plain number of base units."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    m = _QUANTITY.match(str(value).strip())
    if not m:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    number, suffix = float(m.group(1)), m.group(2)
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    raise ValueError(f"not a Kubernetes quantity: {value!r}")


def cpu_millicores(value: Any) -> int:
    return round(quantity(value) * 1000)


def memory_mib(value: Any) -> float:
    return quantity(value) / 2**20


@dataclass(frozen=True)
class Requests:
    cpu_millicores: int = 0
    memory_mib: float = 0.0
    extended: tuple[tuple[str, int], ...] = ()

    def get(self, name: str) -> int:
        return dict(self.extended).get(name, 0)


def _container_requests(c: dict[str, Any]) -> tuple[int, float, dict[str, int]]:
    res = c.get("resources", {}) or {}
    # A container with limits but no requests gets requests equal to its limits (API server defaulting).
    req = {**(res.get("limits") or {}), **(res.get("requests") or {})}
    cpu = cpu_millicores(req["cpu"]) if "cpu" in req else 0
    mem = memory_mib(req["memory"]) if "memory" in req else 0.0
    ext = {k: round(quantity(v)) for k, v in req.items() if k not in ("cpu", "memory", "ephemeral-storage")}
    return cpu, mem, ext


def pod_requests(spec: dict[str, Any]) -> Requests:
    """Effective requests of a pod: the larger of the sum over app containers (plus restartable init containers,
    i.e. sidecars) and any single init container (the scheduler's rule, KEP-753)."""
    cpu, mem = 0, 0.0
    ext: dict[str, int] = {}
    init_cpu, init_mem = 0, 0.0
    sidecar_cpu, sidecar_mem = 0, 0.0
    for c in spec.get("initContainers", []) or []:
        c_cpu, c_mem, c_ext = _container_requests(c)
        if c.get("restartPolicy") == "Always":
            sidecar_cpu += c_cpu
            sidecar_mem += c_mem
            for k, v in c_ext.items():
                ext[k] = ext.get(k, 0) + v
        else:
            init_cpu = max(init_cpu, sidecar_cpu + c_cpu)
            init_mem = max(init_mem, sidecar_mem + c_mem)
    for c in spec.get("containers", []) or []:
        c_cpu, c_mem, c_ext = _container_requests(c)
        cpu += c_cpu
        mem += c_mem
        for k, v in c_ext.items():
            ext[k] = ext.get(k, 0) + v
    return Requests(max(cpu + sidecar_cpu, init_cpu), max(mem + sidecar_mem, init_mem), tuple(sorted(ext.items())))


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels and matchExpressions); an empty selector matches everything."""
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    return all(expression_matches(e, labels) for e in selector.get("matchExpressions") or [])


def expression_matches(expr: dict[str, Any], labels: dict[str, str]) -> bool:
    key, op, values = expr.get("key", ""), expr.get("operator", ""), [str(v) for v in expr.get("values") or []]
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op in ("Gt", "Lt"):
        try:
            have, want = int(labels[key]), int(values[0])
        except (KeyError, ValueError, IndexError):
            return False
        return have > want if op == "Gt" else have < want
    return False


def node_affinity_matches(affinity: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """requiredDuringSchedulingIgnoredDuringExecution: the terms are ORed, the expressions of a term ANDed."""
    required = ((affinity or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    if not required:
        return True
    terms = required.get("nodeSelectorTerms") or []
    return any(all(expression_matches(e, labels) for e in t.get("matchExpressions") or []) for t in terms)


def tolerates(tolerations: list[dict[str, Any]] | tuple[dict[str, Any], ...], taint: dict[str, str]) -> bool:
    for t in tolerations:
        if t.get("effect") and t["effect"] != taint["effect"]:
            continue
        if t.get("operator", "Equal") == "Exists":
            if not t.get("key") or t["key"] == taint["key"]:
                return True
        elif t.get("key") == taint["key"] and str(t.get("value", "")) == taint.get("value", ""):
            return True
    return False


def untolerated(tolerations: list[dict[str, Any]] | tuple[dict[str, Any], ...],
                taints: list[dict[str, str]]) -> list[dict[str, str]]:
    """The NoSchedule/NoExecute taints a pod does not tolerate (PreferNoSchedule only steers)."""
    return [t for t in taints if t["effect"] in ("NoSchedule", "NoExecute") and not tolerates(tolerations, t)]
