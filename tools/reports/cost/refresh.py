"""`make prices-refresh`: every price of `prices.json` read again from the AWS Price List, and what that changes.

    python -m tools.reports.cost.refresh [--dry-run] [--out cdk.out]

Needs read-only AWS credentials allowed ``pricing:GetProducts`` (the Price List query API has no resource-level
permissions; the scheduled workflow `.github/workflows/prices.yml` assumes such a role). For each priced line of the
table, :data:`QUERIES` names the Price List service and the attributes that select exactly one product in the
table's region, the unit the Price List quotes it in and the factor to the table's unit (a price per request becomes
a price per million requests). A query that matches no product, several products with different prices, or a price
in another unit stops the refresh naming the line and its filters: nothing is guessed or kept silently.

Each refreshed entry gets the price, the day it was read, the public bulk offer file of the service and region as its
source (the same Price List, downloadable) and the query. ``as_of`` becomes today. Factors are modelling assumptions,
not Price List figures: they are kept, and one that is more than a year older than the new ``as_of`` is marked
``carried`` so every report lists it for a review by hand.

Then every environment (and seed-literal) is synthesized once and priced with the table before and after:
``cdk.out/prices-diff.md`` and ``.json`` hold the totals and the lines that moved, the pull request body the
workflow opens.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from tools.reports.cost import prices as price_table

# Price List usage types start with the region's billing prefix.
USAGE_PREFIX = {"eu-west-1": "EU"}
PRICING_ENDPOINT_REGION = "us-east-1"  # the Price List query API is served from a few regions; us-east-1 is one
OFFER_FILE = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/{service}/current/{region}/index.json"


@dataclass(frozen=True)
class Query:
    """The Price List product of one priced line: service code, attributes that select it, its unit and scale."""

    service: str
    filters: Mapping[str, str]
    unit: str  # the Price List's unit, e.g. "Hrs", "GB-Mo", "Requests"
    scale: float = 1.0  # table unit / Price List unit, e.g. 1e6 for a price per million requests
    usage_type: str = ""  # without the region's prefix; added at query time
    # CloudFront is priced per edge location group, not per Region: its products carry no regionCode, and the usage
    # type's prefix names the edges (EU for the European ones the PriceClass_100 distributions serve Europe from).
    regional: bool = True

    def all_filters(self, region: str) -> dict[str, str]:
        out = {"regionCode": region, **self.filters} if self.regional else dict(self.filters)
        if self.usage_type:
            out["usagetype"] = f"{USAGE_PREFIX[region]}-{self.usage_type}"
        return out


def _ec2(instance_type: str) -> Query:
    return Query("AmazonEC2", {"instanceType": instance_type, "operatingSystem": "Linux", "tenancy": "Shared",
                               "preInstalledSw": "NA", "capacitystatus": "Used",
                               "licenseModel": "No License required"}, "Hrs")


def _rds(instance_class: str) -> Query:
    return Query("AmazonRDS", {"instanceType": instance_class, "databaseEngine": "PostgreSQL",
                               "deploymentOption": "Single-AZ"}, "Hrs")


def _u(service: str, usage_type: str, unit: str, scale: float = 1.0, **filters: str) -> Query:
    return Query(service, filters, unit, scale, usage_type)


MILLION = 1_000_000.0
GB_HOURS = 1.0  # byte-hours are quoted per GB-month in the Price List

# Every price of prices.json except the instance types, which follow from the key (ec2.<type>, rds.postgres.<class>).
QUERIES: dict[str, Query] = {
    "eks.cluster_hour": _u("AmazonEKS", "AmazonEKS-Hours:perCluster", "Hrs"),
    "ebs.gp3_gb_month": Query("AmazonEC2", {"productFamily": "Storage", "volumeApiName": "gp3"}, "GB-Mo"),
    "vpc.nat_gateway_hour": _u("AmazonEC2", "NatGateway-Hours", "Hrs"),
    "vpc.nat_gateway_gb": _u("AmazonEC2", "NatGateway-Bytes", "GB"),
    "vpc.public_ipv4_hour": _u("AmazonVPC", "PublicIPv4:InUseAddress", "Hrs"),
    "vpc.interface_endpoint_az_hour": _u("AmazonVPC", "VpcEndpoint-Hours", "Hrs"),
    "vpc.interface_endpoint_gb": _u("AmazonVPC", "VpcEndpoint-Bytes", "GB"),
    "aurora.serverless_v2_acu_hour": _u("AmazonRDS", "Aurora:ServerlessV2Usage", "ACU-Hr",
                                        databaseEngine="Aurora PostgreSQL"),
    "aurora.storage_gb_month": _u("AmazonRDS", "Aurora:StorageUsage", "GB-Mo", databaseEngine="Aurora PostgreSQL"),
    "aurora.io_million": _u("AmazonRDS", "Aurora:StorageIOUsage", "IOs", MILLION, databaseEngine="Aurora PostgreSQL"),
    "rds.storage_gp2_gb_month": _u("AmazonRDS", "RDS:GP2-Storage", "GB-Mo"),
    "rds.storage_gp3_gb_month": _u("AmazonRDS", "RDS:GP3-Storage", "GB-Mo"),
    "dynamodb.ondemand_write_million": _u("AmazonDynamoDB", "WriteRequestUnits", "WriteRequestUnits", MILLION),
    "dynamodb.ondemand_read_million": _u("AmazonDynamoDB", "ReadRequestUnits", "ReadRequestUnits", MILLION),
    "dynamodb.wcu_hour": _u("AmazonDynamoDB", "WriteCapacityUnit-Hrs", "WriteCapacityUnit-Hrs"),
    "dynamodb.rcu_hour": _u("AmazonDynamoDB", "ReadCapacityUnit-Hrs", "ReadCapacityUnit-Hrs"),
    "dynamodb.storage_gb_month": _u("AmazonDynamoDB", "TimedStorage-ByteHrs", "GB-Mo"),
    "dynamodb.pitr_gb_month": _u("AmazonDynamoDB", "TimedPITRStorage-ByteHrs", "GB-Mo"),
    "sqs.standard_million": _u("AWSQueueService", "Requests-Tier1", "Requests", MILLION),
    "sns.publish_million": _u("AmazonSNS", "Requests-Tier1", "Requests", MILLION),
    "sns.email_100k": _u("AmazonSNS", "DeliveryAttempts-SMTP", "Notifications", 100_000.0),
    "apigw.rest_million": _u("AmazonApiGateway", "ApiGatewayRequest", "Requests", MILLION),
    "waf.web_acl_month": _u("awswaf", "WebACL", "WebACL"),
    "waf.rule_month": _u("awswaf", "Rule", "Rule"),
    "waf.requests_million": _u("awswaf", "Request", "Request", MILLION),
    "kms.key_month": _u("awskms", "KMS-Keys", "Keys"),
    "secretsmanager.secret_month": _u("AWSSecretsManager", "AWSSecretsManager-Secrets", "Secrets"),
    "logs.ingest_gb": _u("AmazonCloudWatch", "DataProcessing-Bytes", "GB"),
    "logs.storage_gb_month": _u("AmazonCloudWatch", "TimedStorage-ByteHrs", "GB-Mo"),
    "cloudwatch.metric_month": _u("AmazonCloudWatch", "CW:MetricMonitorUsage", "Metrics"),
    "cloudwatch.alarm_standard_month": _u("AmazonCloudWatch", "CW:AlarmMonitorUsage", "Alarms"),
    "cloudwatch.alarm_high_res_month": _u("AmazonCloudWatch", "CW:HighResAlarmMonitorUsage", "Alarms"),
    "cloudwatch.composite_alarm_month": _u("AmazonCloudWatch", "CW:CompositeAlarmMonitorUsage", "Alarms"),
    "cloudwatch.dashboard_month": _u("AmazonCloudWatch", "DashboardsUsageHour", "Dashboards"),
    "elb.nlb_hour": _u("AWSELB", "LoadBalancerUsage", "Hrs", productFamily="Load Balancer-Network"),
    "elb.nlcu_hour": _u("AWSELB", "LCUUsage", "LCU-Hrs", productFamily="Load Balancer-Network"),
    "elb.alb_hour": _u("AWSELB", "LoadBalancerUsage", "Hrs", productFamily="Load Balancer-Application"),
    "elb.lcu_hour": _u("AWSELB", "LCUUsage", "LCU-Hrs", productFamily="Load Balancer-Application"),
    "s3.standard_gb_month": _u("AmazonS3", "TimedStorage-ByteHrs", "GB-Mo", storageClass="General Purpose"),
    "cognito.mau_plus": _u("AmazonCognito", "CognitoUserPoolsMAU-Plus", "MAU"),
    "cognito.mau_essentials": _u("AmazonCognito", "CognitoUserPoolsMAU-Essentials", "MAU"),
    "cognito.mau_lite": _u("AmazonCognito", "CognitoUserPoolsMAU-Lite", "MAU"),
    "xray.traces_million": _u("AWSXRay", "XRay-TracesStored", "Traces", MILLION),
    "ssm.advanced_parameter_month": _u("AWSSystemsManager", "PS-Advanced-Param-Tier1", "Parameters"),
    "ses.email_thousand": _u("AmazonSES", "Message", "Count", 1000.0),
    # Operations (#27). Usage types as the services' pricing pages name them; like every query here they are first
    # proven by a refresh against the Price List, which names a line that matches no product and writes nothing.
    "synthetics.canary_run": _u("AmazonCloudWatch", "CW:Canary-runs", "Canary-runs"),
    "lambda.x86_gb_second": _u("AWSLambda", "Lambda-GB-Second", "Lambda-GB-Second"),
    "fis.action_minute": _u("AWSFIS", "ActionMinutes", "ActionMinutes"),
    # The storefront (#23): S3 GETs in the Region; CloudFront at its European edges.
    "s3.get_thousand": _u("AmazonS3", "Requests-Tier2", "Requests", 1000.0),
    "cloudfront.data_transfer_gb": Query("AmazonCloudFront", {"fromLocation": "Europe"}, "GB", 1.0,
                                         "DataTransfer-Out-Bytes", regional=False),
    "cloudfront.https_10k": Query("AmazonCloudFront", {"fromLocation": "Europe"}, "Requests", 10_000.0,
                                  "Requests-Tier2-HTTPS", regional=False),
    "cloudfront.function_million": Query("AmazonCloudFront", {}, "Invocations", MILLION,
                                         "Executions-CloudFrontFunctions", regional=False),
}


def query_for(key: str) -> Query:
    """The Price List query of a price key of the table; a KeyError names a line nobody mapped."""
    if key.startswith("ec2."):
        return _ec2(key.removeprefix("ec2."))
    if key.startswith("rds.postgres."):
        return _rds(key.removeprefix("rds.postgres."))
    if key not in QUERIES:
        raise KeyError(f"price {key!r} has no Price List query in tools/reports/cost/refresh.py: map it first")
    return QUERIES[key]


class RefreshError(RuntimeError):
    pass


@dataclass(frozen=True)
class Read:
    usd: float  # in the table's unit
    effective: str  # the term's effective date, YYYY-MM-DD
    sku: str


def _dimensions(product: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any], Mapping[str, Any]]]:
    for term in product.get("terms", {}).get("OnDemand", {}).values():
        for dim in term.get("priceDimensions", {}).values():
            yield product["product"]["sku"], term, dim


def read_price(price_list: Iterable[str], key: str, query: Query) -> Read:
    """The one on-demand price of ``query`` in GetProducts' ``PriceList`` entries (JSON strings): the first tier
    (beginRange 0) of the dimension in the query's unit."""
    found: dict[float, Read] = {}
    units: set[str] = set()
    for raw in price_list:
        product = json.loads(raw)
        for sku, term, dim in _dimensions(product):
            units.add(str(dim.get("unit")))
            if dim.get("unit") != query.unit or str(dim.get("beginRange", "0")) != "0":
                continue
            usd = float(dim["pricePerUnit"]["USD"]) * query.scale
            found.setdefault(round(usd, 10), Read(usd, str(term.get("effectiveDate", ""))[:10], sku))
    if len(found) == 1:
        return next(iter(found.values()))
    selector = dict(query.filters) | ({"usagetype": query.usage_type} if query.usage_type else {})
    what = f"{query.service} {json.dumps(selector)}"
    if not found:
        seen = f" (units seen: {', '.join(sorted(units))})" if units else ""
        raise RefreshError(f"{key}: no on-demand price in {query.unit} for {what}{seen}")
    raise RefreshError(f"{key}: {len(found)} different prices match {what}: "
                       f"{', '.join(f'{r.usd:g} ({r.sku})' for r in found.values())}; narrow the query")


