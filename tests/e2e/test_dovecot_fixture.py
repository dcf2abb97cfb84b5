"""The Dovecot fixture on its own, without Posthorn: its auth-client socket speaks
Dovecot's authentication protocol 1.2 (the one Postfix uses), knows the test user, and
Dovecot stops cleanly. If these fail, the Dovecot AUTH tests cannot mean anything."""

from __future__ import annotations

import base64

from dovecot import DEFAULT_USERS, Dovecot

[(USER, PASSWORD)] = DEFAULT_USERS.items()


def test_handshake_offers_plain_and_login(dovecot):
    with dovecot.client() as client:
        handshake = client.handshake()
    assert handshake.version[0] == 1, handshake
    assert {"PLAIN", "LOGIN"} <= set(handshake.mechanisms), handshake
    assert handshake.spid.isdigit(), handshake


def test_plain_with_the_right_password_is_ok(dovecot):
    with dovecot.client() as client:
        client.handshake()
        reply = client.plain(USER, PASSWORD)
    assert reply.verdict == "OK", reply
    assert reply.params.get("user") == USER, reply


def test_plain_with_a_wrong_password_fails(dovecot):
    with dovecot.client() as client:
        client.handshake()
        # Each from its own client IP: Dovecot delays an IP's requests after a failure.
        wrong = client.plain(USER, PASSWORD + "-wrong", rip="192.0.2.1")
        unknown = client.plain("nobody-here", PASSWORD, rip="192.0.2.2")
    assert wrong.verdict == "FAIL", wrong
    assert unknown.verdict == "FAIL", unknown
    assert "Password mismatch" in dovecot.log()


def test_login_mechanism_asks_for_user_then_password(dovecot):
    with dovecot.client() as client:
        client.handshake()
        challenge = client.auth("LOGIN")
        assert challenge.verdict == "CONT", challenge
        assert base64.b64decode(challenge.data) == b"Username:"
        challenge = client.cont(challenge.request_id, USER.encode())
        assert challenge.verdict == "CONT", challenge
        assert base64.b64decode(challenge.data) == b"Password:"
        reply = client.cont(challenge.request_id, PASSWORD.encode())
    assert reply.verdict == "OK", reply
    assert reply.params.get("user") == USER, reply


def test_users_given_to_the_fixture_replace_the_default():
    with Dovecot(users={"erin@client.test": "erin-secret"}) as server:
        with server.client() as client:
            client.handshake()
            assert client.plain("erin@client.test", "erin-secret").verdict == "OK"
            assert client.plain(USER, PASSWORD, rip="192.0.2.1").verdict == "FAIL"


def test_stop_is_clean_and_removes_everything():
    server = Dovecot().start()
    directory, process = server.dir, server.process
    assert server.stop() == 0, "dovecot's exit status on SIGTERM"
    assert process is not None and process.poll() == 0
    assert not directory.exists()
    assert server.stop() == 0, "a second stop is harmless"
