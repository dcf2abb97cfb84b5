"""Hostile input (issue 7 point 13), one table per concern. The nine SMTP smuggling
vectors are in test_smuggling.py and server-side STARTTLS injection in
test_starttls_injection.py; this file adds:

- outbound mail never carries a stray CR or LF, whatever the client sent;
- STARTTLS response injection against the delivery client: plaintext pipelined after
  the server's `220` is a protocol error, never a reply read inside TLS;
- NUL and invalid UTF-8 in commands, by the policy in TESTING.md; NUL in a body is kept;
- ESMTP parameters whose xtext decodes to CR, LF or NUL are refused;
- open-relay tricks (`%`, `!`, source routes, a quoted `@`) never relay;
- VRFY answers 252 and EXPN 502.
"""

from __future__ import annotations

import re
import ssl

import pytest

from posthorn_harness import (
    RawSmtp, messages_from, simple_message, submit, wait_for_to_line)
from tls_peers import IO_TIMEOUT, StartTls, TlsPeer, _Channel

BARE_LINE_BREAK = re.compile(rb"(?<!\r)\n|\r(?!\n)")
SENDER = "hostile@client.test"
RECIPIENT = "rcpt@dest.example"
MX_HOST = "127.0.0.5"


def session_replies(port: int, lines: list[bytes]) -> list[tuple[int, str]]:
    """Banner and EHLO, then each line sent alone; the code and first text line of each
    reply."""
    replies = []
    with RawSmtp(port) as client:
        client.expect(None, 220)
        client.ehlo()
        for line in lines:
            client.send(line + b"\r\n")
            reply = client.read_reply()
            replies.append((reply.code, reply.lines[0] if reply.lines else ""))
    return replies


# --- NUL and invalid UTF-8 in commands (the policy TESTING.md documents) ------------

COMMAND_POLICY = [
    # (line, code, enhanced status the text starts with)
    (b"EHLO a\0b", 501, "5.5.4"),
    (b"HELO a\0b", 501, "5.5.4"),
    (b"\0NOOP", 500, "5.5.1"),
    (b"RSET\0", 500, "5.5.1"),
    (b"VRFY a\0b", 501, "5.5.4"),
    (b"MAIL FROM:<a\0@client.test>", 501, "5.1.7"),
    (b"MAIL FROM:<a@client.test>\0", 501, "5.5.4"),
    (b"EHLO \xe9t\xe9.example", 501, "5.6.7"),
    (b"VRFY \xff", 501, "5.6.7"),
    (b"\xffMAIL FROM:<a@client.test>", 500, "5.5.1"),
    (b"MAIL FROM:<\xfc@client.test>", 501, "5.6.7"),
    (b"MAIL FROM:<\xfc@client.test> SMTPUTF8", 501, "5.6.7"),
    # RFC 5321 4.1.1.9: NOOP's argument is ignored, whatever its bytes.
    (b"NOOP \0\xff", 250, "2.0.0"),
    (b"VRFY postmaster", 252, "2.5.2"),
    (b"EXPN staff", 502, "5.5.1"),
]


@pytest.mark.parametrize("line,code,status", COMMAND_POLICY, ids=lambda v: repr(v))
def test_command_line_policy(daemon, line, code, status):
    [(got, text)] = session_replies(daemon.port(), [line])
    assert (got, text[:5]) == (code, status), (line, got, text)


RCPT_POLICY = [
    (b"RCPT TO:<a\0@dest.example>", 501, "5.1.3"),
    (b"RCPT TO:<\xfc@dest.example>", 501, "5.6.7"),
    # xtext that decodes to CR, LF or NUL would forge header lines in a DSN.
    (b"RCPT TO:<a@dest.example> ORCPT=rfc822;x+0D+0Ay@z.example", 501, "5.5.4"),
    (b"RCPT TO:<a@dest.example> ORCPT=rfc822;x+0Ay@z.example", 501, "5.5.4"),
    (b"RCPT TO:<a@dest.example> ORCPT=rfc822;x+00y@z.example", 501, "5.5.4"),
    (b"RCPT TO:<a@dest.example> ORCPT=rfc822;x+2By@z.example", 250, "2.1.5"),
]


@pytest.mark.parametrize("line,code,status", RCPT_POLICY, ids=lambda v: repr(v))
def test_recipient_policy(daemon, line, code, status):
    replies = session_replies(daemon.port(), [b"MAIL FROM:<a@client.test>", line])
    assert replies[0][0] == 250, replies
    got, text = replies[1]
    assert (got, text[:5]) == (code, status), (line, got, text)


@pytest.mark.parametrize("envid,code", [
    (b"abc+0D+0Afoo", 501), (b"abc+0Dfoo", 501), (b"abc+0Afoo", 501), (b"abc+00foo", 501),
    (b"abc+2Bfoo", 250),
], ids=lambda v: repr(v))
def test_envid_decoding_to_a_line_break_is_refused(daemon, envid, code):
    [(got, text)] = session_replies(daemon.port(), [b"MAIL FROM:<a@client.test> ENVID=" + envid])
    assert got == code, (envid, got, text)
    if code == 501:
        assert text.startswith("5.5.4"), text


def test_nul_in_the_body_is_kept(daemon):
    with RawSmtp(daemon.port()) as client:
        client.expect(None, 220)
        client.ehlo()
        client.expect(f"MAIL FROM:<{SENDER}>", 250)
        client.expect(f"RCPT TO:<{RECIPIENT}>", 250)
        client.expect("DATA", 354)
        client.send(b"Subject: nul\r\n\r\nbefore\0after\r\n.\r\n")
        assert client.read_reply().code == 250
    [message] = messages_from(daemon.queue(), SENDER)
    assert b"before\0after\r\n" in daemon.stored_message(message["id"])


