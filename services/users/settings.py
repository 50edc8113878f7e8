"""Environment of the users service (API and worker read the same variables)."""

from __future__ import annotations

from common.settings import ServiceSettings
from contract import Service

SERVICE = Service.USERS


class Settings(ServiceSettings):
    # The notifier's SES sender and configuration set (the contract's ServiceSpec.sends_email).
    @property
    def email_sender(self) -> str:
        return self.environ["EMAIL_SENDER"]

    @property
    def email_sender_name(self) -> str:
        return self.environ["EMAIL_SENDER_NAME"]

    @property
    def email_configuration_set(self) -> str:
        return self.environ["EMAIL_CONFIGURATION_SET"]


def load() -> Settings:
    return Settings.load(SERVICE)
