"""AUTH on submission (587, STARTTLS) and smtps (465, implicit TLS) listeners with the
password file (issue 5; SPEC sections 1, 2, 4, 5): PLAIN and LOGIN offered and accepted
only inside TLS, an authenticated client relays anywhere, the `AUTH=server` and
`proto=ESMTPSA` log lines, and `sender_must_match`.

Every daemon here relays only for 192.0.2.0/24, so 127.0.0.1 reaches a foreign domain
only through AUTH; the users are `conftest.AUTH_USERS`."""

from __future__ import annotations

import re
import smtplib
import subprocess

from conftest import AUTH_USERS
from posthorn_harness import (
    HOSTNAME, LOOPBACK_RELAY, RawSmtp, auth_login, auth_plain, auth_server_lines,
    ehlo_auth_mechanisms, log_fields, make_message, messages_from, tls_submission_session,
    trusting)

USER, PASSWORD = "alice", AUTH_USERS["alice"]
USER_ADDRESS = f"alice@{HOSTNAME}"  # alice has no @: her address is on the hostname
ADDRESS_USER = "bob@client.test"  # a user whose name is an address
FOREIGN = "carol@dest.example"  # neither local nor in relay.domains

STARTTLS_BITS = re.compile(r"STARTTLS=server, .*bits=(\d+)/\d+")
# swaks marks replies read inside TLS with `<~`.
SWAKS_AUTH_OK = re.compile(r"^<~  235 2\.7\.0", re.MULTILINE)


def assert_auth_logged(daemon, user: str, mechanism: str, bits: int) -> None:
    """Exactly one `AUTH=server` line, for this success."""
    daemon.wait_for_log(r"AUTH=server, ")
    [fields] = auth_server_lines(daemon)
    assert LOOPBACK_RELAY.match(fields.pop("relay", "")), fields
    assert fields == {"AUTH": "server", "authid": user, "mech": mechanism,
                      "bits": str(bits)}


def assert_relayed_with_esmtpsa(daemon, sender: str) -> None:
    """One message from `sender` queued for FOREIGN, logged with proto=ESMTPSA."""
    [queued] = messages_from(daemon.queue(), sender)
    assert [r["address"] for r in queued["recipients"]] == [FOREIGN]
    line = daemon.wait_for_log(rf"{re.escape(queued['id'])}: from=<{re.escape(sender)}>, ")
    assert dict(log_fields(line.string))["proto"] == "ESMTPSA", line.string


def swaks(daemon, mechanism: str, user: str, password: str,
          sender: str) -> subprocess.CompletedProcess:
    command = ["swaks", "--server", f"127.0.0.1:{daemon.port('submission')}",
               "--helo", "client.test", "--tls", "--auth", mechanism,
               "--auth-user", user, "--auth-password", password,
               "--from", sender, "--to", FOREIGN, "--header", f"Subject: swaks {mechanism}",
               "--body", "Submitted by swaks.", "--timeout", "10"]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def starttls_bits(daemon) -> int:
    return int(daemon.wait_for_log(STARTTLS_BITS.pattern).group(1))


