"""Environment of the inventory service (API and worker read the same variables): the contract's, nothing else."""

from __future__ import annotations

from common.settings import ServiceSettings
from contract import Service

SERVICE = Service.INVENTORY
Settings = ServiceSettings


def load() -> Settings:
    return Settings.load(SERVICE)
