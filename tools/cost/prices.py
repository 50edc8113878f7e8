"""The committed price table (`prices.json`): eu-west-1 list prices, each with its unit, source URL and date."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

PRICES_FILE = Path(__file__).resolve().parent / "prices.json"


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
    )


@cache
def load() -> PriceTable:
    return parse(json.loads(PRICES_FILE.read_text()))
