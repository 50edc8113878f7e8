"""Cognito: the end users' pool (sign-up, sign-in, admin group) and the service-to-service resource server."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ses as ses
from constructs import Construct

from cdk_constructs.email_identity import EmailIdentity
from cdk_constructs.log_groups import LogSettings, adopt_library_log_groups
from cdk_constructs.retention import removal_policy
from config.environment import RemovalMode, UserPoolTier
from config.topology import Service
from policies.nag import acknowledge

ADMIN_GROUP = "admin"
AWS_CUSTOM_RESOURCE_ID = "AWS679f53fac002430cb0da5b7982bd2287"  # aws-cdk-lib's fixed id of the singleton function
_FEATURE_PLANS = {UserPoolTier.LITE: cognito.FeaturePlan.LITE, UserPoolTier.ESSENTIALS: cognito.FeaturePlan.ESSENTIALS,
                  UserPoolTier.PLUS: cognito.FeaturePlan.PLUS}


class UserDirectory(Construct):
    """User pool of the shop's customers and admins.

    - ``web_client``: public client (no secret) used by the users service for sign-in with USER_PASSWORD_AUTH and
      by the API Gateway authorizer.
    - ``resource_servers``: one per called service (identifier = the service name, e.g. ``products/read``), and
      ``service_clients``: one confidential client per calling service, client-credentials grant only, holding only
      the scopes that service needs.

    ``resource_server_scopes`` (called service -> its scopes) and ``service_calls`` (calling service -> the
    ``<service>/<scope>`` it needs) are the topology's (``config.topology``).
    """

    def __init__(self, scope: Construct, construct_id: str, *, removal: RemovalMode, deletion_protection: bool,
                 domain_prefix: str, secrets_key: kms.IKey, log_settings: LogSettings, email: EmailIdentity,
                 resource_server_scopes: Mapping[Service, Sequence[str]],
                 service_calls: Mapping[Service, Sequence[str]], tier: UserPoolTier = UserPoolTier.PLUS) -> None:
        super().__init__(scope, construct_id)
        # Verification and recovery codes go out through SES from the platform's domain once SES has verified it:
        # Cognito's own sender is capped at 50 messages a day. A configuration set of its own keeps Cognito's sending
        # apart from other users of the same identity. Until the identity is verified (config
        # email.ses_identity_verified, proved by `make account-check` before each deploy) Cognito sends with its own
        # sender: a pool created or updated with an identity SES still has pending fails ("Email address is not
        # verified"), and the identity is created by this very deploy, so no first deploy could pass otherwise
        # (docs/deploying.md, "Mail"). Switching later is an update of the pool in place.
        self.email_configuration_set = ses.ConfigurationSet(
            self, "EmailConfigurationSet", reputation_metrics=True, sending_enabled=True,
            suppression_reasons=ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
            tls_policy=ses.ConfigurationSetTlsPolicy.REQUIRE)
        self.user_pool = cognito.UserPool(
            self, "UserPool",
            self_sign_up_enabled=True,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            password_policy=cognito.PasswordPolicy(min_length=12, require_lowercase=True, require_uppercase=True,
                                                   require_digits=True, require_symbols=True,
                                                   temp_password_validity=cdk.Duration.days(3)),
            # MFA is off, not optional: sign-in is POST /users/login answering Cognito's InitiateAuth, and no route
            # or page answers a challenge (RespondToAuthChallenge), so a shopper who enrolled a TOTP app through
            # Cognito's public API (AssociateSoftwareToken with their access token) could never sign in again.
            mfa=cognito.Mfa.OFF,
            feature_plan=_FEATURE_PLANS[tier],
            # Threat protection exists on the Plus plan only, and it audits rather than enforces: every sign-in is
            # the users service calling InitiateAuth (USER_PASSWORD_AUTH) from behind the NAT gateways, through a
            # public client that cannot pass the user's context (EnablePropagateAdditionalUserContextData needs a
            # client secret), so risk scoring would see one user at three addresses and block or challenge real
            # users together, each answered 401. Audit mode still scores and logs every sign-in and detects
            # compromised credentials, for the alarms and for an operator to act on (docs/security.md).
            standard_threat_protection_mode=(cognito.StandardThreatProtectionMode.AUDIT_ONLY
                                             if tier == UserPoolTier.PLUS else None),
            deletion_protection=deletion_protection,
            removal_policy=removal_policy(removal),
            email=cognito.UserPoolEmail.with_ses(
                from_email=email.sender, from_name=email.sender_name, ses_verified_domain=email.domain,
                ses_region=cdk.Stack.of(self).region,
                configuration_set_name=self.email_configuration_set.configuration_set_name)
            if email.verified else cognito.UserPoolEmail.with_cognito(reply_to=email.sender),
        )
        if email.verified:
            # Cognito checks the identity when the pool is created or updated with it.
            self.user_pool.node.add_dependency(email.identity)
        if tier == UserPoolTier.PLUS:
            acknowledge(self.user_pool, "AwsSolutions-COG2",
                        "MFA is off: the users service's sign-in route cannot answer a Cognito challenge, so an "
                        "enrolled second factor would lock the shopper out; threat protection scores and logs every "
                        "sign-in and flags compromised credentials instead.")
            acknowledge(self.user_pool, "AwsSolutions-COG3",
                        "Threat protection audits instead of enforcing: the users service signs every user in "
                        "server-side from the NAT gateways' addresses through a client without a secret, which "
                        "cannot pass user context data, so enforcement would score all users as one and refuse "
                        "them together; audit mode keeps the risk scores and compromised-credential detection.")
        else:
            why = ("This environment's pool holds only the team's and the smoke test's accounts, no customer's, "
                   f"so config puts it on the {tier.value.capitalize()} plan, which has no threat protection; "
                   "environments with customers (staging, prod) run Plus in full-function mode, and the API's WAF "
                   "rate-based rule limits sign-in attempts here too.")
            acknowledge(self.user_pool, "AwsSolutions-COG8", why)
            acknowledge(self.user_pool, "AwsSolutions-COG2",
                        "MFA is off: the users service's sign-in route cannot answer a Cognito challenge, so an "
                        "enrolled second factor would lock the member out; members are the team's and the smoke "
                        "test's accounts of a pre-production environment.")
        self.web_client = self.user_pool.add_client(
            "WebClient",
            auth_flows=cognito.AuthFlow(user_password=True, user_srp=True),
            # Sign-in is API calls only. Without this, aws-cdk-lib enables the code and implicit grants with its
            # placeholder callback https://example.com, so the pool domain's hosted pages would send a shopper's
            # tokens there.
            disable_o_auth=True,
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
        for service, scopes in resource_server_scopes.items():
            server_scopes = [cognito.ResourceServerScope(scope_name=s, scope_description=f"{s} on {service.value}")
                             for s in scopes]
            server = self.user_pool.add_resource_server(
                f"{service.value.capitalize()}ResourceServer", identifier=service.value, scopes=server_scopes)
            self.resource_servers[service] = server
            for s in server_scopes:
                self._scopes[f"{service.value}/{s.scope_name}"] = cognito.OAuthScope.resource_server(server, s)

        self.service_clients: dict[Service, cognito.UserPoolClient] = {}
        self.service_client_secrets: dict[Service, secretsmanager.Secret] = {}
        for caller, wanted in service_calls.items():
            self.service_clients[caller] = client = self.user_pool.add_client(
                f"{caller.value.capitalize()}ServiceClient",
                generate_secret=True,
                auth_flows=cognito.AuthFlow(),
                o_auth=cognito.OAuthSettings(flows=cognito.OAuthFlows(client_credentials=True),
                                             scopes=[self._scopes[w] for w in wanted]),
                access_token_validity=cdk.Duration.minutes(60),
            )
            # The client secret reaches the calling service only through Secrets Manager (read by its role alone);
            # the template holds a reference to it, never the value.
            secret = secretsmanager.Secret(
                self, f"{caller.value.capitalize()}ServiceClientSecret",
                description=f"Cognito client-credentials of the {caller.value} service",
                encryption_key=secrets_key,
                secret_object_value={
                    "client_id": cdk.SecretValue.unsafe_plain_text(client.user_pool_client_id),
                    "client_secret": client.user_pool_client_secret,
                },
                removal_policy=removal_policy(removal),
            )
            self.service_client_secrets[caller] = secret
            acknowledge(secret, "AwsSolutions-SMG4",
                        f"The {caller.value} app client's secret is issued by Cognito and cannot be rotated in "
                        "place; rotating it means a new app client, rolled out by a deploy of this stack.")
            acknowledge(secret, "NIST.800.53.R5-SecretsManagerRotationEnabled",
                        f"The {caller.value} app client's secret is issued by Cognito and cannot be rotated in "
                        "place; rotating it means a new app client, rolled out by a deploy of this stack.")
            acknowledge(secret, "PCI.DSS.321-SecretsManagerRotationEnabled",
                        f"The {caller.value} app client's secret is issued by Cognito and cannot be rotated in "
                        "place; rotating it means a new app client, rolled out by a deploy of this stack.")

        if self.service_clients:
            self._harden_secret_reader(log_settings)

    def _harden_secret_reader(self, log_settings: LogSettings) -> None:
        """``user_pool_client_secret`` reads the secret at deploy time with aws-cdk-lib's AwsCustomResource function
        (one per stack). Its log group gets our CMK and retention; its other findings are acknowledged here."""
        stack = cdk.Stack.of(self)
        fn = stack.node.find_child(AWS_CUSTOM_RESOURCE_ID)
        adopt_library_log_groups(fn, log_settings=log_settings)
        acknowledge(fn.node.find_child("ServiceRole"),
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AWSLambdaBasicExecutionRole]",
                    "The deploy-time function that reads the service app clients' secrets only writes its own logs "
                    "with this policy; its Cognito access is the separate per-client DescribeUserPoolClient policy.")
        why = ("It runs only inside CloudFormation deployments of this stack to copy Cognito client secrets into "
               "Secrets Manager; a failure fails the deployment, and it needs no network beyond AWS APIs.")
        for finding in ("NIST.800.53.R5-LambdaConcurrency", "NIST.800.53.R5-LambdaDLQ",
                        "NIST.800.53.R5-LambdaInsideVPC", "PCI.DSS.321-LambdaInsideVPC"):
            acknowledge(fn, finding, why)
        for caller in self.service_clients:
            policy = self.service_clients[caller].node.find_child("DescribeCognitoUserPoolClient").node.find_child(
                "CustomResourcePolicy")
            for pack in ("NIST.800.53.R5", "PCI.DSS.321"):
                acknowledge(policy, f"{pack}-IAMNoInlinePolicy",
                            f"aws-cdk-lib writes this policy for the {caller.value} client alone: "
                            "cognito-idp:DescribeUserPoolClient on this user pool, used once per deployment.")

    def token_url(self) -> str:
        """The client-credentials token endpoint of the pool's domain."""
        return f"{self.domain.base_url()}/oauth2/token"

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{cdk.Stack.of(self).region}.amazonaws.com/{self.user_pool.user_pool_id}"
