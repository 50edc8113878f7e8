"""What an environment's templates use but do not create: the declared prerequisites of a deploy.

Everything the stacks reference must either be created by them or be listed here, derived from the config that
makes the templates reference it. `make preflight` (check ``prerequisites``) fails on a reference to something the
assembly does not create and this list does not declare; `make account-check ENV=...` proves, with read-only calls
before each deploy, that every entry exists in the account in the state the templates need.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from config.environment import EnvironmentConfig

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"


class PrerequisiteKind(StrEnum):
    IAM_ROLE = "iam-role"
    SES_IDENTITY = "ses-identity"  # verified, with DKIM signing verified
    OIDC_PROVIDER = "oidc-provider"
    # The account's API Gateway setting: the role API Gateway writes execution logs with (one per account and region).
    API_GATEWAY_LOGGING = "api-gateway-logging"
    HOSTED_ZONE = "hosted-zone"
    CERTIFICATE = "certificate"


@dataclass(frozen=True)
class Prerequisite:
    kind: PrerequisiteKind
    identifier: str  # an ARN, a domain, a hosted zone id; empty for an account setting
    why: str  # which part of the templates needs it

    def __str__(self) -> str:
        return f"{self.kind.value} {self.identifier}".rstrip()


def prerequisites(config: EnvironmentConfig) -> tuple[Prerequisite, ...]:
    """The environment's declared prerequisites, in the order a first-deploy runbook creates them."""
    out = [Prerequisite(PrerequisiteKind.API_GATEWAY_LOGGING, "",
                        "the API stage logs executions; API Gateway refuses a stage with logging while the account "
                        "has no CloudWatch role, and the setting is the account's, not one environment's")]
    out.append(Prerequisite(PrerequisiteKind.OIDC_PROVIDER, github_oidc_provider_arn(config),
                            "the deploy, wake and smoke test roles trust GitHub's OIDC provider: the account's "
                            "existing one (delivery.existing_oidc_provider_arn) or the Delivery stack's, which an "
                            "administrator deploys before the pipeline runs"))
    for arn in config.cluster.admin_role_arns:
        out.append(Prerequisite(PrerequisiteKind.IAM_ROLE, arn,
                                "a cluster admin access entry names it; EKS refuses an entry for a missing principal"))
    out.append(Prerequisite(PrerequisiteKind.HOSTED_ZONE, config.web.hosted_zone_id,
                            f"the storefront's certificate is validated and its alias records are written in the "
                            f"domain's Route 53 zone {config.web.hosted_zone_name}, which the domain's owner holds"))
    if config.email.ses_identity_verified:
        out.append(Prerequisite(PrerequisiteKind.SES_IDENTITY, config.email.domain,
                                "the user pool sends through it; Cognito refuses an identity that is not verified"))
    return tuple(out)


def github_oidc_provider_arn(config: EnvironmentConfig) -> str:
    return (config.delivery.existing_oidc_provider_arn
            or f"arn:aws:iam::{config.account}:oidc-provider/{GITHUB_OIDC_HOST}")


def ses_identity_arn(config: EnvironmentConfig) -> str:
    return f"arn:aws:ses:{config.region}:{config.account}:identity/{config.email.domain}"
