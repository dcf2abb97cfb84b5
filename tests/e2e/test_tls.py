"""Inbound TLS: STARTTLS with a CA-signed and with the default self-signed certificate,
implicit TLS on an smtps listener, and what is logged (SPEC sections 1, 2, 4, 5)."""

from __future__ import annotations

import re
import smtplib
import ssl
import subprocess

from posthorn_harness import RawSmtp, insecure_context, make_message, messages_from

STARTTLS_LINE = (r"STARTTLS=server, relay=[^,]*, version=TLSv1\.3, verify=NOT, "
                 r"cipher=([A-Za-z0-9_-]+), bits=(\d+)/(\d+)")

PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----")


def trusting(certs) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certs.ca))


def assert_tls_logged(daemon, negotiated: tuple[str, str, int]) -> None:
    """The STARTTLS=server line names the cipher and bits the client negotiated."""
    name, _version, bits = negotiated
    logged = daemon.wait_for_log(STARTTLS_LINE)
    assert logged.group(1) == name
    assert (int(logged.group(2)), int(logged.group(3))) == (bits, bits)


def test_starttls_with_a_configured_certificate(daemon_factory, certs):
    daemon = daemon_factory(config=certs.tls_config())
    sender = "tls@client.test"
    message = make_message(sender, ["bob@dest.example"], "over TLS", "Encrypted.\n",
                           "starttls@client.test")
    with smtplib.SMTP("127.0.0.1", daemon.port(), local_hostname="client.test",
                      timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls")
        code, _ = smtp.starttls(context=trusting(certs))  # verifies the chain and 127.0.0.1
        assert code == 220
        negotiated = smtp.sock.cipher()
        assert smtp.sock.version() == "TLSv1.3"
        smtp.ehlo()
        assert not smtp.has_extn("starttls"), "STARTTLS offered again inside TLS"
        assert smtp.sendmail(sender, ["bob@dest.example"], message) == {}

    [queued] = messages_from(daemon.queue(), sender)
    assert_tls_logged(daemon, negotiated)
    daemon.wait_for_log(rf"{re.escape(queued['id'])}: from=<{re.escape(sender)}>, .*"
                        r"proto=ESMTPS, ")


def test_starttls_with_the_self_signed_certificate_made_on_first_start(daemon):
    tls_dir = daemon.spool / "tls"
    with smtplib.SMTP("127.0.0.1", daemon.port(), local_hostname="client.test",
                      timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls"), "no certificate configured must still offer STARTTLS"
        code, _ = smtp.starttls(context=insecure_context())
        assert code == 220
        presented = smtp.sock.getpeercert(binary_form=True)
        negotiated = smtp.sock.cipher()
        smtp.ehlo()
        assert not smtp.has_extn("starttls")
        assert smtp.noop()[0] == 250

    assert_tls_logged(daemon, negotiated)
    # The certificate served is the one kept in <spool>/tls/.
    kept = [ssl.PEM_cert_to_DER_cert(block) for path in sorted(tls_dir.iterdir())
            for block in PEM_CERTIFICATE.findall(path.read_text(errors="replace"))]
    assert presented in kept, f"served certificate not found in {tls_dir}"


def test_self_signed_certificate_survives_a_restart(daemon):
    def served_certificate() -> bytes:
        with RawSmtp(daemon.port()) as client:
            client.expect(None, 220)
            client.ehlo()
            client.expect("STARTTLS", 220)
            client.starttls(insecure_context())
            return client.sock.getpeercert(binary_form=True)

    before = served_certificate()
    daemon.stop()
    daemon.start()
    assert served_certificate() == before


def test_implicit_tls_on_smtps_listener(daemon_factory, certs):
    daemon = daemon_factory(listeners=("mta", "smtps"), config=certs.tls_config())
    sender = "smtps@client.test"
    message = make_message(sender, ["bob@dest.example"], "smtps", "Implicit TLS.\n",
                           "smtps@client.test")
    with smtplib.SMTP_SSL("127.0.0.1", daemon.port("smtps"), local_hostname="client.test",
                          timeout=10, context=trusting(certs)) as smtp:
        assert smtp.sock.version() == "TLSv1.3"
        negotiated = smtp.sock.cipher()
        smtp.ehlo()
        assert not smtp.has_extn("starttls"), "STARTTLS offered on an smtps listener"
        assert smtp.sendmail(sender, ["bob@dest.example"], message) == {}

    [queued] = messages_from(daemon.queue(), sender)
    # sendmail logs implicit TLS with the same STARTTLS=server token.
    assert_tls_logged(daemon, negotiated)
    daemon.wait_for_log(rf"{re.escape(queued['id'])}: from=<{re.escape(sender)}>, .*"
                        r"proto=ESMTPS, ")


def test_smtps_listener_does_not_speak_plaintext(daemon_factory, certs):
    daemon = daemon_factory(listeners=("mta", "smtps"), config=certs.tls_config())
    with RawSmtp(daemon.port("smtps")) as client:
        # A plaintext client waiting for a banner must not get one.
        assert client.nothing_pending(wait=1.0) == b""


def test_openssl_s_client_verifies_the_chain(daemon_factory, certs):
    daemon = daemon_factory(config=certs.tls_config())
    result = subprocess.run(
        ["openssl", "s_client", "-starttls", "smtp", "-connect", f"127.0.0.1:{daemon.port()}",
         "-CAfile", str(certs.ca), "-verify_return_error", "-verify_ip", "127.0.0.1",
         "-brief"],
        input="QUIT\r\n", capture_output=True, text=True, timeout=30)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Verification: OK" in output, output
    assert "Protocol version: TLSv1.3" in output, output
