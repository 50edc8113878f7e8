"""`make diagram`: every service, store, topic and queue of the app appears in the generated diagram."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from config.topology import QUEUES, SERVICES, TABLES, TOPICS, filter_policy
from tools.reports.cost.report import read_assembly
from tools.reports.diagram import architecture, physical_name, render


@pytest.fixture(scope="module")
def drawn(synth: Callable[[str], Any], tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[Any], Path]:
    env = synth("prod")
    resources = read_assembly(env.outdir)
    out = tmp_path_factory.mktemp("diagram")
    files = render(architecture("prod", resources), out)
    for f in files:
        assert f.exists() and f.stat().st_size > 0, f
    return (out / "architecture.dot").read_text(), resources, out


def test_png_and_svg_written(drawn: tuple[str, list[Any], Path]) -> None:
    _, _, out = drawn
    assert (out / "architecture.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (out / "architecture.svg").read_text()


def test_topology_in_diagram(drawn: tuple[str, list[Any], Path]) -> None:
    dot, _, _ = drawn
    for service in SERVICES:
        assert re.search(rf'label="?{service.value}"?[,\]\s]', dot), service
    for table in TABLES:
        assert f"DynamoDB {table.construct_id}" in dot, table.construct_id
    for topic in TOPICS:
        assert f"topic {topic.name}" in dot, topic.name
    for queue in QUEUES:
        assert f"queue {queue.name}" in dot, queue.name
    for queue in QUEUES:
        for sub in queue.subscriptions:
            for events in filter_policy(sub).values():  # as filtered: SES's own names on the email-events topic
                for event in events:
                    assert event in dot, event


def test_template_resources_in_diagram(drawn: tuple[str, list[Any], Path]) -> None:
    dot, resources, _ = drawn
    clusters = [r for r in resources if r.type == "AWS::RDS::DBCluster"]
    assert clusters
    for r in clusters:
        assert physical_name(r.properties["DBClusterIdentifier"], r.logical_id) in dot
    eks = [r for r in resources if r.type == "AWS::EKS::Cluster"]
    assert eks and all(physical_name(r.properties["Name"], r.logical_id) in dot for r in eks)
    nats = sum(1 for r in resources if r.type == "AWS::EC2::NatGateway")
    assert dot.count("NAT gateway ") == nats
    for label in ("API Gateway REST", "WAF web ACL", "VPC link", "internal NLB", "CloudWatch", "VPC endpoints"):
        assert label in dot, label
    for canary in (r for r in resources if r.type == "AWS::Synthetics::Canary"):
        assert f"Synthetics canary\n{canary.properties['Name']}" in dot.replace("\\n", "\n")


def test_the_storefront_in_diagram(drawn: tuple[str, list[Any], Path]) -> None:
    """The distribution with its domain names, its bucket and the CloudFront web ACL, from the Web stacks."""
    dot, resources, _ = drawn
    (distribution,) = [r for r in resources if r.type == "AWS::CloudFront::Distribution"]
    aliases = distribution.properties["DistributionConfig"]["Aliases"]
    assert aliases and f'label="CloudFront\n{", ".join(aliases)}"' in dot
    assert "site bucket" in dot and "CloudFront web ACL" in dot
