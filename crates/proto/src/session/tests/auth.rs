//! AUTH transcripts (RFC 4954): the owner answers each `Action::Authenticate` with
//! `test_auth_verdict`, which goes by the password ("secret" is accepted).

use super::*;

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `AUTH PLAIN` initial response for `user` / `password`.
fn plain(user: &str, password: &str) -> String {
    b64(format!("\0{user}\0{password}").as_bytes())
}

/// A session where AUTH is offered: TLS from the start (port 465) unless `tls` is false.
fn submission(tls: bool, auth_required: bool) -> Owner {
    let mut config = SessionConfig::new("mx.test.example");
    config.implicit_tls = tls;
    config.auth_required = auth_required;
    config.extensions.auth_mechanisms = vec!["PLAIN", "LOGIN"];
    let mut owner = Owner::new(config);
    owner.greet();
    owner
}

fn send_line(owner: &mut Owner, line: &str) -> String {
    owner.send(format!("{line}\r\n").as_bytes())
}

#[test]
fn plain_with_initial_response() {
    let mut owner = submission(true, false);
    let transcript = send_line(
        &mut owner,
        &format!("AUTH PLAIN {}", plain("alice", "secret")),
    );
    assert_eq!(transcript, "235 2.7.0 Authentication successful\r\n");
    assert_eq!(owner.authentications.len(), 1);
    let credentials = &owner.authentications[0];
    assert_eq!(credentials.mechanism, Mechanism::Plain);
    assert_eq!(credentials.username, "alice");
    assert_eq!(credentials.password, "secret");
    assert_eq!(owner.session.auth_id(), Some("alice"));
    assert_eq!(owner.session.protocol(), "ESMTPSA");
}

#[test]
fn auth_is_offered_and_accepted_after_starttls() {
    let mut config = SessionConfig::new("mx.test.example");
    config.extensions.starttls = true;
    config.extensions.auth_mechanisms = vec!["PLAIN", "LOGIN"];
    let mut owner = Owner::new(config);
    owner.greet();
    assert_eq!(codes(&send_line(&mut owner, "STARTTLS")), ["220 2.0.0"]);
    let ehlo = send_line(&mut owner, "EHLO client.example");
    assert!(ehlo.contains("250-AUTH PLAIN LOGIN\r\n"), "{ehlo}");
    let transcript = send_line(
        &mut owner,
        &format!("AUTH PLAIN {}", plain("alice", "secret")),
    );
    assert_eq!(codes(&transcript), ["235 2.7.0"]);
}

#[test]
fn plain_with_empty_challenge() {
    let mut owner = submission(true, false);
    assert_eq!(send_line(&mut owner, "AUTH PLAIN"), "334 \r\n");
    assert_eq!(owner.session.phase(), Phase::Command);
    let transcript = send_line(&mut owner, &plain("alice", "secret"));
    assert_eq!(codes(&transcript), ["235 2.7.0"]);
}

#[test]
fn login_two_step() {
    let mut owner = submission(true, false);
    assert_eq!(send_line(&mut owner, "auth login"), "334 VXNlcm5hbWU6\r\n");
    assert_eq!(send_line(&mut owner, &b64(b"bob")), "334 UGFzc3dvcmQ6\r\n");
    let transcript = send_line(&mut owner, &b64(b"secret"));
    assert_eq!(codes(&transcript), ["235 2.7.0"]);
    let credentials = &owner.authentications[0];
    assert_eq!(credentials.mechanism, Mechanism::Login);
    assert_eq!(credentials.username, "bob");
    assert_eq!(owner.session.auth_id(), Some("bob"));
}

#[test]
fn login_with_initial_username() {
    let mut owner = submission(true, false);
    let challenge = send_line(&mut owner, &format!("AUTH LOGIN {}", b64(b"bob")));
    assert_eq!(challenge, "334 UGFzc3dvcmQ6\r\n");
    assert_eq!(
        codes(&send_line(&mut owner, &b64(b"secret"))),
        ["235 2.7.0"]
    );
    assert_eq!(owner.authentications[0].username, "bob");
}

