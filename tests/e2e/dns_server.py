"""An authoritative DNS server for delivery tests, built on dnslib.

`DnsServer` answers on 127.0.0.1:<port> over UDP and TCP (the same port number) from
a plain Python structure, so a test can give a domain MX records (null MX included),
A and AAAA records, make a name fail with SERVFAIL, and change all of it while the
daemon under test is running:

    zone = {"dest.example": [MX(10, "mx1.dest.example"), MX(20, "mx2.dest.example")],
            "mx1.dest.example": [A("127.0.0.5")], "mx2.dest.example": [A("127.0.0.3")]}
    with DnsServer(zone) as dns:
        dns.add("null.example", MX(0, "."))
        dns.break_name("broken.example")

Answers follow what a real authoritative server says: a name it has records for but
not of the asked type gets NOERROR with no answer (NODATA, so "no MX" is not "no
domain"), a name inside one of its zones that it does not know gets NXDOMAIN, both
with the zone's SOA; a name outside its zones gets REFUSED. It does no recursion,
no CNAME chasing, no DNSSEC and no wildcards.
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass
from typing import Iterable, Mapping, Union

from dnslib import AAAA as AAAA_RDATA
from dnslib import A as A_RDATA
from dnslib import MX as MX_RDATA
from dnslib import QTYPE, RCODE, RR, SOA, DNSLabel, DNSRecord
from dnslib.server import BaseResolver, DNSLogger
from dnslib.server import DNSServer as _DnslibServer

DEFAULT_TTL = 1  # short: the resolver under test must see changes a test makes
DEFAULT_ZONES = ("example", "test")
BIND_ATTEMPTS = 20


@dataclass(frozen=True)
class MX:
    """An MX record. `MX(0, ".")` is the null MX of RFC 7505: "this domain takes no mail"."""
    preference: int
    exchange: str

    qtype = "MX"

    def rdata(self) -> MX_RDATA:
        return MX_RDATA(self.exchange, self.preference)


@dataclass(frozen=True)
class A:
    address: str

    qtype = "A"

    def rdata(self) -> A_RDATA:
        return A_RDATA(str(ipaddress.IPv4Address(self.address)))


@dataclass(frozen=True)
class AAAA:
    address: str

    qtype = "AAAA"

    def rdata(self) -> AAAA_RDATA:
        return AAAA_RDATA(str(ipaddress.IPv6Address(self.address)))


Record = Union[MX, A, AAAA]
Zone = Mapping[str, Iterable[Record]]


@dataclass(frozen=True)
class Query:
    """One question the server was asked, for tests that check what was looked up."""
    name: str
    qtype: str
    transport: str  # "udp" | "tcp"


def _key(name: str) -> str:
    """Names compare case-insensitively and without the trailing dot."""
    return name.rstrip(".").lower()


class _ZoneResolver(BaseResolver):
    """Answers from the records of a `DnsServer`; shared by its UDP and TCP servers."""

    def __init__(self, server: "DnsServer"):
        self.server = server

    def resolve(self, request: DNSRecord, handler) -> DNSRecord:
        reply = request.reply()
        question = request.q
        name = _key(str(question.qname))
        qtype = QTYPE.get(question.qtype, str(question.qtype))
        self.server._record_query(Query(name, qtype, handler.protocol))
        self.server._answer(reply, name, qtype)
        return reply


class DnsServer:
    """The server; a context manager that starts it on enter and stops it on exit."""

    def __init__(self, records: Zone | None = None, *, zones: Iterable[str] = DEFAULT_ZONES,
                 broken: Iterable[str] = (), ttl: int = DEFAULT_TTL):
        self.zones = tuple(_key(zone) for zone in zones)
        self.ttl = ttl
        self._lock = threading.Lock()
        self._records: dict[str, list[Record]] = {}
        self._broken: set[str] = {_key(name) for name in broken}
        self._queries: list[Query] = []
        self._servers: list[_DnslibServer] = []
        self.port = 0
        for name, name_records in (records or {}).items():
            self.set(name, name_records)

    # lifecycle

    def __enter__(self) -> "DnsServer":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def address(self) -> str:
        """What goes into `[dns] nameservers`."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> "DnsServer":
        if self._servers:
            raise RuntimeError("DNS server already started")
        resolver = _ZoneResolver(self)
        logger = DNSLogger(log="-recv,-send,-request,-reply,-truncated,-data,-error",
                           prefix=False, logf=lambda _line: None)
        for _ in range(BIND_ATTEMPTS):
            udp = _DnslibServer(resolver, address="127.0.0.1", port=0, logger=logger)
            port = udp.server.server_address[1]
            try:
                tcp = _DnslibServer(resolver, address="127.0.0.1", port=port, tcp=True,
                                    logger=logger)
            except OSError:  # the TCP side of that port is taken: try another port
                udp.server.server_close()
                continue
            self._servers = [udp, tcp]
            self.port = port
            for server in self._servers:
                server.start_thread()
            return self
        raise RuntimeError(f"no port free for both UDP and TCP after {BIND_ATTEMPTS} tries")

    def stop(self) -> None:
        # socketserver notices a shutdown request only between polls (0.5 s): stop the
        # UDP and TCP servers side by side rather than one after the other.
        stoppers = [threading.Thread(target=server.stop) for server in self._servers]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        for server in self._servers:
            server.server.server_close()
        self._servers = []

    # changing the data, also while running

    def set(self, name: str, records: Iterable[Record]) -> None:
        """Replaces every record of `name`."""
        with self._lock:
            self._records[_key(name)] = list(records)

    def add(self, name: str, *records: Record) -> None:
        with self._lock:
            self._records.setdefault(_key(name), []).extend(records)

    def remove(self, name: str) -> None:
        """Forgets `name`: it becomes NXDOMAIN (inside a zone)."""
        with self._lock:
            self._records.pop(_key(name), None)

    def break_name(self, name: str) -> None:
        """Every question about `name` gets SERVFAIL until `repair_name`."""
        with self._lock:
            self._broken.add(_key(name))

    def repair_name(self, name: str) -> None:
        with self._lock:
            self._broken.discard(_key(name))

    # inspection

    def queries(self) -> list[Query]:
        with self._lock:
            return list(self._queries)

    # answering (called from the server threads)

    def _record_query(self, query: Query) -> None:
        with self._lock:
            self._queries.append(query)

    def _zone_of(self, name: str) -> str | None:
        matches = [zone for zone in self.zones if name == zone or name.endswith("." + zone)]
        return max(matches, key=len, default=None)

    def _answer(self, reply: DNSRecord, name: str, qtype: str) -> None:
        with self._lock:
            broken = name in self._broken
            records = self._records.get(name)
        zone = self._zone_of(name)
        if broken:
            reply.header.rcode = RCODE.SERVFAIL
            return
        if zone is None:
            reply.header.rcode = RCODE.REFUSED
            return
        reply.header.aa = 1
        if records is None:
            reply.header.rcode = RCODE.NXDOMAIN
        matching = [record for record in records or () if record.qtype == qtype
                    or qtype == "ANY"]
        for record in matching:
            reply.add_answer(RR(name, getattr(QTYPE, record.qtype), rdata=record.rdata(),
                                ttl=self.ttl))
        if not matching:
            reply.add_auth(self._soa(zone))

    def _soa(self, zone: str) -> RR:
        """The zone's SOA for negative answers; its minimum is the negative-cache TTL."""
        rdata = SOA(DNSLabel(f"ns.{zone}"), DNSLabel(f"hostmaster.{zone}"),
                    (1, 60, 60, 60, self.ttl))
        return RR(zone, QTYPE.SOA, rdata=rdata, ttl=self.ttl)

