"""The committed price table (`prices.json`): eu-west-1 list prices, each with its unit, source URL and date.

Dates: each price and factor carries the month (``YYYY-MM``) or day its figure was read from its source; the table
carries ``as_of``, the day the table as a whole was last refreshed (`make prices-refresh`, from the AWS Price List)
or reviewed by hand. The table ages against today: past :data:`MAX_TABLE_AGE` (180 days) ``tests/test_cost.py``
fails with a line that says to refresh (:func:`age_problem`). Within the table, every entry is dated within a year of
``as_of`` unless the review that set ``as_of`` could not re-read it and says so in the entry's ``carried`` (why it
was kept, and what was checked instead); every `make cost` report and pull request's cost comment lists those
entries by the page to re-read them from (:func:`staleness_note`), so an estimate never hides how old its inputs are.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

PRICES_FILE = Path(__file__).resolve().parent / "prices.json"
MAX_AGE = timedelta(days=365)
# How old the table may be before the tests fail: prices move a few times a year; a quarter's slack on top.
MAX_TABLE_AGE = timedelta(days=180)
_DATE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")


def parse_date(text: str) -> date:
    """``YYYY-MM`` (the first of the month: the oldest the figure can be) or ``YYYY-MM-DD``."""
    m = _DATE.match(text)
    if not m:
        raise ValueError(f"date {text!r}: expected YYYY-MM or YYYY-MM-DD")
    return date(int(m[1]), int(m[2]), int(m[3] or 1))


class MissingPriceError(KeyError):
    """A rule asked for a price the table does not hold (e.g. an instance type nobody transcribed)."""

    def __str__(self) -> str:
        return f"no price for {self.args[0]!r} in {PRICES_FILE.name}; add it with its unit, source URL and date"


@dataclass(frozen=True)
class Price:
    key: str
    usd: float
    unit: str
    source: str
    date: str
    carried: str | None = None  # set when a review kept the figure without re-reading it: why, and what was checked


@dataclass(frozen=True)
class PriceTable:
    region: str
    hours_per_month: int
    transcribed: str
    note: str
    prices: dict[str, Price]
    factors: dict[str, float]
    factor_notes: dict[str, str]
    x86_equivalent: dict[str, str]
    as_of: date = date(1970, 1, 1)
    factor_dates: dict[str, str] | None = None
    factor_sources: dict[str, str] | None = None
    factor_carried: dict[str, str] | None = None

    def dated_entries(self) -> dict[str, tuple[date, str]]:
        """Every price and factor: its date and where to check it."""
        out = {k: (parse_date(p.date), p.source) for k, p in self.prices.items()}
        for k, d in (self.factor_dates or {}).items():
            out[f"factors.{k}"] = (parse_date(d), (self.factor_sources or {}).get(k, "this table's note"))
        return out

    def carried_entries(self) -> dict[str, str]:
        """Entries the last review kept without re-reading them, with its reason."""
        out = {k: p.carried for k, p in self.prices.items() if p.carried}
        out.update({f"factors.{k}": v for k, v in (self.factor_carried or {}).items() if v})
        return out

    def entries_older_than_a_year(self, reference: date) -> dict[str, list[str]]:
        """Entries dated more than a year before ``reference``, grouped by the source to re-read them from."""
        out: dict[str, list[str]] = {}
        for key, (when, source) in sorted(self.dated_entries().items()):
            if reference - when > MAX_AGE:
                out.setdefault(source, []).append(key)
        return out

    def price(self, key: str) -> Price:
        try:
            return self.prices[key]
        except KeyError:
            raise MissingPriceError(key) from None

    def usd(self, key: str) -> float:
        return self.price(key).usd

    def factor(self, key: str) -> float:
        try:
            return self.factors[key]
        except KeyError:
            raise MissingPriceError(f"factors.{key}") from None

    def ec2_hour(self, instance_type: str) -> float:
        return self.usd(f"ec2.{instance_type}")


def parse(doc: dict[str, Any]) -> PriceTable:
    prices = {k: Price(key=k, usd=float(v["usd"]), unit=v["unit"], source=v["source"], date=v["date"],
                       carried=v.get("carried"))
              for k, v in doc["prices"].items()}
    for p in prices.values():
        if not (p.source.startswith("https://") and p.date and p.usd >= 0):
            raise ValueError(f"price {p.key}: needs a non-negative usd, an https source URL and a date")
    return PriceTable(
        region=doc["region"],
        hours_per_month=int(doc["hours_per_month"]),
        transcribed=doc["transcribed"],
        note=doc["note"],
        prices=prices,
        factors={k: float(v["value"]) for k, v in doc["factors"].items()},
        factor_notes={k: v["note"] for k, v in doc["factors"].items()},
        x86_equivalent=dict(doc["graviton_x86_equivalent"]),
        as_of=parse_date(doc["as_of"]),
        factor_dates={k: v["date"] for k, v in doc["factors"].items() if "date" in v},
        factor_sources={k: v["source"] for k, v in doc["factors"].items() if "source" in v},
        factor_carried={k: v["carried"] for k, v in doc["factors"].items() if v.get("carried")},
    )


def stale_entries(table: PriceTable, today: date) -> dict[str, list[str]]:
    """What a calendar-based check finds today: entries more than a year old, by the page to re-check them on."""
    return table.entries_older_than_a_year(today)


def age_problem(table: PriceTable, today: date) -> str | None:
    """One line when the table is older than :data:`MAX_TABLE_AGE` today, saying what to do; None otherwise."""
    age = (today - table.as_of).days
    if age <= MAX_TABLE_AGE.days:
        return None
    return (f"tools/reports/cost/prices.json is {age} days old (as_of {table.as_of.isoformat()}, limit "
            f"{MAX_TABLE_AGE.days}): refresh it with `make prices-refresh` (read-only pricing:GetProducts credentials, "
            "or the scheduled prices workflow) and commit the table and the cost diff it prints")


def staleness_note(table: PriceTable, today: date) -> str | None:
    """One paragraph for a report when the table has aged past a year or holds entries its last review carried
    forward without re-reading them, naming what to refresh; None otherwise."""
    carried = table.carried_entries()
    # A carried entry is listed once, below, with its review's reason.
    stale = {src: kept for src, keys in stale_entries(table, today).items()
             if (kept := [k for k in keys if k not in carried])}
    parts: list[str] = []
    if stale:
        count = sum(len(v) for v in stale.values())
        pages = "\n".join(f"- {src}: {', '.join(keys)}" for src, keys in stale.items())
        parts.append(f"The price table was last reviewed on {table.as_of.isoformat()} ({(today - table.as_of).days} "
                     f"days ago): {count} entries are more than a year old today. Re-read them (`make prices-refresh`)"
                     f", update usd and date, and move as_of in tools/reports/cost/prices.json.\n\n<details><summary>"
                     f"Entries to re-check, by page</summary>\n\n{pages}\n\n</details>")
    if carried:
        entries = table.dated_entries()
        by_page: dict[str, list[str]] = {}
        for key in sorted(carried):
            by_page.setdefault(entries[key][1], []).append(f"{key} (figure of {entries[key][0]:%Y-%m})")
        pages = "\n".join(f"- {src}: {', '.join(keys)}" for src, keys in by_page.items())
        parts.append(f"{len(carried)} of {len(entries)} entries were carried forward at the review of "
                     f"{table.as_of.isoformat()} without being re-read from their source (each entry's `carried` "
                     "says why and what was checked instead); `make prices-refresh` reads them all from the AWS "
                     f"Price List.\n\n<details><summary>Carried-forward entries, by page</summary>\n\n{pages}\n\n"
                     "</details>")
    return "\n\n".join(parts) or None


@cache
def load() -> PriceTable:
    return parse(json.loads(PRICES_FILE.read_text()))