#[test]
fn star_cancels_and_the_session_goes_on() {
    let mut owner = submission(true, false);
    send_line(&mut owner, "AUTH LOGIN");
    assert_eq!(
        send_line(&mut owner, "*"),
        "501 5.7.0 Authentication cancelled\r\n"
    );
    assert!(owner.authentications.is_empty());
    assert_eq!(codes(&send_line(&mut owner, "NOOP")), ["250 2.0.0"]);
}

#[test]
fn undecodable_responses_get_501_5_5_2() {
    let no_second_nul = b64(b"\0alice");
    let bad_utf8 = b64(b"\0j\xfcrgen\0pw");
    for script in [
        "AUTH PLAIN\r\n!!!not base64\r\n".to_owned(),
        format!("AUTH PLAIN\r\n{no_second_nul}\r\n"),
        format!("AUTH PLAIN {no_second_nul}\r\n"),
        format!("AUTH PLAIN {bad_utf8}\r\n"),
        "AUTH PLAIN =\r\n".to_owned(),
        "AUTH LOGIN\r\nYWxpY2U\r\n".to_owned(),
    ] {
        let mut owner = submission(true, false);
        let transcript = owner.send(script.as_bytes());
        assert_eq!(
            codes(&transcript).last().map(String::as_str),
            Some("501 5.5.2"),
            "{script:?}: {transcript}"
        );
        assert!(owner.authentications.is_empty(), "{script:?}");
        assert_eq!(codes(&send_line(&mut owner, "NOOP")), ["250 2.0.0"]);
    }
}

#[test]
fn before_tls_auth_is_refused_with_538_and_never_reaches_the_owner() {
    let mut owner = submission(false, false);
    let ehlo = send_line(&mut owner, "EHLO client.example");
    assert!(!ehlo.contains("AUTH"), "{ehlo}");
    let transcript = send_line(
        &mut owner,
        &format!("AUTH PLAIN {}", plain("alice", "secret")),
    );
    assert_eq!(codes(&transcript), ["538 5.7.11"]);
    assert!(owner.authentications.is_empty());
    assert_eq!(owner.session.auth_id(), None);
}

#[test]
fn auth_refusals_by_session_state() {
    let mut not_configured = Owner::standard();
    not_configured.greet();
    assert_eq!(
        codes(&send_line(&mut not_configured, "AUTH PLAIN")),
        ["503 5.5.1"]
    );

    let mut owner = submission(true, false);
    send_line(&mut owner, "MAIL FROM:<a@a.example>");
    let transcript = send_line(&mut owner, "AUTH PLAIN");
    assert_eq!(
        transcript,
        "503 5.5.1 AUTH not allowed during a mail transaction\r\n"
    );
    send_line(&mut owner, "RSET");
    send_line(
        &mut owner,
        &format!("AUTH PLAIN {}", plain("alice", "secret")),
    );
    let transcript = send_line(&mut owner, "AUTH LOGIN");
    assert_eq!(transcript, "503 5.5.1 Already authenticated\r\n");
    assert_eq!(owner.authentications.len(), 1);

    let mut helo_only = submission(true, false);
    send_line(&mut helo_only, "HELO client.example");
    assert_eq!(
        codes(&send_line(&mut helo_only, "AUTH PLAIN")),
        ["503 5.5.1"]
    );
}

#[test]
fn unknown_or_unoffered_mechanism_gets_504() {
    let mut owner = submission(true, false);
    assert_eq!(
        codes(&send_line(&mut owner, "AUTH CRAM-MD5")),
        ["504 5.5.4"]
    );
    let mut config = SessionConfig::new("mx.test.example");
    config.implicit_tls = true;
    config.extensions.auth_mechanisms = vec!["PLAIN"];
    let mut plain_only = Owner::new(config);
    plain_only.greet();
    assert_eq!(
        codes(&send_line(&mut plain_only, "AUTH LOGIN")),
        ["504 5.5.4"]
    );
}

