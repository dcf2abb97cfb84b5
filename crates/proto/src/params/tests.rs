//! Table-driven tests of the ESMTP parameter grammar, one table per parameter.

use super::*;

fn mail(s: &str) -> Result<MailParams, ParamError> {
    MailParams::parse(s.as_bytes())
}

fn rcpt(s: &str) -> Result<RcptParams, ParamError> {
    RcptParams::parse(s.as_bytes())
}

fn with<F: FnOnce(&mut MailParams)>(change: F) -> Result<MailParams, ParamError> {
    let mut params = MailParams::default();
    change(&mut params);
    Ok(params)
}

fn check_mail(cases: &[(&str, Result<MailParams, ParamError>)]) {
    for (input, expected) in cases {
        assert_eq!(&mail(input), expected, "input {input:?}");
    }
}

#[test]
fn general_param_syntax() {
    use ParamError::*;
    check_mail(&[
        ("", Ok(MailParams::default())),
        ("  ", Ok(MailParams::default())),
        (
            " SIZE=1  BODY=7BIT ",
            with(|p| {
                p.size = Some(1);
                p.body = Some(BodyType::SevenBit);
            }),
        ),
        ("=1", Err(Syntax)),
        ("-SIZE=1", Err(Syntax)),
        ("SI_ZE=1", Err(Syntax)),
        ("SIZE=", Err(Syntax)),
        ("SIZE=1=2", Err(Syntax)),
        ("SIZE=\t1", Err(Syntax)),
        ("ENVID=a\u{85}", Err(Syntax)),
        ("X-UNKNOWN=1", Err(Unknown("X-UNKNOWN".into()))),
        ("frob", Err(Unknown("FROB".into()))),
        ("NOTIFY=NEVER", Err(Unknown("NOTIFY".into()))),
    ]);
    assert_eq!(MailParams::parse(b"ENVID=\xff"), Err(Syntax));
}

#[test]
fn size() {
    use ParamError::*;
    check_mail(&[
        ("SIZE=0", with(|p| p.size = Some(0))),
        ("size=1000", with(|p| p.size = Some(1000))),
        (
            "SIZE=18446744073709551615",
            with(|p| p.size = Some(u64::MAX)),
        ),
        ("SIZE=18446744073709551616", Err(BadValue("SIZE"))),
        ("SIZE=000000000000000000001", Err(BadValue("SIZE"))),
        ("SIZE=99999999999999999999999999999", Err(BadValue("SIZE"))),
        ("SIZE=+1", Err(BadValue("SIZE"))),
        ("SIZE=-1", Err(BadValue("SIZE"))),
        ("SIZE=1k", Err(BadValue("SIZE"))),
        ("SIZE", Err(BadValue("SIZE"))),
        ("SIZE=1 SIZE=1", Err(Duplicate("SIZE"))),
    ]);
}

#[test]
fn body_ret_smtputf8() {
    use ParamError::*;
    check_mail(&[
        ("BODY=7BIT", with(|p| p.body = Some(BodyType::SevenBit))),
        (
            "body=8bitmime",
            with(|p| p.body = Some(BodyType::EightBitMime)),
        ),
        (
            "BODY=BINARYMIME",
            with(|p| p.body = Some(BodyType::BinaryMime)),
        ),
        ("BODY=8BIT", Err(BadValue("BODY"))),
        ("BODY", Err(BadValue("BODY"))),
        ("BODY=7BIT BODY=7BIT", Err(Duplicate("BODY"))),
        ("RET=FULL", with(|p| p.ret = Some(Ret::Full))),
        ("ret=hdrs", with(|p| p.ret = Some(Ret::Headers))),
        ("RET=HEADERS", Err(BadValue("RET"))),
        ("RET", Err(BadValue("RET"))),
        ("RET=FULL RET=HDRS", Err(Duplicate("RET"))),
        ("SMTPUTF8", with(|p| p.smtputf8 = true)),
        ("smtputf8", with(|p| p.smtputf8 = true)),
        ("SMTPUTF8=yes", Err(BadValue("SMTPUTF8"))),
        ("SMTPUTF8 SMTPUTF8", Err(Duplicate("SMTPUTF8"))),
    ]);
}

