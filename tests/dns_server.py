"""A DNS server over UDP on 127.0.0.1 for the delegation check's tests: authoritative for one parent zone, whose
records it serves (SOA, NS, the address of its one server: 127.0.0.1), and which refers a child zone to the name
servers it is given (``delegate``), or to none. Answers are dnspython's messages, as a real server's would be on the
wire; the check asks it as it would ask the internet's servers (``tools/ops/account_check/delegation.py``)."""

from __future__ import annotations

import socketserver
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from tools.ops.account_check.delegation import Dns


class ParentZoneServer:
    def __init__(self, parent: str) -> None:
        self.parent = dns.name.from_text(parent)
        self.server_name = dns.name.from_text("ns1", origin=self.parent)
        self.records: dict[tuple[dns.name.Name, dns.rdatatype.RdataType], dns.rrset.RRset] = {}
        self.delegations: dict[dns.name.Name, dns.rrset.RRset] = {}
        self._add(self.parent, dns.rdatatype.SOA,
                  [f"{self.server_name} hostmaster.{self.parent} 1 7200 900 1209600 86400"])
        self._add(self.parent, dns.rdatatype.NS, [str(self.server_name)])
        self._add(self.server_name, dns.rdatatype.A, ["127.0.0.1"])
        self.queries: list[tuple[str, str, bool]] = []  # (name, type, recursion desired)
        self.errors: list[str] = []  # exceptions of the handler: the tests assert there are none

    def _add(self, name: dns.name.Name, rdtype: dns.rdatatype.RdataType, values: list[str]) -> None:
        self.records[(name, rdtype)] = dns.rrset.from_text_list(name, 300, dns.rdataclass.IN, rdtype, values)

    def delegate(self, zone: str, name_servers: Iterable[str]) -> None:
        """The parent's NS records for ``zone`` (none: the zone is not delegated)."""
        name = dns.name.from_text(zone)
        servers = [n if n.endswith(".") else f"{n}." for n in name_servers]
        if servers:
            self.delegations[name] = dns.rrset.from_text_list(name, 172800, dns.rdataclass.IN, dns.rdatatype.NS,
                                                              servers)
        else:
            self.delegations.pop(name, None)

    def answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        (question,) = query.question
        name, rdtype = question.name, question.rdtype
        self.queries.append((str(name), dns.rdatatype.to_text(rdtype), bool(query.flags & dns.flags.RD)))
        cut = next((zone for zone in self.delegations if name.is_subdomain(zone)), None)
        if not name.is_subdomain(self.parent):
            response.set_rcode(dns.rcode.REFUSED)
        elif cut is not None:  # a referral: not authoritative, the child's servers in the authority section
            response.authority.append(self.delegations[cut])
        else:
            response.flags |= dns.flags.AA
            if (name, rdtype) in self.records:
                response.answer.append(self.records[(name, rdtype)])
            else:
                if not any(n == name for n, _ in self.records):
                    response.set_rcode(dns.rcode.NXDOMAIN)
                response.authority.append(self.records[(self.parent, dns.rdatatype.SOA)])
        return bytes(response.to_wire())


@contextmanager
def serving(server: ParentZoneServer) -> Iterator[Dns]:
    """Serves ``server`` on a free UDP port of 127.0.0.1; yields the ``Dns`` that asks it everything."""

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            data, sock = self.request
            sock.sendto(server.answer(data), self.client_address)

    class Server(socketserver.ThreadingUDPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            server.errors.append(f"{client_address}: {sys.exc_info()[1]!r}")

    udp = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=udp.serve_forever, daemon=True)
    thread.start()
    try:
        yield Dns.server("127.0.0.1", udp.server_address[1])
    finally:
        udp.shutdown()
        udp.server_close()
        thread.join(timeout=5)