#[test]
fn accepted_client_may_send_mail_on_a_submission_session() {
    let mut owner = submission(true, true);
    let ehlo = send_line(&mut owner, "EHLO client.example");
    assert!(ehlo.contains("250-AUTH PLAIN LOGIN\r\n"), "{ehlo}");
    assert_eq!(
        codes(&send_line(&mut owner, "MAIL FROM:<a@a.example>")),
        ["530 5.7.0"]
    );
    let transcript = send_line(
        &mut owner,
        &format!("AUTH PLAIN {}", plain("alice", "secret")),
    );
    assert_eq!(codes(&transcript), ["235 2.7.0"]);
    assert_eq!(
        codes(&send_line(&mut owner, "MAIL FROM:<a@a.example>")),
        ["250 2.1.0"]
    );
    let ehlo = send_line(&mut owner, "EHLO client.example");
    assert!(!ehlo.contains("AUTH"), "{ehlo}");
    assert_eq!(owner.session.auth_id(), Some("alice"));
}

#[test]
fn rejected_gets_535_and_the_session_goes_on() {
    let mut owner = submission(true, true);
    let transcript = send_line(
        &mut owner,
        &format!("AUTH PLAIN {}", plain("alice", "wrong")),
    );
    assert_eq!(
        transcript,
        "535 5.7.8 Authentication credentials invalid\r\n"
    );
    assert_eq!(owner.session.auth_id(), None);
    assert!(!owner.closed);
    let transcript = send_line(
        &mut owner,
        &format!("AUTH PLAIN {}", plain("alice", "secret")),
    );
    assert_eq!(codes(&transcript), ["235 2.7.0"]);
}

#[test]
fn rejections_count_toward_the_error_limit() {
    let mut config = SessionConfig::new("mx.test.example");
    config.implicit_tls = true;
    config.max_errors = 2;
    config.extensions.auth_mechanisms = vec!["PLAIN"];
    let mut owner = Owner::new(config);
    owner.greet();
    let wrong = format!("AUTH PLAIN {}\r\n", plain("alice", "wrong"));
    let transcript = owner.send(wrong.repeat(2).as_bytes());
    assert_eq!(codes(&transcript), ["535 5.7.8", "535 5.7.8", "421 4.7.0"]);
    assert!(owner.closed);
}

#[test]
fn temporary_failure_gets_454() {
    let mut owner = submission(true, false);
    let transcript = send_line(
        &mut owner,
        &format!("AUTH PLAIN {}", plain("alice", "verifier-down")),
    );
    assert_eq!(transcript, "454 4.7.0 Temporary authentication failure\r\n");
    assert_eq!(owner.session.auth_id(), None);
    assert_eq!(codes(&send_line(&mut owner, "NOOP")), ["250 2.0.0"]);
}

#[test]
fn throttled_gets_421_and_closes() {
    let mut owner = submission(true, false);
    let transcript =
        owner.send(format!("AUTH PLAIN {}\r\nNOOP\r\n", plain("alice", "one-too-many")).as_bytes());
    assert_eq!(codes(&transcript), ["421 4.7.0"]);
    assert!(transcript.contains("Too many failed authentications"));
    assert!(owner.closed);
}

#[test]
fn authzid_other_than_the_user_is_refused_without_asking_the_owner() {
    let mut owner = submission(true, false);
    let proxy = b64(b"boss\0alice\0secret");
    let transcript = send_line(&mut owner, &format!("AUTH PLAIN {proxy}"));
    assert_eq!(codes(&transcript), ["535 5.7.8"]);
    assert!(owner.authentications.is_empty());
    let same = b64(b"alice\0alice\0secret");
    let transcript = send_line(&mut owner, &format!("AUTH PLAIN {same}"));
    assert_eq!(codes(&transcript), ["235 2.7.0"]);
}

