#!/usr/bin/env python3
"""CDK entry point: `cdk synth -c env=dev|staging|prod` (default dev)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import aws_cdk as cdk
from contract import ContractError

from config.environment import ConfigError
from config.environments import load
from config.load_test import parse as parse_load_test
from policies.report import format_violations, read_findings
from stacks.platform import build_app
from stacks.services_stack import EnvironmentContractError


def main() -> None:
    probe = cdk.App()
    try:
        config = load(probe.node.try_get_context("env"))
        # `make load ENV=...` asks the Services stack for the load Job with -c load=... (config/load_test.py).
        load_test = parse_load_test(probe.node.try_get_context("load"), config)
    except ConfigError as err:
        # A user error: one line, no traceback.
        print(err, file=sys.stderr)
        raise SystemExit(2) from None
    try:
        app, _ = build_app(config, outdir=probe.outdir, load_test=load_test)
    except (EnvironmentContractError, ContractError, ConfigError) as err:  # the contract contradicts itself, or a
        # route has no group of the service level objectives
        print(err, file=sys.stderr)
        raise SystemExit(2) from None
    except FileNotFoundError as err:  # the storefront is not built (the Web stack deploys web/dist)
        print(err, file=sys.stderr)
        raise SystemExit(2) from None
    try:
        app.synth()
    except RuntimeError as err:
        # cdk-nag findings: list each unacknowledged one on its own line instead of a jsii stack trace.
        match = re.search(r"ValidationFailed: .*?found in: (\S+validation-report\.json)", str(err))
        if not match:
            raise
        print(f"cdk-nag: unacknowledged findings in {config.name}:", file=sys.stderr)
        print(format_violations(read_findings(Path(match.group(1)))), file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
