"""Service level objectives: the public API's route groups, and the burn-rate alerting policy every environment's
objectives are alerted with (``EnvironmentConfig.objectives`` holds the targets).

A route group is a set of routes a customer experiences as one thing (browsing the catalog, checking out, following
an order). Every route of the contract belongs to exactly one group, so a new route fails synth until it is given
one (``config.environment``, ``objectives``).

Alerting follows the multi-window, multi-burn-rate pattern of the Google SRE workbook ("Alerting on SLOs", table 5-8)
as AWS's guidance applies it to CloudWatch (an alarm per window, a composite alarm requiring both windows): a page
when 2% of the window's error budget burns within an hour, confirmed over the last 5 minutes, or 5% within six hours,
confirmed over the last 30 minutes. The burn-rate threshold of each is derived from the objective's window, never
written down: ``budget_share x window_hours / long_window_hours`` (14.4 and 6 for 30 days; 13.44 and 5.6 for 28).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Sli(StrEnum):
    """What a route group's requests are judged by. Availability: answered without a 5xx (API Gateway ``5XXError``
    against ``Count``). Latency: answered within the objective's threshold (API Gateway ``Latency``: requests at or
    under the threshold are the trimmed count ``TC(:threshold)``, every request its ``SampleCount``)."""

    AVAILABILITY = "availability"
    LATENCY = "latency"


@dataclass(frozen=True)
class BurnAlert:
    """One page-worthy burn: ``budget_share`` of the window's budget spent within ``long_minutes``, still burning
    over the last ``short_minutes`` (the short window lets the page clear soon after the burn stops)."""

    name: str
    long_minutes: int
    short_minutes: int
    budget_share: float

    def threshold(self, window_days: int) -> float:
        """The burn rate (multiples of the rate that spends exactly the budget over the window) that spends
        ``budget_share`` of it in ``long_minutes``."""
        return self.budget_share * window_days * 24 * 60 / self.long_minutes


BURN_ALERTS = (BurnAlert("fast", long_minutes=60, short_minutes=5, budget_share=0.02),
               BurnAlert("slow", long_minutes=360, short_minutes=30, budget_share=0.05))

# A CloudWatch metric math alarm reads at most 10 metrics; each route contributes two (bad and total requests).
MAX_ROUTES_PER_GROUP = 5

# "METHOD /path" of every route (the contract's, services/contract/platform.py) -> its group.
ROUTE_GROUPS: dict[str, tuple[str, ...]] = {
    "catalog": ("GET /products", "GET /products/{productId}"),
    "checkout": ("POST /orders", "PUT /orders/{orderId}", "POST /orders/{orderId}/cancel"),
    "order-tracking": ("GET /orders", "GET /orders/{orderId}"),
    # Every call that makes or keeps a session (Cognito behind each): sign-up and its confirmation, sign-in, the
    # storefront's token refresh and sign-out.
    "sign-in": ("POST /users/register", "POST /users/confirm", "POST /users/login", "POST /users/token",
                "POST /users/logout"),
    "profile": ("GET /users/me", "PUT /users/me", "GET /users/me/preferences", "PUT /users/me/preferences"),
    "payments": ("POST /payments/webhook",),
    "catalog-admin": ("POST /products", "PUT /products/{productId}", "DELETE /products/{productId}",
                      "GET /inventory/{productId}", "POST /inventory/{productId}/adjust"),
}


def route_key(method: str, path: str) -> str:
    return f"{method} {path}"


def check_route_groups(routes: Iterable[tuple[str, str]]) -> None:
    """Every route of the contract (``(method, path)``) in exactly one group, and every group a route of it and at
    most :data:`MAX_ROUTES_PER_GROUP` long; else :class:`ConfigError` in one line. Checked when the app is built (the
    contract is there; the Makefile's config check runs before the venv that has it)."""
    from config.environment import ConfigError

    keys = {route_key(method, path) for method, path in routes}
    grouped = [r for group in ROUTE_GROUPS.values() for r in group]
    problems = ((sorted(set(grouped) - keys), "routes of the contract (services/contract/platform.py)"),
                (sorted(keys - set(grouped)), "every route of the contract in one group"),
                (sorted({r for r in grouped if grouped.count(r) > 1}), "each route in one group only"))
    for wrong, allowed in problems:
        if wrong:
            raise ConfigError("config.slo.ROUTE_GROUPS", wrong, allowed)
    for group, members in ROUTE_GROUPS.items():
        if not 1 <= len(members) <= MAX_ROUTES_PER_GROUP:
            raise ConfigError(f"config.slo.ROUTE_GROUPS.{group}", len(members),
                              f"1 to {MAX_ROUTES_PER_GROUP} routes (an alarm reads at most 10 metrics, two per route)")