#[test]
fn envid_and_auth_are_xtext() {
    use ParamError::*;
    let envid_100 = "e".repeat(100);
    let envid_101 = format!("ENVID={}", "e".repeat(101));
    check_mail(&[
        (
            "ENVID=QQ314159",
            with(|p| p.envid = Some("QQ314159".into())),
        ),
        ("ENVID=a+2Bb", with(|p| p.envid = Some("a+b".into()))),
        (
            &format!("ENVID={envid_100}"),
            with(|p| p.envid = Some(envid_100.clone())),
        ),
        (&envid_101, Err(BadValue("ENVID"))),
        ("ENVID=a+0Db", Err(BadValue("ENVID"))),
        ("ENVID=a+0", Err(BadValue("ENVID"))),
        ("ENVID=\u{fc}", Err(BadValue("ENVID"))),
        ("ENVID", Err(BadValue("ENVID"))),
        ("ENVID=a ENVID=b", Err(Duplicate("ENVID"))),
        ("AUTH=<>", with(|p| p.auth = Some("<>".into()))),
        (
            "AUTH=user+40example.com",
            with(|p| p.auth = Some("user@example.com".into())),
        ),
        ("AUTH=a+00", Err(BadValue("AUTH"))),
        ("AUTH", Err(BadValue("AUTH"))),
        ("AUTH=<> AUTH=<>", Err(Duplicate("AUTH"))),
    ]);
}

#[test]
fn notify() {
    use ParamError::*;
    let notify = |never, success, failure, delay| {
        Ok(RcptParams {
            notify: Some(Notify {
                never,
                success,
                failure,
                delay,
            }),
            orcpt: None,
        })
    };
    let cases = [
        ("NOTIFY=NEVER", notify(true, false, false, false)),
        ("notify=success", notify(false, true, false, false)),
        (
            "NOTIFY=SUCCESS,FAILURE,DELAY",
            notify(false, true, true, true),
        ),
        ("NOTIFY=DELAY,FAILURE", notify(false, false, true, true)),
        ("NOTIFY=NEVER,SUCCESS", Err(BadValue("NOTIFY"))),
        ("NOTIFY=FAILURE,NEVER", Err(BadValue("NOTIFY"))),
        ("NOTIFY=SUCCESS,", Err(BadValue("NOTIFY"))),
        ("NOTIFY=ALWAYS", Err(BadValue("NOTIFY"))),
        ("NOTIFY", Err(BadValue("NOTIFY"))),
        ("NOTIFY=NEVER NOTIFY=NEVER", Err(Duplicate("NOTIFY"))),
        ("SIZE=1", Err(Unknown("SIZE".into()))),
    ];
    for (input, expected) in cases {
        assert_eq!(rcpt(input), expected, "input {input:?}");
    }
}

#[test]
fn orcpt() {
    use ParamError::*;
    let orcpt = |addr_type: &str, address: &str| {
        Ok(RcptParams {
            notify: None,
            orcpt: Some(OriginalRecipient {
                addr_type: addr_type.into(),
                address: address.into(),
            }),
        })
    };
    let too_long = format!("ORCPT=rfc822;{}", "a".repeat(494));
    let cases = [
        (
            "ORCPT=rfc822;user@example.com",
            orcpt("rfc822", "user@example.com"),
        ),
        ("ORCPT=rfc822;a+2Bb+3Dc@x", orcpt("rfc822", "a+b=c@x")),
        ("ORCPT=rfc822;user+0A@x", Err(BadValue("ORCPT"))),
        ("ORCPT=rfc822", Err(BadValue("ORCPT"))),
        ("ORCPT=;user@x", Err(BadValue("ORCPT"))),
        ("ORCPT=rfc822;", Err(BadValue("ORCPT"))),
        ("ORCPT=rfc(822);x", Err(BadValue("ORCPT"))),
        ("ORCPT", Err(BadValue("ORCPT"))),
        (too_long.as_str(), Err(BadValue("ORCPT"))),
        ("ORCPT=rfc822;a ORCPT=rfc822;b", Err(Duplicate("ORCPT"))),
    ];
    for (input, expected) in cases {
        assert_eq!(rcpt(input), expected, "input {input:?}");
    }
}