#[test]
fn credentials_debug_never_shows_the_password() {
    let mut owner = submission(true, false);
    send_line(
        &mut owner,
        &format!("AUTH PLAIN {}", plain("alice", "hunter2-secret")),
    );
    let credentials = &owner.authentications[0];
    let shown = format!("{credentials:?} {credentials:#?}");
    assert!(shown.contains("alice"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
    let action = format!("{:?}", Action::Authenticate(credentials));
    assert!(!action.contains("hunter2"), "{action}");
}

#[test]
fn response_lines_up_to_12288_octets_are_read_and_longer_ones_refused() {
    let mut owner = submission(true, false);
    // 9000 octets of PLAIN message encode to exactly 12000 base64 characters.
    let long_password = "p".repeat(9000 - "\0alice\0".len());
    let response = plain("alice", &long_password);
    assert_eq!(response.len(), 12_000);
    send_line(&mut owner, "AUTH PLAIN");
    assert_eq!(codes(&send_line(&mut owner, &response)), ["535 5.7.8"]);
    assert_eq!(owner.authentications[0].password, long_password);

    send_line(&mut owner, "AUTH PLAIN");
    let too_long = "A".repeat(13_000);
    assert_eq!(codes(&send_line(&mut owner, &too_long)), ["500 5.5.2"]);
    assert_eq!(owner.authentications.len(), 1);
    // The exchange is over and the command line limit is back.
    assert_eq!(codes(&send_line(&mut owner, "NOOP")), ["250 2.0.0"]);
    let over_command_limit = format!("NOOP {}", "x".repeat(600));
    assert_eq!(
        codes(&send_line(&mut owner, &over_command_limit)),
        ["500 5.5.2"]
    );
}

#[test]
fn shutdown_while_a_challenge_is_outstanding_closes() {
    let mut owner = submission(true, false);
    send_line(&mut owner, "AUTH LOGIN");
    assert!(owner.session.shut_down());
    assert_eq!(codes(&owner.run()), ["421 4.3.2"]);
    assert!(owner.closed);
}

#[test]
fn pipelined_commands_after_auth_are_commands_not_responses() {
    let mut owner = submission(true, true);
    let script = format!(
        "AUTH PLAIN {}\r\nMAIL FROM:<a@a.example>\r\nRCPT TO:<b@b.example>\r\n",
        plain("alice", "secret")
    );
    let transcript = owner.send(script.as_bytes());
    assert_eq!(codes(&transcript), ["235 2.7.0", "250 2.1.0", "250 2.1.5"]);
    assert_eq!(owner.authentications.len(), 1);
}

#[test]
fn input_received_while_waiting_for_the_verdict_is_kept() {
    let mut config = SessionConfig::new("mx.test.example");
    config.implicit_tls = true;
    config.extensions.auth_mechanisms = vec!["PLAIN"];
    let mut session = ServerSession::new(config);
    session.clear_output(); // the greeting went out before the client spoke
    let response = plain("alice", "secret");
    session.receive(format!("EHLO c.example\r\nAUTH PLAIN {response}\r\nNO").as_bytes());
    let expected = Credentials {
        mechanism: Mechanism::Plain,
        authzid: None,
        username: "alice".into(),
        password: "secret".into(),
    };
    assert_eq!(
        session.poll(&mut AcceptAll),
        Action::Authenticate(&expected)
    );
    assert_eq!(session.phase(), Phase::Owner);
    assert_eq!(session.poll(&mut AcceptAll), Action::NeedInput);
    session.receive(b"OP\r\n");
    assert_eq!(session.poll(&mut AcceptAll), Action::NeedInput);
    session.clear_output();
    session.auth_verdict(AuthVerdict::Accepted {
        identity: "alice@example".into(),
    });
    assert_eq!(session.poll(&mut AcceptAll), Action::NeedInput);
    assert_eq!(
        session.output(),
        b"235 2.7.0 Authentication successful\r\n250 2.0.0 OK\r\n"
    );
    assert_eq!(session.auth_id(), Some("alice@example"));
}

#[test]
fn auth_exchange_split_at_every_byte_gives_the_same_transcript() {
    let script = format!(
        "AUTH PLAIN\r\n{}\r\nAUTH LOGIN\r\n{}\r\n{}\r\nMAIL FROM:<a@a.example>\r\nQUIT\r\n",
        plain("alice", "wrong"),
        b64(b"bob"),
        b64(b"secret"),
    );
    let script = script.as_bytes();
    let mut whole = submission(true, true);
    let expected = whole.send(script);
    assert_eq!(
        codes(&expected),
        [
            "334",
            "535 5.7.8",
            "334",
            "334",
            "235 2.7.0",
            "250 2.1.0",
            "221 2.0.0"
        ]
    );
    for split in 1..script.len() {
        let mut owner = submission(true, true);
        let mut transcript = owner.send(&script[..split]);
        transcript.push_str(&owner.send(&script[split..]));
        assert_eq!(transcript, expected, "split at {split}");
        assert_eq!(
            owner.authentications, whole.authentications,
            "split at {split}"
        );
    }
}
