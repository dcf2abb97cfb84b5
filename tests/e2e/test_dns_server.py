"""The DNS fixture answers as the delivery tests assume, over UDP and TCP, checked with
dnslib's client and with `dig` (bind9-dnsutils)."""

from __future__ import annotations

import subprocess

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from dns_server import AAAA, MX, A, DnsServer

ZONE = {
    "dest.example": [MX(20, "mx2.dest.example"), MX(10, "mx1.dest.example")],
    "mx1.dest.example": [A("127.0.0.5")],
    "mx2.dest.example": [A("127.0.0.3"), AAAA("::1")],
    "nomx.example": [A("127.0.0.6")],
    "nullmx.example": [MX(0, ".")],
}


def ask(server: DnsServer, name: str, qtype: str, tcp: bool = False) -> DNSRecord:
    packet = DNSRecord.question(name, qtype).send("127.0.0.1", server.port, tcp=tcp,
                                                  timeout=5)
    return DNSRecord.parse(packet)


def answers(reply: DNSRecord) -> list[tuple[str, str]]:
    return sorted((QTYPE[rr.rtype], str(rr.rdata)) for rr in reply.rr)


@pytest.fixture
def zone_server() -> DnsServer:
    with DnsServer(ZONE) as server:
        yield server


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_mx_and_address_records(zone_server, tcp):
    mx = ask(zone_server, "dest.example", "MX", tcp)
    assert mx.header.rcode == RCODE.NOERROR and mx.header.aa == 1
    assert answers(mx) == [("MX", "10 mx1.dest.example."), ("MX", "20 mx2.dest.example.")]
    assert answers(ask(zone_server, "MX2.Dest.Example.", "A", tcp)) == [("A", "127.0.0.3")]
    assert answers(ask(zone_server, "mx2.dest.example", "AAAA", tcp)) == [("AAAA", "::1")]
    assert [(q.name, q.qtype, q.transport) for q in zone_server.queries()] == [
        ("dest.example", "MX", "udp" if not tcp else "tcp"),
        ("mx2.dest.example", "A", "udp" if not tcp else "tcp"),
        ("mx2.dest.example", "AAAA", "udp" if not tcp else "tcp"),
    ]


def test_a_name_without_mx_is_nodata_not_nxdomain(zone_server):
    reply = ask(zone_server, "nomx.example", "MX")
    assert reply.header.rcode == RCODE.NOERROR
    assert reply.rr == []
    assert [QTYPE[rr.rtype] for rr in reply.auth] == ["SOA"]
    assert answers(ask(zone_server, "nomx.example", "A")) == [("A", "127.0.0.6")]


def test_null_mx(zone_server):
    reply = ask(zone_server, "nullmx.example", "MX")
    assert [(rr.rdata.preference, str(rr.rdata.label)) for rr in reply.rr] == [(0, ".")]


def test_unknown_name_in_zone_is_nxdomain_and_outside_is_refused(zone_server):
    unknown = ask(zone_server, "nowhere.example", "MX", tcp=True)
    assert unknown.header.rcode == RCODE.NXDOMAIN
    assert [QTYPE[rr.rtype] for rr in unknown.auth] == ["SOA"]
    assert ask(zone_server, "dest.org", "MX").header.rcode == RCODE.REFUSED


def test_records_change_while_running(zone_server):
    zone_server.add("new.example", MX(5, "mx.new.example"))
    assert answers(ask(zone_server, "new.example", "MX")) == [("MX", "5 mx.new.example.")]
    zone_server.set("dest.example", [MX(30, "mx3.dest.example")])
    assert answers(ask(zone_server, "dest.example", "MX")) == [("MX", "30 mx3.dest.example.")]
    zone_server.remove("nomx.example")
    assert ask(zone_server, "nomx.example", "A").header.rcode == RCODE.NXDOMAIN


def test_broken_names_get_servfail_until_repaired(zone_server):
    zone_server.break_name("dest.example")
    for tcp in (False, True):
        assert ask(zone_server, "dest.example", "MX", tcp).header.rcode == RCODE.SERVFAIL
    assert ask(zone_server, "mx1.dest.example", "A").header.rcode == RCODE.NOERROR
    zone_server.repair_name("dest.example")
    assert ask(zone_server, "dest.example", "MX").header.rcode == RCODE.NOERROR


def test_the_fixture_from_conftest_starts_empty(dns_server):
    assert ask(dns_server, "dest.example", "MX").header.rcode == RCODE.NXDOMAIN
    dns_server.add("dest.example", MX(10, "mx.dest.example"))
    assert answers(ask(dns_server, "dest.example", "MX")) == [("MX", "10 mx.dest.example.")]


def dig(server: DnsServer, *args: str) -> str:
    result = subprocess.run(["dig", "@127.0.0.1", "-p", str(server.port), "+norec",
                             "+time=3", "+tries=1", *args],
                            capture_output=True, text=True, timeout=15)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize("transport", ["+notcp", "+tcp"])
def test_dig_reads_mx_null_mx_nxdomain_and_servfail(zone_server, transport):
    zone_server.break_name("broken.example")
    short = dig(zone_server, transport, "+short", "MX", "dest.example").split("\n")
    assert sorted(filter(None, short)) == ["10 mx1.dest.example.", "20 mx2.dest.example."]
    assert dig(zone_server, transport, "+short", "MX", "nullmx.example").strip() == "0 ."
    assert "status: NXDOMAIN" in dig(zone_server, transport, "MX", "nowhere.example")
    assert "status: SERVFAIL" in dig(zone_server, transport, "MX", "broken.example")