def test_the_client_cannot_relay_without_auth(auth_daemon_factory):
    """What makes the relay tests below mean something: 127.0.0.1 alone may not relay."""
    daemon = auth_daemon_factory()
    with smtplib.SMTP("127.0.0.1", daemon.port("mta"), local_hostname="client.test",
                      timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.mail(USER_ADDRESS)[0] == 250
        code, reply = smtp.rcpt(FOREIGN)
    assert code == 550 and reply.startswith(b"5.7.1"), (code, reply)


def test_swaks_auth_plain_over_starttls_relays(auth_daemon_factory):
    daemon = auth_daemon_factory()
    result = swaks(daemon, "PLAIN", USER, PASSWORD, USER_ADDRESS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert SWAKS_AUTH_OK.search(result.stdout), result.stdout
    assert_relayed_with_esmtpsa(daemon, USER_ADDRESS)
    assert_auth_logged(daemon, USER, "PLAIN", starttls_bits(daemon))


def test_swaks_auth_login_over_starttls_relays(auth_daemon_factory):
    daemon = auth_daemon_factory()
    result = swaks(daemon, "LOGIN", ADDRESS_USER, AUTH_USERS[ADDRESS_USER], ADDRESS_USER)
    assert result.returncode == 0, result.stdout + result.stderr
    assert SWAKS_AUTH_OK.search(result.stdout), result.stdout
    assert_relayed_with_esmtpsa(daemon, ADDRESS_USER)
    assert_auth_logged(daemon, ADDRESS_USER, "LOGIN", starttls_bits(daemon))


def test_smtplib_starttls_then_login_relays(auth_daemon_factory, certs):
    daemon = auth_daemon_factory()
    message = make_message(USER_ADDRESS, [FOREIGN], "smtplib", "Submitted.\n",
                           "smtplib-auth@client.test")
    with smtplib.SMTP("127.0.0.1", daemon.port("submission"), local_hostname="client.test",
                      timeout=10) as smtp:
        smtp.starttls(context=trusting(certs.ca))
        bits = smtp.sock.cipher()[2]
        smtp.ehlo()
        assert set(smtp.esmtp_features["auth"].upper().split()) == {"PLAIN", "LOGIN"}
        code, reply = smtp.login(USER, PASSWORD)  # smtplib picks PLAIN of the two
        assert code == 235 and reply.startswith(b"2.7.0"), (code, reply)
        assert smtp.sendmail(USER_ADDRESS, [FOREIGN], message) == {}
    assert_relayed_with_esmtpsa(daemon, USER_ADDRESS)
    assert_auth_logged(daemon, USER, "PLAIN", bits)


def test_smtps_implicit_tls_then_login_relays(auth_daemon_factory, certs):
    daemon = auth_daemon_factory()
    message = make_message(USER_ADDRESS, [FOREIGN], "smtps", "Implicit TLS.\n",
                           "smtps-auth@client.test")
    with smtplib.SMTP_SSL("127.0.0.1", daemon.port("smtps"), local_hostname="client.test",
                          timeout=10, context=trusting(certs.ca)) as smtp:
        bits = smtp.sock.cipher()[2]
        smtp.ehlo()
        assert smtp.has_extn("auth"), smtp.esmtp_features
        code, reply = smtp.login(USER, PASSWORD)
        assert code == 235 and reply.startswith(b"2.7.0"), (code, reply)
        assert smtp.sendmail(USER_ADDRESS, [FOREIGN], message) == {}
    assert_relayed_with_esmtpsa(daemon, USER_ADDRESS)
    assert_auth_logged(daemon, USER, "PLAIN", bits)


def refused_before_tls(daemon, kind: str) -> list:
    """EHLO on a plaintext `kind` session offers STARTTLS and not AUTH; the replies to
    AUTH PLAIN and AUTH LOGIN with the right password, then to MAIL."""
    with RawSmtp(daemon.port(kind)) as client:
        client.expect(None, 220)
        ehlo = client.ehlo()
        assert ehlo_auth_mechanisms(ehlo) is None, f"{kind}: AUTH before TLS: {ehlo}"
        assert any(line.upper() == "STARTTLS" for line in ehlo.lines[1:]), ehlo
        return [auth_plain(client, USER, PASSWORD), auth_login(client, USER, PASSWORD),
                client.command(f"MAIL FROM:<{USER_ADDRESS}>")]


def test_auth_is_neither_offered_nor_accepted_before_tls(auth_daemon_factory, certs):
    daemon = auth_daemon_factory()
    plain, login, mail = refused_before_tls(daemon, "submission")
    for refused in (plain, login):
        assert refused.code == 538 and refused.lines[0].startswith("5.7.11"), refused
    assert mail.code == 530 and mail.lines[0].startswith("5.7.0"), mail

    # A later success is logged; the refusals above left no AUTH=server line of their own.
    with tls_submission_session(daemon.port("submission"), trusting(certs.ca)) as client:
        bits = client.sock.cipher()[2]
        assert auth_plain(client, USER, PASSWORD).code == 235
    assert_auth_logged(daemon, USER, "PLAIN", bits)


def test_mta_listener_does_not_take_auth_in_plaintext_either(auth_daemon_factory, certs):
    daemon = auth_daemon_factory()
    plain, login, mail = refused_before_tls(daemon, "mta")
    # Whether an mta listener offers AUTH inside TLS is Srv_Features' business; in
    # plaintext it must refuse it (538 where AUTH exists, 502/503 where it does not).
    assert plain.code >= 500 and login.code >= 500, (plain, login)
    assert mail.code == 250, mail

    with tls_submission_session(daemon.port("submission"), trusting(certs.ca)) as client:
        bits = client.sock.cipher()[2]
        assert auth_plain(client, USER, PASSWORD).code == 235
    assert_auth_logged(daemon, USER, "PLAIN", bits)


def test_submission_requires_auth_before_mail_inside_tls_too(auth_daemon_factory, certs):
    daemon = auth_daemon_factory()
    with tls_submission_session(daemon.port("submission"), trusting(certs.ca)) as client:
        ehlo = client.ehlo()
        assert ehlo_auth_mechanisms(ehlo) == {"PLAIN", "LOGIN"}, ehlo
        refused = client.command(f"MAIL FROM:<{USER_ADDRESS}>")
        assert refused.code == 530 and refused.lines[0].startswith("5.7.0"), refused
        accepted = auth_login(client, USER, PASSWORD)
        assert accepted.code == 235 and accepted.lines[0].startswith("2.7.0"), accepted
        client.expect(f"MAIL FROM:<{USER_ADDRESS}>", 250)
        client.expect(f"RCPT TO:<{FOREIGN}>", 250)
    assert daemon.queue() == []


def mail_from_after_auth(daemon, certs, user: str, sender: str) -> int:
    """The reply code to MAIL FROM:<sender> after `user` authenticated; a 250 is
    followed by a foreign RCPT, DATA and a queued message."""
    with tls_submission_session(daemon.port("submission"), trusting(certs.ca)) as client:
        assert auth_plain(client, user, AUTH_USERS[user]).code == 235
        reply = client.command(f"MAIL FROM:<{sender}>")
        if reply.code == 553:
            assert reply.lines[0].startswith("5.7.1"), reply
        if reply.code != 250:
            return reply.code
        client.expect(f"RCPT TO:<{FOREIGN}>", 250)
        client.expect("DATA", 354)
        message_id = f"{user}-as-{sender}".replace("@", ".") + "@client.test"
        client.send(make_message(sender, [FOREIGN], "as someone", "Hi.\n", message_id)
                    + b"\r\n.\r\n")
        client.expect(None, 250)
        return 250


def test_sender_must_match_the_authenticated_user(auth_daemon_factory, certs):
    daemon = auth_daemon_factory(auth={"sender_must_match": True})
    # A bare user name sends as name@hostname; an address user as that address.
    assert mail_from_after_auth(daemon, certs, USER, USER_ADDRESS) == 250
    assert mail_from_after_auth(daemon, certs, ADDRESS_USER, ADDRESS_USER) == 250
    # Another user's address is refused with 553 5.7.1, either way round.
    assert mail_from_after_auth(daemon, certs, USER, ADDRESS_USER) == 553
    assert mail_from_after_auth(daemon, certs, ADDRESS_USER, USER_ADDRESS) == 553
    assert mail_from_after_auth(daemon, certs, USER, "alice@client.test") == 553
    senders = sorted(message["sender"] for message in daemon.queue())
    assert senders == sorted([USER_ADDRESS, ADDRESS_USER])


def test_without_sender_must_match_any_sender_is_accepted(auth_daemon_factory, certs):
    daemon = auth_daemon_factory(auth={"sender_must_match": False})
    assert mail_from_after_auth(daemon, certs, USER, ADDRESS_USER) == 250
    [queued] = messages_from(daemon.queue(), ADDRESS_USER)
    assert [r["address"] for r in queued["recipients"]] == [FOREIGN]
