"""STARTTLS command injection (CVE-2011-0411 and its many descendants): commands sent
in the same write as STARTTLS, before the handshake, must be thrown away, never
executed inside the TLS session."""

from __future__ import annotations

import pytest

from posthorn_harness import HOSTNAME, RawSmtp, insecure_context


@pytest.mark.parametrize("injected", [
    b"RSET\r\n",
    b"MAIL FROM:<injected@evil.example>\r\n",
    b"MAIL FROM:<injected@evil.example>\r\nRCPT TO:<victim@dest.example>\r\n",
])
def test_commands_pipelined_after_starttls_are_not_executed(daemon, injected):
    with RawSmtp(daemon.port()) as client:
        client.expect(None, 220)
        client.ehlo()
        client.send(b"STARTTLS\r\n" + injected)
        ready = client.read_reply()
        assert ready.code == 220, ready
        client.starttls(insecure_context())

        # No reply to an injected command may be waiting inside TLS...
        assert client.nothing_pending() == b""
        # ...the first reply is to our EHLO...
        greeting = client.ehlo()
        assert greeting.lines[0].startswith(HOSTNAME), greeting
        assert client.nothing_pending() == b""
        # ...and no injected MAIL FROM opened a transaction.
        refused = client.command("RCPT TO:<victim@dest.example>")
        assert refused.code == 503 and refused.lines[0].startswith("5.5.1"), refused

    assert daemon.queue() == []
