"""Synthesizes one environment (or the seed-literal app) into a directory of its own, without cdk-nag."""

from __future__ import annotations

import shutil
from pathlib import Path

from config.environment import UsageAssumptions
from config.environments import ENVIRONMENTS, PROD, load
from stacks.platform import build_app
from tools.reports.cost import seed_literal

NAMES = (*ENVIRONMENTS, seed_literal.NAME)


def usage_of(name: str) -> UsageAssumptions:
    """The seed-literal app is priced on prod's usage: the same work."""
    return PROD.usage if name == seed_literal.NAME else load(name).usage


def synthesize(name: str, outdir: Path) -> Path:
    if outdir.exists():
        shutil.rmtree(outdir)
    if name == seed_literal.NAME:
        seed_literal.build(str(outdir)).synth()
    else:
        app, _ = build_app(load(name), outdir=str(outdir), nag=False)
        app.synth()
    return outdir
