"""Singletons: resources that exist once per account (and region) are not owned by one environment's stack.

Several environments may share an account (stacks are named ``<Env>-<Part>`` for that), and an environment is torn
down on its own. A per-account resource in one environment's stack is then either fought over (the second
environment's create fails, or overwrites the first's setting) or left dangling by a teardown:

- ``AWS::ApiGateway::Account``: the account's API Gateway settings (the CloudWatch role API Gateway logs with).
  Deleting the resource changes nothing in the account, so a teardown of the stack leaves the setting pointing at the
  role the same stack deleted, and every stage that logs in the account fails its next deploy. It is a declared
  prerequisite instead (``config/prerequisites.py``), verified by `make account-check`.
- ``AWS::IAM::OIDCProvider`` for one URL, ``AWS::GuardDuty::Detector``, ``AWS::SecurityHub::Hub``,
  ``AWS::Config::ConfigurationRecorder``: one per account (and region); fails when another environment of the config
  uses the same account and creates its own.
"""

from __future__ import annotations

from config.environment import EnvironmentConfig
from config.environments import ENVIRONMENTS
from tools.assembly import Assembly
from tools.reports.preflight.model import CheckResult, Finding

NAME = "singletons"
# An account setting: no environment can own it.
SETTINGS = {"AWS::ApiGateway::Account": "the account's API Gateway settings (its CloudWatch logging role)"}
# One per account (and region, where regional): an environment may own it only alone in its account.
PER_ACCOUNT = {"AWS::IAM::OIDCProvider": "an OIDC provider (one per URL and account)",
               "AWS::GuardDuty::Detector": "GuardDuty's detector (one per account and region)",
               "AWS::SecurityHub::Hub": "Security Hub (one per account and region)",
               "AWS::Config::ConfigurationRecorder": "AWS Config's recorder (one per account and region)"}


def _sharing(config: EnvironmentConfig) -> list[str]:
    """The other environments of the config in the same account and region."""
    return [c.name for c in ENVIRONMENTS.values()
            if c.name != config.name and c.account == config.account and c.region == config.region]


def check(assembly: Assembly, config: EnvironmentConfig) -> CheckResult:
    findings: list[Finding] = []
    for r in assembly.resources(*SETTINGS):
        findings.append(Finding(r.name, f"sets {SETTINGS[r.type]} from one environment's stack: a teardown of "
                                        f"{r.stack} leaves the setting pointing at what the stack deleted, and "
                                        "another environment in the account overwrites it; declare it a prerequisite "
                                        "(config/prerequisites.py) instead"))
    others = _sharing(config)
    for r in assembly.resources(*PER_ACCOUNT):
        owners = [c for c in others
                  if not (r.type == "AWS::IAM::OIDCProvider" and ENVIRONMENTS[c].delivery.existing_oidc_provider_arn)]
        if owners:
            findings.append(Finding(r.name, f"creates {PER_ACCOUNT[r.type]} in account {config.account}, which "
                                            f"{', '.join(owners)} share(s) and create(s) too: the second create "
                                            "fails; let one environment own it and the others reference it"))
    figure = (f"account {config.account} {config.region}"
              + (f", shared with {', '.join(others)}" if others else ", this environment's alone"))
    return CheckResult(NAME, config.name, figure, findings)
