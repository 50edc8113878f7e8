"""Is a Route 53 hosted zone delegated: do the servers of its parent zone refer its name to the zone's name servers?

A hosted zone answers nothing until the parent zone (a registrar's TLD for a registered domain, the team's own zone for
a subdomain) holds NS records naming the four servers Route 53 assigned to it. Until then ACM's DNS validation record
and the alias records are published where no resolver looks: the certificate stays PENDING_VALIDATION and the
WebGlobal stack's deploy waits on it until CloudFormation gives up. A zone deleted and created again gets new servers
while the parent still names the old ones: the same failure, so the sets must be equal, not merely present.

The check asks what resolvers see, not what a recursive resolver has cached: it finds the parent zone and its
servers through a stub resolver, then asks one of those servers, without recursion, for the zone's NS records, and
reads its referral (the authority section) or, where that server is authoritative for both, its answer. The stub
resolver and the port the parent's servers answer on are given (``Dns``), so the tests run it against a DNS server of
their own on 127.0.0.1 (`make account-check DNS_SERVER=127.0.0.1:PORT` does the same).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rdatatype
import dns.resolver


@dataclass(frozen=True)
class Dns:
    """How the check reaches DNS: ``resolver`` (the system's by default) finds the parent zone, its servers and
    their addresses; ``port`` is where those servers answer the direct question."""

    resolver: dns.resolver.Resolver = field(default_factory=dns.resolver.Resolver)
    port: int = 53
    timeout_seconds: float = 5.0

    @classmethod
    def server(cls, address: str, port: int) -> Dns:
        """Everything asked of one server (``--dns-server HOST:PORT``): a local one in the tests."""
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [address]
        resolver.port = port
        resolver.lifetime = 5.0
        return cls(resolver=resolver, port=port)


@dataclass(frozen=True)
class Delegation:
    zone: str
    parent: str
    asked: str  # the parent's server that answered
    delegated_to: frozenset[str]  # the NS names the parent refers the zone to (empty: not delegated)


class DelegationError(Exception):
    """DNS could not say (no parent zone found, no server of it answered)."""


def normalized(name_servers: Iterable[object]) -> frozenset[str]:
    """Name server names compared as DNS names: lower case, no trailing dot."""
    return frozenset(str(n).lower().rstrip(".") for n in name_servers)


def delegation(zone_name: str, dns_: Dns) -> Delegation:
    """What the servers of ``zone_name``'s parent zone say its name servers are."""
    zone = dns.name.from_text(zone_name)
    try:
        parent = dns.resolver.zone_for_name(zone.parent(), resolver=dns_.resolver)
        hosts = sorted(str(r.target) for r in dns_.resolver.resolve(parent, dns.rdatatype.NS))
    except (dns.exception.DNSException, dns.name.NoParent) as err:
        raise DelegationError(f"cannot find the parent zone of {zone_name} or its servers: {err}") from err
    failures = []
    for host in hosts:
        try:
            addresses = [str(a) for a in dns_.resolver.resolve(host, dns.rdatatype.A)]
        except dns.exception.DNSException as err:
            failures.append(f"{host}: {err}")
            continue
        for address in addresses:
            query = dns.message.make_query(zone, dns.rdatatype.NS)
            query.flags &= ~dns.flags.RD  # the parent's own data, not a recursive answer
            try:
                response = dns.query.udp(query, address, timeout=dns_.timeout_seconds, port=dns_.port)
            except (dns.exception.DNSException, OSError) as err:
                failures.append(f"{host} ({address}): {err}")
                continue
            found = [r for r in (*response.answer, *response.authority)
                     if r.rdtype == dns.rdatatype.NS and r.name == zone]
            return Delegation(zone=zone_name.rstrip("."), parent=str(parent).rstrip("."), asked=host.rstrip("."),
                              delegated_to=normalized(r.target for rrset in found for r in rrset))
    raise DelegationError(f"no server of {parent} answered: {'; '.join(failures) or 'it has none'}")