Fetch = Callable[[str, Query], Read]


def client_fetcher(client: Any, region: str) -> Fetch:
    """Reads each query with ``pricing:GetProducts`` (every page), through a boto3 pricing client."""

    def fetch(key: str, query: Query) -> Read:
        filters = [{"Type": "TERM_MATCH", "Field": f, "Value": v} for f, v in query.all_filters(region).items()]
        entries: list[str] = []
        for page in client.get_paginator("get_products").paginate(ServiceCode=query.service, Filters=filters,
                                                                  FormatVersion="aws_v1"):
            entries += page.get("PriceList", [])
        return read_price(entries, key, query)

    return fetch


@dataclass
class Change:
    key: str
    before: float
    after: float


@dataclass
class Refreshed:
    doc: dict[str, Any]
    changes: list[Change] = field(default_factory=list)


def refresh(doc: Mapping[str, Any], fetch: Fetch, today: date) -> Refreshed:
    """A new table document: every price read again, as_of today, factors kept (old ones marked carried)."""
    new = copy.deepcopy(dict(doc))
    region = new["region"]
    changes: list[Change] = []
    errors: list[str] = []
    for key, entry in new["prices"].items():
        query = query_for(key)
        try:
            read = fetch(key, query)
        except RefreshError as err:
            errors.append(str(err))
            continue
        if abs(read.usd - float(entry["usd"])) > 1e-9:
            changes.append(Change(key, float(entry["usd"]), read.usd))
        entry.update(usd=round(read.usd, 10), date=today.isoformat(),
                     source=OFFER_FILE.format(service=query.service, region=region),
                     query=f"GetProducts {query.service} "
                           + ", ".join(f"{k}={v}" for k, v in query.all_filters(region).items())
                           + f"; unit {query.unit}" + (f" x {query.scale:g}" if query.scale != 1 else "")
                           + f"; effective {read.effective}")
        entry.pop("carried", None)
    if errors:
        raise RefreshError("the Price List did not give one price for every line; nothing was written:\n  "
                           + "\n  ".join(errors))
    new["as_of"] = new["transcribed"] = today.isoformat()
    new["note"] = ("List prices for eu-west-1 (Europe, Ireland), Linux, no free tier, no Savings Plans or reserved "
                   f"capacity, read from the AWS Price List (pricing:GetProducts) on {today.isoformat()} by `make "
                   "prices-refresh`; each entry names the query and the public offer file of the same list. Factors "
                   "are modelling assumptions reviewed by hand.")
    for factor in new["factors"].values():
        if factor.get("date") and today - price_table.parse_date(factor["date"]) > price_table.MAX_AGE:
            factor["carried"] = (f"{today.isoformat()}: not a Price List figure, kept by `make prices-refresh`; "
                                 "review it by hand against its source")
    return Refreshed(new, changes)


