"""Environment of the products service (API and worker read the same variables)."""

from __future__ import annotations

from common.settings import ServiceSettings
from contract import CONTRACT, Service
from contract.environment import SERVICE_CLIENT_IDS

SERVICE = Service.PRODUCTS
# Resource-server scope guarding the internal routes (the contract's scopes of this service).
(READ_SCOPE,) = (f"{SERVICE}/{scope}" for scope in CONTRACT.service(SERVICE).scopes)


def parse_client_ids(raw: str) -> frozenset[str]:
    return frozenset(c.strip() for c in raw.split(",") if c.strip())


class Settings(ServiceSettings):
    @property
    def service_client_ids(self) -> frozenset[str]:
        """App client ids of the services allowed to call the internal routes."""
        return parse_client_ids(self.environ[SERVICE_CLIENT_IDS])


def load() -> Settings:
    return Settings.load(SERVICE)
