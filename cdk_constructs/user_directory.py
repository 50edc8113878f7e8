"""Cognito: the end users' pool (sign-up, sign-in, admin group) and the service-to-service resource server."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from cdk_constructs.retention import removal_policy
from config.environment import RemovalMode
from config.topology import RESOURCE_SERVER_SCOPES, SERVICE_CALLS, Service
from policies.nag import acknowledge

ADMIN_GROUP = "admin"


class UserDirectory(Construct):
    """User pool of the shop's customers and admins.

    - ``web_client``: public client (no secret) used by the users service for sign-in with USER_PASSWORD_AUTH and
      by the API Gateway authorizer.
    - ``resource_servers``: one per called service (identifier = the service name, e.g. ``products/read``), and
      ``service_clients``: one confidential client per calling service, client-credentials grant only, holding only
      the scopes that service needs (``config.topology.SERVICE_CALLS``).
    """

    def __init__(self, scope: Construct, construct_id: str, *, removal: RemovalMode, domain_prefix: str) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self, "UserPool",
            self_sign_up_enabled=True,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            password_policy=cognito.PasswordPolicy(min_length=12, require_lowercase=True, require_uppercase=True,
                                                   require_digits=True, require_symbols=True,
                                                   temp_password_validity=cdk.Duration.days(3)),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            deletion_protection=removal != RemovalMode.DESTROY,
            removal_policy=removal_policy(removal),
        )
        acknowledge(self.user_pool, "AwsSolutions-COG2",
                    "Shoppers may enrol TOTP MFA but are not forced to; threat protection in full-function mode "
                    "adds adaptive authentication that challenges risky sign-ins instead.")
        self.web_client = self.user_pool.add_client(
            "WebClient",
            auth_flows=cognito.AuthFlow(user_password=True, user_srp=True),
            prevent_user_existence_errors=True,
            access_token_validity=cdk.Duration.minutes(60),
            id_token_validity=cdk.Duration.minutes(60),
            refresh_token_validity=cdk.Duration.days(30),
        )
        self.admin_group = cognito.CfnUserPoolGroup(
            self, "AdminGroup", user_pool_id=self.user_pool.user_pool_id, group_name=ADMIN_GROUP,
            description="Catalog and stock administrators (product writes, stock adjustments)")
        # Hosted domain: the token endpoint of the client-credentials grant for service-to-service calls.
        self.domain = self.user_pool.add_domain(
            "Domain", cognito_domain=cognito.CognitoDomainOptions(domain_prefix=domain_prefix))

        self.resource_servers: dict[Service, cognito.UserPoolResourceServer] = {}
        self._scopes: dict[str, cognito.OAuthScope] = {}
        for service, scopes in RESOURCE_SERVER_SCOPES.items():
            server_scopes = [cognito.ResourceServerScope(scope_name=s, scope_description=f"{s} on {service.value}")
                             for s in scopes]
            server = self.user_pool.add_resource_server(
                f"{service.value.capitalize()}ResourceServer", identifier=service.value, scopes=server_scopes)
            self.resource_servers[service] = server
            for s in server_scopes:
                self._scopes[f"{service.value}/{s.scope_name}"] = cognito.OAuthScope.resource_server(server, s)

        self.service_clients: dict[Service, cognito.UserPoolClient] = {}
        for caller, wanted in SERVICE_CALLS.items():
            self.service_clients[caller] = self.user_pool.add_client(
                f"{caller.value.capitalize()}ServiceClient",
                generate_secret=True,
                auth_flows=cognito.AuthFlow(),
                o_auth=cognito.OAuthSettings(flows=cognito.OAuthFlows(client_credentials=True),
                                             scopes=[self._scopes[w] for w in wanted]),
                access_token_validity=cdk.Duration.minutes(60),
            )

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{cdk.Stack.of(self).region}.amazonaws.com/{self.user_pool.user_pool_id}"
