"""A `submission` listener without AUTH configured refuses mail: 530 5.7.0 (SPEC 2)."""

from __future__ import annotations

from posthorn_harness import RawSmtp, insecure_context


def test_submission_without_auth_refuses_mail_before_and_after_tls(daemon_factory):
    daemon = daemon_factory(listeners=("mta", "submission"))
    with RawSmtp(daemon.port("submission")) as client:
        client.expect(None, 220)
        client.ehlo()
        refused = client.command("MAIL FROM:<user@client.test>")
        assert refused.code == 530 and refused.lines[0].startswith("5.7.0"), refused

        client.expect("STARTTLS", 220)
        client.starttls(insecure_context())
        client.ehlo()
        refused = client.command("MAIL FROM:<user@client.test>")
        assert refused.code == 530 and refused.lines[0].startswith("5.7.0"), refused

    # The same command on the mta listener of the same daemon is accepted: the
    # refusal comes from the listener kind.
    with RawSmtp(daemon.port("mta")) as client:
        client.expect(None, 220)
        client.ehlo()
        client.expect("MAIL FROM:<user@client.test>", 250)
    assert daemon.queue() == []
