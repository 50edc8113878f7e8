"""`make prices-refresh` offline: the Price List queries it sends, how it reads GetProducts responses (stored ones,
tests/fixtures/pricing), what it refuses, the table it writes and the cost diff it reports."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import boto3
import pytest
from aws_cdk import aws_sqs as sqs
from botocore.stub import Stubber

from config.environments import DEV
from tests.synthesis import ROOT
from tools.reports.cost import prices as price_table
from tools.reports.cost.refresh import (
    OFFER_FILE,
    Query,
    Read,
    RefreshError,
    client_fetcher,
    cost_effect,
    markdown,
    query_for,
    read_price,
    refresh,
)

FIXTURES = ROOT / "tests" / "fixtures" / "pricing"
TODAY = date(2027, 3, 1)


def recorded(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return doc


def stubbed(*responses: tuple[dict[str, Any], dict[str, Any]]) -> tuple[Any, Stubber]:
    client = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    stub = Stubber(client)
    for response, expected in responses:
        stub.add_response("get_products", response, expected)
    stub.activate()
    return client, stub


def filters(query: Query) -> list[dict[str, str]]:
    return [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in query.all_filters("eu-west-1").items()]


def test_every_priced_line_of_the_table_has_a_query() -> None:
    for key in price_table.load().prices:
        assert query_for(key).service, key
    with pytest.raises(KeyError, match="has no Price List query"):
        query_for("nope.thing")


def test_an_instance_hour_is_read_with_the_attributes_that_select_it() -> None:
    query = query_for("ec2.m7g.large")
    client, stub = stubbed((recorded("ec2-m7g-large.json"),
                            {"ServiceCode": "AmazonEC2", "Filters": filters(query), "FormatVersion": "aws_v1"}))
    read = client_fetcher(client, "eu-west-1")("ec2.m7g.large", query)
    stub.assert_no_pending_responses()
    assert (read.usd, read.effective, read.sku) == (0.0914, "2026-11-01", "QG3ZCJ7BCGM5C2EX")
    assert {"Type": "TERM_MATCH", "Field": "capacitystatus", "Value": "Used"} in filters(query)


def test_a_per_request_price_is_scaled_to_the_table_unit_across_pages_from_the_first_tier() -> None:
    query = query_for("sqs.standard_million")
    assert {"Type": "TERM_MATCH", "Field": "usagetype", "Value": "EU-Requests-Tier1"} in filters(query)
    expected = {"ServiceCode": "AWSQueueService", "Filters": filters(query), "FormatVersion": "aws_v1"}
    client, stub = stubbed((recorded("sqs-requests-page1.json"), expected),
                           (recorded("sqs-requests-page2.json"), {**expected, "NextToken": "page-2"}))
    read = client_fetcher(client, "eu-west-1")("sqs.standard_million", query)
    stub.assert_no_pending_responses()
    assert read.usd == pytest.approx(0.40)


def test_two_products_with_different_prices_are_refused() -> None:
    with pytest.raises(RefreshError, match=r"ec2.m7g.large: 2 different prices match AmazonEC2 .*narrow the query"):
        read_price(recorded("ec2-ambiguous.json")["PriceList"], "ec2.m7g.large", query_for("ec2.m7g.large"))


def test_no_product_or_another_unit_is_refused_naming_the_line() -> None:
    with pytest.raises(RefreshError, match=r"^kms.key_month: no on-demand price in Keys for awskms"):
        read_price([], "kms.key_month", query_for("kms.key_month"))
    wrong_unit = Query("AmazonCloudWatch", {}, "GB-Mo", usage_type="DataProcessing-Bytes")
    with pytest.raises(RefreshError, match=r"units seen: GB"):
        read_price(recorded("logs-ingest.json")["PriceList"], "logs.ingest_gb", wrong_unit)


def _fetch_all(changed: dict[str, float]) -> Any:
    table = price_table.load()

    def fetch(key: str, query: Query) -> Read:
        return Read(changed.get(key, table.usd(key)), "2026-11-01", "SKU")

    return fetch


def test_a_refresh_rewrites_every_entry_from_the_price_list_and_dates_the_table_today() -> None:
    doc = json.loads(price_table.PRICES_FILE.read_text())
    refreshed = refresh(doc, _fetch_all({"logs.ingest_gb": 0.60}), TODAY)
    assert [(c.key, c.before, c.after) for c in refreshed.changes] == [("logs.ingest_gb", 0.57, 0.60)]
    new = price_table.parse(refreshed.doc)
    assert new.as_of == TODAY and new.usd("logs.ingest_gb") == 0.60
    assert not {k for k in new.carried_entries() if not k.startswith("factors.")}  # every price re-read
    entry = refreshed.doc["prices"]["ec2.m7g.large"]
    assert entry["source"] == OFFER_FILE.format(service="AmazonEC2", region="eu-west-1")
    assert entry["date"] == TODAY.isoformat() and "instanceType=m7g.large" in entry["query"]
    assert "carried" not in entry
    # Factors are not Price List figures: kept, and listed for a review by hand once a year old.
    assert all(k.startswith("factors.") for k in new.carried_entries())
    assert doc["as_of"] != TODAY.isoformat()  # the input document is left alone


def test_a_line_the_price_list_cannot_answer_stops_the_refresh() -> None:
    doc = json.loads(price_table.PRICES_FILE.read_text())

    def fetch(key: str, query: Query) -> Read:
        if key == "waf.rule_month":
            raise RefreshError("waf.rule_month: no on-demand price in Rule for awswaf")
        return Read(1.0, "2026-11-01", "SKU")

    with pytest.raises(RefreshError, match=r"nothing was written:\n  waf\.rule_month: no on-demand price"):
        refresh(doc, fetch, TODAY)


def test_the_cost_diff_of_a_refresh(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    sqs.Queue(cdk.Stack(app, "Msg"), "Q")
    app.synth()
    doc = json.loads(price_table.PRICES_FILE.read_text())
    refreshed = refresh(doc, _fetch_all({"sqs.standard_million": 0.80}), TODAY)
    effect = cost_effect(price_table.parse(doc), price_table.parse(refreshed.doc), {"dev": (tmp_path, DEV.usage)})
    before, after = effect["dev"]["before"], effect["dev"]["after"]
    assert before > 0 and after == pytest.approx(2 * before, abs=0.01)
    assert effect["dev"]["lines"] and effect["dev"]["lines"][0]["resource"].startswith("Q")
    md = markdown(refreshed, effect, TODAY)
    assert "| `sqs.standard_million` | 0.4 | 0.8 |" in md
    assert f"| dev | ${before:,.2f} | ${after:,.2f} | ${after - before:+,.2f} |" in md
