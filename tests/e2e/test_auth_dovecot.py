"""AUTH checked by a real Dovecot through `auth.dovecot_socket` (issue 5; Postfix's
`smtpd_sasl_type = dovecot`): the Dovecot fixture's user authenticates with PLAIN and
LOGIN and relays, a wrong password is refused with 535. The daemon has no password file,
so only Dovecot knows the user."""

from __future__ import annotations

import re
import smtplib
import subprocess

from dovecot import DEFAULT_USERS
from posthorn_harness import (
    HOSTNAME, LOOPBACK_RELAY, REJECT_535, auth_plain, auth_server_lines, make_message,
    messages_from, tls_submission_session, trusting)

[(USER, PASSWORD)] = DEFAULT_USERS.items()
USER_ADDRESS = f"{USER}@{HOSTNAME}"
FOREIGN = "carol@dest.example"


def dovecot_daemon(auth_daemon_factory, dovecot):
    return auth_daemon_factory(auth={"dovecot_socket": str(dovecot.socket),
                                     "sender_must_match": True}, users=None)


def assert_relayed(daemon) -> None:
    [queued] = messages_from(daemon.queue(), USER_ADDRESS)
    assert [r["address"] for r in queued["recipients"]] == [FOREIGN]
    daemon.wait_for_log(rf"{re.escape(queued['id'])}: from=<{re.escape(USER_ADDRESS)}>, "
                        r".*proto=ESMTPSA, ")


def assert_one_success_logged(daemon, mechanism: str) -> None:
    daemon.wait_for_log(r"AUTH=server, ")
    [fields] = auth_server_lines(daemon)
    assert LOOPBACK_RELAY.match(fields.pop("relay", "")), fields
    assert fields.pop("bits", "").isdigit(), fields
    assert fields == {"AUTH": "server", "authid": USER, "mech": mechanism}


def test_dovecot_user_authenticates_with_plain_and_relays(auth_daemon_factory, dovecot,
                                                          certs):
    daemon = dovecot_daemon(auth_daemon_factory, dovecot)
    message = make_message(USER_ADDRESS, [FOREIGN], "via dovecot", "Checked by Dovecot.\n",
                           "dovecot-plain@client.test")
    with smtplib.SMTP("127.0.0.1", daemon.port("submission"), local_hostname="client.test",
                      timeout=15) as smtp:
        smtp.starttls(context=trusting(certs.ca))
        smtp.ehlo()
        assert {"PLAIN", "LOGIN"} <= set(smtp.esmtp_features["auth"].upper().split())
        code, reply = smtp.login(USER, PASSWORD)
        assert code == 235 and reply.startswith(b"2.7.0"), (code, reply)
        assert smtp.sendmail(USER_ADDRESS, [FOREIGN], message) == {}
    assert_relayed(daemon)
    assert_one_success_logged(daemon, "PLAIN")


def test_dovecot_user_authenticates_with_login_and_relays(auth_daemon_factory, dovecot):
    daemon = dovecot_daemon(auth_daemon_factory, dovecot)
    result = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{daemon.port('submission')}", "--helo", "client.test",
         "--tls", "--auth", "LOGIN", "--auth-user", USER, "--auth-password", PASSWORD,
         "--from", USER_ADDRESS, "--to", FOREIGN, "--header", "Subject: swaks via dovecot",
         "--body", "LOGIN checked by Dovecot.", "--timeout", "15"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^<~  235 2\.7\.0", result.stdout, re.MULTILINE), result.stdout
    assert_relayed(daemon)
    assert_one_success_logged(daemon, "LOGIN")


def test_dovecot_refuses_a_wrong_password_with_535(auth_daemon_factory, dovecot, certs):
    daemon = dovecot_daemon(auth_daemon_factory, dovecot)
    with tls_submission_session(daemon.port("submission"), trusting(certs.ca)) as client:
        refused = auth_plain(client, USER, "not-" + PASSWORD)
        assert refused.code == 535 and refused.lines[0].startswith("5.7.8"), refused
        refused = client.command(f"MAIL FROM:<{USER_ADDRESS}>")
        assert refused.code == 530 and refused.lines[0].startswith("5.7.0"), refused

    # Dovecot itself said no: its log has the mismatch for this user.
    assert re.search(rf"passwd-file\({USER}\b.*Password mismatch", dovecot.log()), dovecot.log()
    daemon.wait_for_log(r"AUTH=server, .*reject=")
    [fields] = auth_server_lines(daemon)
    assert LOOPBACK_RELAY.match(fields.pop("relay", "")), fields
    assert REJECT_535.match(fields.pop("reject", "")), fields
    assert fields == {"AUTH": "server", "authid": USER, "mech": "PLAIN"}
    assert daemon.queue() == []
