"""The normal path against a real MTA: Postfix (`smtpd_tls_security_level = may`) gets the
mail over STARTTLS; its certificate is not from our `tls.ca_bundle`, so `verify=FAIL`,
the policy is `opportunistic`, and nothing is remembered as broken."""

from __future__ import annotations

import re

from posthorn_harness import (simple_message, starttls_client_lines, submit,
                              wait_for_to_line)

SENDER = "alice@sender.example"
RECIPIENT = "bob@dest.example"
POSTFIX = "127.0.0.7"


def test_postfix_gets_the_mail_over_tls_with_verify_fail(
        dest_mx, postfix_factory, tls_daemon_factory):
    dest_mx(POSTFIX)
    postfix = postfix_factory(POSTFIX, mailboxes=("bob",))
    daemon = tls_daemon_factory()

    queue_id = submit(daemon.port(), SENDER, [RECIPIENT],
                      simple_message(SENDER, [RECIPIENT], "postfix-tls"))
    [delivered] = postfix.wait_for_delivery("bob", 1)
    assert b"Body of postfix-tls." in delivered
    assert b"with ESMTPS" in delivered, "Postfix did not receive it over TLS"
    daemon.wait_until_gone(queue_id)

    [handshake] = [line for line in starttls_client_lines(daemon) if "version" in line]
    assert handshake["relay"].startswith("mx.dest.example"), handshake
    assert re.fullmatch(r"TLSv1\.[23]", handshake.get("version", "")), handshake
    assert handshake["verify"] == "FAIL", handshake
    sent = wait_for_to_line(daemon, queue_id, RECIPIENT, "Sent")
    assert (sent["tls"], sent["verify"], sent["policy"]) == (
        handshake["version"], "FAIL", "opportunistic"), sent
    assert not [line for line in starttls_client_lines(daemon)
                if line.get("verify") in ("SOFTWARE", "PROTOCOL", "CLEAR")]
    assert "mx.dest.example" not in daemon.cli("tls-memory", "list").stdout.decode()
