"""The committed price table (`prices.json`): eu-west-1 list prices, each with its unit, source URL and date.

Dates: each price and factor carries the month (``YYYY-MM``) or day its figure was read from its source; the table
carries ``as_of``, the day the table as a whole was last reviewed. A review brings every entry within a year of
``as_of`` (``tests/test_cost.py`` holds the table to that, so the check is a property of the commit and never fails
on its own as time passes); how old ``as_of`` is today is reported by every `make cost` and on every pull request's
cost comment (:func:`stale_entries`), with the entries to re-check, grouped by the page to read them from.
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

    def dated_entries(self) -> dict[str, tuple[date, str]]:
        """Every price and factor: its date and where to check it."""
        out = {k: (parse_date(p.date), p.source) for k, p in self.prices.items()}
        for k, d in (self.factor_dates or {}).items():
            out[f"factors.{k}"] = (parse_date(d), (self.factor_sources or {}).get(k, "this table's note"))
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
    prices = {k: Price(key=k, usd=float(v["usd"]), unit=v["unit"], source=v["source"], date=v["date"])
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
    )


def stale_entries(table: PriceTable, today: date) -> dict[str, list[str]]:
    """What a calendar-based check finds today: entries more than a year old, by the page to re-check them on."""
    return table.entries_older_than_a_year(today)


def staleness_note(table: PriceTable, today: date) -> str | None:
    """One paragraph for a report when the table has aged past a year, naming what to refresh; None otherwise."""
    stale = stale_entries(table, today)
    if not stale:
        return None
    count = sum(len(v) for v in stale.values())
    pages = "\n".join(f"- {src}: {', '.join(keys)}" for src, keys in stale.items())
    return (f"The price table was last reviewed on {table.as_of.isoformat()} ({(today - table.as_of).days} days "
            f"ago): {count} entries are more than a year old today. Re-read them, update usd and date, and move "
            f"as_of in tools/reports/cost/prices.json.\n\n<details><summary>Entries to re-check, by page</summary>\n\n"
            f"{pages}\n\n</details>")


@cache
def load() -> PriceTable:
    return parse(json.loads(PRICES_FILE.read_text()))