# --- open-relay tricks -----------------------------------------------------------------

# 127.0.0.1 may not relay; relay.example is a domain accepted from anyone.
RELAY_DOMAIN_ONLY = {"relay": {"networks": ["192.0.2.0/24"], "domains": ["relay.example"]}}

RELAY_TRICKS = [
    "user%other.example@relay.example",  # percent hack
    "other.example!user@relay.example",  # bang path
    "@relay.example:user@other.example",  # source route (RFC 5321 C: ignored)
    '"user@other.example"@relay.example',  # quoted @ in the local part
]


@pytest.mark.parametrize("recipient", RELAY_TRICKS)
def test_routing_tricks_through_a_relay_domain_never_relay(daemon_factory, recipient):
    daemon = daemon_factory(config=RELAY_DOMAIN_ONLY)
    replies = session_replies(daemon.port(), [
        b"MAIL FROM:<outsider@client.test>",
        f"RCPT TO:<{recipient}>".encode(),
        b"RCPT TO:<user@relay.example>",  # the domain itself is accepted
    ])
    assert replies[0][0] == 250, replies
    code, text = replies[1]
    assert code == 550 and text.startswith("5.7.1"), (recipient, replies[1])
    assert replies[2][0] == 250, replies[2]


# --- outbound: no stray CR or LF ever leaves --------------------------------------------

BARE_ENDINGS_BODY = (b"Subject: bare line ends\r\n"
                     b"X-Bare-LF: one\ncontinued\r\n"
                     b"\r\n"
                     b"bare LF\nbare CR\rCR CR LF\r\r\nLF CR\n\rend\r\n"
                     b"..dot-stuffed\r\n")


def test_outbound_mail_never_carries_a_bare_cr_or_lf(dns_server, dest_mx, sink_factory,
                                                     delivery_daemon_factory):
    dest_mx(MX_HOST)
    sink = sink_factory(MX_HOST)
    daemon = delivery_daemon_factory()
    with RawSmtp(daemon.port()) as client:
        client.expect(None, 220)
        client.ehlo()
        client.expect(f"MAIL FROM:<{SENDER}>", 250)
        client.expect(f"RCPT TO:<{RECIPIENT}>", 250)
        client.expect("DATA", 354)
        client.send(BARE_ENDINGS_BODY + b".\r\n")
        assert client.read_reply().code == 250
    [received] = sink.wait_for_messages(1)
    content = received.content
    assert BARE_LINE_BREAK.search(content) is None, content
    for piece in (b"bare LF\r\n", b"bare CR\r\n", b"LF CR\r\n", b"\r\nend\r\n",
                  b"\r\n.dot-stuffed\r\n"):
        assert piece in content, (piece, content)


# --- STARTTLS response injection against the delivery client ---------------------------

FORGED = "250 2.0.0 forged reply pipelined before the handshake"


class InjectingPeer(TlsPeer):
    """Answers STARTTLS with `220` and, in the same write, a forged `250` line, then
    does a real handshake: a client that kept the forged line would read it as the
    reply to its first command inside TLS."""

    def _starttls(self, channel: _Channel) -> bool:
        channel.record.transcript.append(f"S: 220 Ready + {FORGED}")
        channel.sock.sendall(b"220 2.0.0 Ready to start TLS\r\n" + FORGED.encode() + b"\r\n")
        channel.buffer = b""
        tls = self._context.wrap_socket(channel.sock, server_side=True,
                                        do_handshake_on_connect=False)
        channel.sock = tls
        tls.settimeout(IO_TIMEOUT)
        try:
            tls.do_handshake()
        except (ssl.SSLError, OSError) as error:
            self._changed_field(channel.record, starttls=StartTls.HANDSHAKE_FAILED,
                                tls_error=str(error))
            return False
        self._changed_field(channel.record, starttls=StartTls.ESTABLISHED,
                            tls_version=tls.version())
        return True


@pytest.fixture
def injecting_peer(mx_port, tls_certs):
    peer = InjectingPeer(MX_HOST, mx_port, tls_certs.trusted_certificate,
                         tls_certs.trusted_key).start()
    yield peer
    peer.stop()


def test_starttls_reply_injection_is_a_protocol_error_not_a_reply(dest_mx, injecting_peer,
                                                                    tls_daemon_factory):
    dest_mx(MX_HOST)
    daemon = tls_daemon_factory()
    queue_id = submit(daemon.port(), SENDER, [RECIPIENT],
                      simple_message(SENDER, [RECIPIENT], "injection"))
    # The STARTTLS failure is logged as a protocol error and the fallback delivers in
    # plaintext (`verify=SOFTWARE` today; `PROTOCOL` would be as right).
    sent = wait_for_to_line(daemon, queue_id, RECIPIENT, "Sent", timeout=20)
    assert sent.get("tls") == "none", sent
    [message] = injecting_peer.messages()
    assert message.tls_version is None, injecting_peer.describe()
    daemon.wait_for_log(r'STARTTLS=client, .*verify=(PROTOCOL|SOFTWARE), '
                        r'error=".*[Pp]rotocol.*", action=plaintext')
    injected = [c for c in injecting_peer.connections() if c.starttls_attempted]
    assert injected, injecting_peer.describe()
    assert all(c.starttls is not StartTls.ESTABLISHED for c in injected), \
        f"the client went on into TLS after the forged line:\n{injecting_peer.describe()}"
    assert all(c.messages == 0 for c in injected), injecting_peer.describe()
