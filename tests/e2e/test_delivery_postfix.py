"""Delivery to a real MTA: Postfix as the MX of dest.example, with opportunistic
STARTTLS (SPEC 4: an unverifiable certificate does not stop delivery, `verify=FAIL`
is logged) and the SPEC 5 log lines for the handshake and the delivery."""

from __future__ import annotations

import re

from dns_server import MX, A
from posthorn_harness import simple_message, submit

SENDER = "alice@sender.example"
RECIPIENT = "bob@dest.example"
POSTFIX = "127.0.0.7"


def test_delivery_to_postfix_over_starttls(dns_server, postfix_factory,
                                           delivery_daemon_factory):
    dns_server.set("dest.example", [MX(10, "mx.dest.example")])
    dns_server.set("mx.dest.example", [A(POSTFIX)])
    postfix = postfix_factory(POSTFIX, mailboxes=("bob",))
    daemon = delivery_daemon_factory()

    queue_id = submit(daemon.port(), SENDER, [RECIPIENT],
                      simple_message(SENDER, [RECIPIENT], "to-postfix"))
    [delivered] = postfix.wait_for_delivery("bob", 1)
    assert b"Subject: to-postfix" in delivered and b"Body of to-postfix." in delivered
    assert b"with ESMTPS" in delivered, "Postfix did not receive it over TLS"
    daemon.wait_until_gone(queue_id)

    # The test CA is not among our trust anchors: verify=FAIL, delivered anyway.
    handshake = daemon.wait_for_log(
        r"STARTTLS=client, relay=mx\.dest\.example\.?( \[127\.0\.0\.7\])?, "
        r"version=(TLSv1\.[23]), verify=FAIL, cipher=[A-Za-z0-9_-]+, bits=\d+/\d+")
    delivery = daemon.wait_for_log(
        rf"{re.escape(queue_id)}: to=<{re.escape(RECIPIENT)}>, .*"
        r"relay=mx\.dest\.example\.? \[127\.0\.0\.7\], dsn=2\.0\.0, stat=Sent \(250 .*\), "
        r"tls=(TLSv1\.[23]), verify=FAIL, ")
    assert delivery.group(1) == handshake.group(2)

    postfix_log = postfix.log()
    assert re.search(r"TLS connection established from localhost\[127\.0\.0\.1\]: "
                     + re.escape(handshake.group(2)), postfix_log), postfix_log
    assert re.search(rf"to=<{re.escape(RECIPIENT)}>, relay=virtual, .*status=sent",
                     postfix_log), postfix_log
