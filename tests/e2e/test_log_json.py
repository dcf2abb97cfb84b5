"""`log.format = "json"`: the same events, one JSON object per line (SPEC section 5)."""

from __future__ import annotations

import json
import smtplib

from posthorn_harness import make_message


def test_json_log_has_the_accepted_event_with_typed_fields(daemon_factory):
    daemon = daemon_factory(config={"log": {"format": "json"}})
    sender = "json@client.test"
    message = make_message(sender, ["bob@dest.example"], "json", "Hello.\n", "json-1@x")
    with smtplib.SMTP("127.0.0.1", daemon.port(), local_hostname="client.test",
                      timeout=10) as smtp:
        smtp.sendmail(sender, ["bob@dest.example"], message)
    daemon.wait_for_log(r'"from"')
    events = [json.loads(line) for line in daemon.log_lines() if line.strip()]
    [accepted] = [event for event in events if event.get("from") == f"<{sender}>"]
    [queued] = daemon.queue()
    assert accepted["qid"] == queued["id"]
    assert accepted["nrcpts"] == 1
    assert accepted["size"] == queued["size"]
    assert accepted["msgid"] == "<json-1@x>"
    assert accepted["proto"] == "ESMTP"
    keys = list(accepted)
    assert keys.index("from") < keys.index("size") < keys.index("nrcpts") < keys.index("msgid")
