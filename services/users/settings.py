"""Environment of the users service (API and worker read the same variables)."""

from __future__ import annotations

from common.settings import ServiceSettings, Var
from contract import Service

SERVICE = Service.USERS


class Settings(ServiceSettings):
    # The notifier's SES sender and configuration set (the contract's ServiceSpec.sends_email).
    email_sender = Var("EMAIL_SENDER")
    email_sender_name = Var("EMAIL_SENDER_NAME")
    email_configuration_set = Var("EMAIL_CONFIGURATION_SET")


def load() -> Settings:
    return Settings.load(SERVICE)
