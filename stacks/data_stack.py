from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from constructs import Construct
from contract import Contract

from cdk_constructs.email_identity import EmailIdentity
from cdk_constructs.encryption_key import EncryptionKey
from cdk_constructs.log_groups import LogSettings
from cdk_constructs.orders_database import OrdersDatabase
from cdk_constructs.payment_webhook_secret import PaymentWebhookSecret
from cdk_constructs.service_table import ServiceTable
from cdk_constructs.user_directory import UserDirectory
from config.environment import DatabaseConfig, EmailConfig, RemovalMode, UserPoolTier
from config.topology import Service


class DataStack(cdk.Stack):
    """Stateful: one store per service. Orders on Aurora PostgreSQL; products, users, inventory on DynamoDB.

    Table key schemas and access patterns are defined in :data:`config.topology.TABLES` (products: item by id and
    a catalog index for paging; users: profile by Cognito subject and an email index; inventory: stock and
    reservations under the product's partition, so one transaction covers them); each also has the sparse
    ``OutboxPending`` index the outbox relay reads.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: DatabaseConfig, email: EmailConfig,
                 vpc: ec2.IVpc, log_settings: LogSettings, removal: RemovalMode, contract: Contract,
                 user_pool_tier: UserPoolTier = UserPoolTier.PLUS, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.database_key = EncryptionKey(self, "OrdersDatabaseKey", removal=removal,
                                          description="Orders database storage, secret and Performance Insights").key
        self.tables_key = EncryptionKey(self, "TablesKey", removal=removal,
                                        description="DynamoDB tables of products, users and inventory").key
        self.orders_database = OrdersDatabase(
            self, "OrdersDatabase", config=config, vpc=vpc, key=self.database_key, removal=removal,
            log_settings=log_settings)
        # Shared with the payment provider, which signs its webhook requests with it: orders' data, orders' key.
        self.payment_webhook = PaymentWebhookSecret(self, "PaymentWebhook", key=self.database_key, removal=removal)
        self.tables: dict[Service, ServiceTable] = {
            definition.service: ServiceTable(
                self, definition.construct_id, definition=definition, key=self.tables_key, removal=removal,
                deletion_protection=config.deletion_protection)
            for definition in contract.tables
        }
        # The platform's SES sending domain: Cognito now, order notifications later, each with its own
        # configuration set.
        self.email_identity = EmailIdentity(self, "EmailIdentity", config=email)
        # Customer accounts are state too: the users service's identity store.
        self.users = UserDirectory(self, "Users", removal=removal, deletion_protection=config.deletion_protection,
                                   email=self.email_identity,
                                   domain_prefix=f"{self.stack_name.lower()}-{self.account}",
                                   secrets_key=self.database_key, log_settings=log_settings,
                                   resource_server_scopes=contract.resource_server_scopes(),
                                   service_calls=contract.service_calls(),
                                   tier=user_pool_tier)