def cost_effect(before: price_table.PriceTable, after: price_table.PriceTable,
                assemblies: Mapping[str, tuple[Path, Any]]) -> dict[str, Any]:
    """Each environment's monthly total with the old and the new table, and the lines that moved most."""
    from tools.reports.cost.report import price_assembly

    out: dict[str, Any] = {}
    for name, (outdir, usage) in assemblies.items():
        a, b = price_assembly(name, outdir, usage, before), price_assembly(name, outdir, usage, after)
        moved: list[dict[str, Any]] = []
        for x, y in zip(a.lines, b.lines, strict=True):
            if abs(y.monthly_usd - x.monthly_usd) >= 0.005:
                moved.append({"stack": x.stack, "resource": x.logical_id, "item": x.item,
                              "before": round(x.monthly_usd, 2), "after": round(y.monthly_usd, 2)})
        moved.sort(key=lambda m: -abs(m["after"] - m["before"]))
        out[name] = {"before": round(a.total, 2), "after": round(b.total, 2), "lines": moved}
    return out


def markdown(refreshed: Refreshed, effect: Mapping[str, Any], today: date) -> str:
    lines = [f"## Price table refreshed from the AWS Price List ({today.isoformat()})", ""]
    if refreshed.changes:
        lines += ["| price | before | after |", "|---|---:|---:|"]
        lines += [f"| `{c.key}` | {c.before:g} | {c.after:g} |" for c in refreshed.changes]
    else:
        lines += ["No price changed; every entry is re-dated and re-sourced to the Price List."]
    lines += ["", "| environment | monthly before | monthly after | delta |", "|---|---:|---:|---:|"]
    for n, e in effect.items():
        before_usd, after_usd = float(e["before"]), float(e["after"])
        lines.append(f"| {n} | ${before_usd:,.2f} | ${after_usd:,.2f} | ${after_usd - before_usd:+,.2f} |")
    for name, e in effect.items():
        if e["lines"]:
            lines += ["", f"<details><summary>{name}: lines that moved</summary>", "",
                      "| stack | resource | line | before | after |", "|---|---|---|---:|---:|"]
            lines += [f"| {m['stack']} | `{m['resource']}` | {m['item']} | ${m['before']:,.2f} | ${m['after']:,.2f} |"
                      for m in e["lines"][:40]]
            lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.reports.cost.refresh", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="report what would change; do not write prices.json")
    parser.add_argument("--out", type=Path, default=Path("cdk.out"))
    args = parser.parse_args(argv)
    import boto3

    from tools.reports.cost.synth import NAMES, synthesize, usage_of

    doc = json.loads(price_table.PRICES_FILE.read_text())
    today = date.today()
    fetch = client_fetcher(boto3.client("pricing", region_name=PRICING_ENDPOINT_REGION), doc["region"])
    try:
        refreshed = refresh(doc, fetch, today)
    except RefreshError as err:
        print(err, file=sys.stderr)
        return 1
    before, after = price_table.parse(doc), price_table.parse(refreshed.doc)
    assemblies = {n: (synthesize(n, args.out / "prices" / n), usage_of(n)) for n in NAMES}
    effect = cost_effect(before, after, assemblies)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "prices-diff.md").write_text(markdown(refreshed, effect, today))
    (args.out / "prices-diff.json").write_text(json.dumps(
        {"changes": [c.__dict__ for c in refreshed.changes], "environments": effect}, indent=2) + "\n")
    if not args.dry_run:
        price_table.PRICES_FILE.write_text(json.dumps(refreshed.doc, indent=2) + "\n")
    print(markdown(refreshed, effect, today))
    return 0


if __name__ == "__main__":
    sys.exit(main())
