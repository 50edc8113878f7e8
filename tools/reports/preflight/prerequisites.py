"""Prerequisites: everything the templates reference that must exist when CloudFormation gets to it is either created
by the assembly, in a state it can be used in, or declared in the config (``config/prerequisites.py``), where
`make account-check` proves it before each deploy.

What must exist, and what each service does with a reference to something missing:

- ``AWS::EKS::AccessEntry.PrincipalArn``: CreateAccessEntry refuses a principal that does not exist ("The specified
  principalArn is invalid"), after the cluster's 15 minutes of creation.
- IAM principals (``AWS``, ``Federated``) in a role's trust policy, a key policy or a bucket policy: IAM, KMS and S3
  refuse a policy with a principal they cannot resolve ("Invalid principal in policy").
- ``AWS::Cognito::UserPool.EmailConfiguration.SourceArn`` with ``EmailSendingAccount: DEVELOPER``: Cognito refuses an
  SES identity that is not verified ("Email address is not verified"). An identity the assembly creates is *pending*
  when the pool is created (SES verifies a domain once its DKIM records are published in DNS, and those records are
  outputs of the deploy that creates it), so such a pool fails unless the config declares the identity verified.
- Hosted zones (``HostedZoneId``) and ACM certificates (``CertificateArn``) named by id.
- An API stage that logs executions: API Gateway refuses it while the account has no CloudWatch role
  (``AWS::ApiGateway::Account``, a setting of the account: declared, never created by one environment; see the
  ``singletons`` check).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from config.environment import EnvironmentConfig
from config.prerequisites import Prerequisite, PrerequisiteKind, prerequisites
from tools.assembly import Assembly, Resource
from tools.reports.preflight.model import CheckResult, Finding

NAME = "prerequisites"
POLICY_PROPERTIES = {"AWS::IAM::Role": "AssumeRolePolicyDocument", "AWS::KMS::Key": "KeyPolicy",
                     "AWS::S3::BucketPolicy": "PolicyDocument"}
CERTIFICATE_PROPERTIES = ("CertificateArn", "AcmCertificateArn")
_ROOT = re.compile(r"^(arn:aws[a-z-]*:iam::\d{12}:root|\d{12})$")


def _principals(document: Any) -> Iterator[tuple[str, Any]]:
    for statement in (document or {}).get("Statement") or []:
        principal = statement.get("Principal")
        if not isinstance(principal, dict):
            continue
        for kind in ("AWS", "Federated"):
            values = principal.get(kind)
            for v in values if isinstance(values, list) else [values] if values is not None else []:
                yield kind, v


def _walk(node: Any, keys: tuple[str, ...]) -> Iterator[Any]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k in keys:
                yield v
            yield from _walk(v, keys)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v, keys)


class References:
    """What the assembly itself creates, by the names a literal reference would use."""

    def __init__(self, assembly: Assembly) -> None:
        self.assembly = assembly
        self.roles: set[str] = set()
        self.oidc: set[str] = set()
        self.identities: dict[str, Resource] = {}
        for r in assembly.resources("AWS::IAM::Role"):
            name = assembly.literal(r.stack, r.properties.get("RoleName"))
            if name:
                self.roles.add(name)
        for r in assembly.resources("AWS::IAM::OIDCProvider"):
            url = assembly.literal(r.stack, r.properties.get("Url"))
            if url:
                self.oidc.add(url.removeprefix("https://"))
        for r in assembly.resources("AWS::SES::EmailIdentity"):
            identity = assembly.literal(r.stack, r.properties.get("EmailIdentity"))
            if identity:
                self.identities[identity] = r

    def created(self, stack: str, value: Any) -> bool | None:
        """True when the value names a resource of the assembly; False for a literal that names none; None when it
        cannot be told (a deploy-time value that is not a reference)."""
        if self.assembly.target(stack, value) is not None:
            return True
        literal = self.assembly.literal(stack, value)
        if literal is None:
            return None
        if m := re.match(r"arn:aws[a-z-]*:iam::\d{12}:role/(?:.*/)?([^/]+)$", literal):
            return m.group(1) in self.roles
        if m := re.match(r"arn:aws[a-z-]*:iam::\d{12}:oidc-provider/(.+)$", literal):
            return m.group(1) in self.oidc
        return False


def _declared(declared: tuple[Prerequisite, ...], kind: PrerequisiteKind, identifier: str) -> bool:
    return any(p.kind == kind and p.identifier == identifier for p in declared)


def check(assembly: Assembly, config: EnvironmentConfig) -> CheckResult:
    declared = prerequisites(config)
    refs = References(assembly)
    findings: list[Finding] = []
    checked = 0

    def need(r: Resource, kind: PrerequisiteKind, value: Any, why: str) -> None:
        nonlocal checked
        checked += 1
        created = refs.created(r.stack, value)
        literal = assembly.literal(r.stack, value)
        if created is False and literal is not None and not _declared(declared, kind, literal):
            findings.append(Finding(r.name, f"{why} {literal}, which no stack of the assembly creates and the config "
                                            f"does not declare a prerequisite ({kind.value}; config/prerequisites.py): "
                                            "CloudFormation fails when it gets there"))

    for r in assembly.resources("AWS::EKS::AccessEntry"):
        need(r, PrerequisiteKind.IAM_ROLE, r.properties.get("PrincipalArn"),
             "the access entry's principal (EKS refuses one that does not exist) is")
    for r in assembly.resources(*POLICY_PROPERTIES):
        for kind, value in _principals(r.properties.get(POLICY_PROPERTIES[r.type])):
            literal = assembly.literal(r.stack, value)
            if literal is not None and (literal == "*" or _ROOT.match(literal)):
                continue  # anyone (narrowed by conditions), or an account: nothing to exist
            need(r, PrerequisiteKind.IAM_ROLE if kind == "AWS" else PrerequisiteKind.OIDC_PROVIDER, value,
                 f"a {kind} principal of its policy (IAM refuses one it cannot resolve) is")
    for r in assembly.resources():
        for value in _walk(r.properties, ("HostedZoneId",)):
            need(r, PrerequisiteKind.HOSTED_ZONE, value, "its hosted zone is")
        for value in _walk(r.properties, CERTIFICATE_PROPERTIES):
            need(r, PrerequisiteKind.CERTIFICATE, value, "its certificate is")
    for pool in assembly.resources("AWS::Cognito::UserPool"):
        email = pool.properties.get("EmailConfiguration") or {}
        if email.get("EmailSendingAccount") != "DEVELOPER":
            continue
        checked += 1
        source = assembly.literal(pool.stack, email.get("SourceArn"))
        identity = (source or "").rpartition(":identity/")[2]
        if _declared(declared, PrerequisiteKind.SES_IDENTITY, identity):
            continue
        made = refs.identities.get(identity)
        if made is not None:
            findings.append(Finding(pool.name, f"sends through the SES identity {identity}, which "
                                               f"{made.stack}/{made.logical_id} creates in the same deploy: SES keeps "
                                               "a new domain identity pending until its DKIM records are published, "
                                               "and Cognito refuses an identity that is not verified ('Email address "
                                               "is not verified'); use Cognito's sender until the config says "
                                               "email.ses_identity_verified"))
        else:
            findings.append(Finding(pool.name, f"sends through the SES identity {identity or source}, which the "
                                               "config does not declare verified (email.ses_identity_verified): "
                                               "Cognito refuses an identity that is not verified"))
    logging_stages = [s for s in assembly.resources("AWS::ApiGateway::Stage")
                      if {str(m.get("LoggingLevel", "OFF")).upper() for m in s.properties.get("MethodSettings") or []}
                      - {"OFF"}]
    account_settings = list(assembly.resources("AWS::ApiGateway::Account"))
    if logging_stages and not account_settings and not any(
            p.kind == PrerequisiteKind.API_GATEWAY_LOGGING for p in declared):
        findings.append(Finding(logging_stages[0].name, "logs executions, but nothing sets the account's API Gateway "
                                                        "CloudWatch role and the config does not declare it"))
    checked += len(logging_stages)
    figure = f"{checked} references to what must exist, {len(declared)} declared prerequisites"
    return CheckResult(NAME, config.name, figure, findings, [f"  declared: {p} ({p.why})" for p in declared])
