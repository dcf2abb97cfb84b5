//! Table-driven tests of the path grammar, one table per rule.

use super::*;

fn name(local: &str, domain: &str) -> Mailbox {
    Mailbox {
        local_part: local.to_owned(),
        domain: Domain::Name(domain.to_owned()),
    }
}

fn literal(local: &str, ip: &str) -> Mailbox {
    Mailbox {
        local_part: local.to_owned(),
        domain: Domain::Literal(ip.parse().expect("test literal is a valid IP")),
    }
}

fn check_reverse(cases: &[(&[u8], bool, Result<ReversePath, AddressError>)]) {
    for (input, smtputf8, expected) in cases {
        let got = parse_reverse_path(input, *smtputf8);
        assert_eq!(
            &got,
            expected,
            "input {:?}",
            input.escape_ascii().to_string()
        );
    }
}

fn check_forward(cases: &[(&[u8], bool, Result<ForwardPath, AddressError>)]) {
    for (input, smtputf8, expected) in cases {
        let got = parse_forward_path(input, *smtputf8);
        assert_eq!(
            &got,
            expected,
            "input {:?}",
            input.escape_ascii().to_string()
        );
    }
}

#[test]
fn path_brackets_and_null() {
    use AddressError::*;
    check_reverse(&[
        (b"<>", false, Ok(ReversePath::Null)),
        (
            b"<a@b.example>",
            false,
            Ok(ReversePath::Mailbox(name("a", "b.example"))),
        ),
        (b"a@b.example", false, Err(MissingAngleBrackets)),
        (b"", false, Err(MissingAngleBrackets)),
        (b"<a@b.example", false, Err(UnclosedPath)),
        (b"<a@b.example>x", false, Err(TrailingCharacters)),
        (b"<a@b.example> ", false, Err(TrailingCharacters)),
        (b"<<a@b.example>>", false, Err(TrailingCharacters)),
    ]);
    check_forward(&[
        (b"<>", false, Err(NullPathNotAllowed)),
        (b"<Postmaster>", false, Ok(ForwardPath::Postmaster)),
        (b"<postMASTER>", false, Ok(ForwardPath::Postmaster)),
        (
            b"<Postmaster@x.example>",
            false,
            Ok(ForwardPath::Mailbox(name("Postmaster", "x.example"))),
        ),
        (b"<Postmasterx>", false, Err(MissingAt)),
        (b"Postmaster", false, Err(MissingAngleBrackets)),
    ]);
}

#[test]
fn source_routes_are_parsed_and_dropped() {
    use AddressError::*;
    check_reverse(&[
        (
            b"<@a.example:u@b.example>",
            false,
            Ok(ReversePath::Mailbox(name("u", "b.example"))),
        ),
        (
            b"<@a.example,@c.example:u@b.example>",
            false,
            Ok(ReversePath::Mailbox(name("u", "b.example"))),
        ),
        (
            b"<@[192.0.2.1],@[IPv6:::1]:u@b.example>",
            false,
            Ok(ReversePath::Mailbox(name("u", "b.example"))),
        ),
        (b"<@a.example u@b.example>", false, Err(BadSourceRoute)),
        (b"<@:u@b.example>", false, Err(BadSourceRoute)),
        (b"<@a..example:u@b.example>", false, Err(BadSourceRoute)),
        (b"<@a.example,:u@b.example>", false, Err(BadSourceRoute)),
        (
            b"<@a.example,c.example:u@b.example>",
            false,
            Err(BadSourceRoute),
        ),
        (b"<@[192.0.2.1:u@b.example>", false, Err(BadSourceRoute)),
    ]);
    check_forward(&[(
        b"<@relay.example:Postmaster@b.example>",
        false,
        Ok(ForwardPath::Mailbox(name("Postmaster", "b.example"))),
    )]);
}

#[test]
fn dot_string_local_parts() {
    use AddressError::*;
    check_reverse(&[
        (
            b"<first.last@x.example>",
            false,
            Ok(ReversePath::Mailbox(name("first.last", "x.example"))),
        ),
        (
            b"<!#$%&'*+-/=?^_`{|}~@x.example>",
            false,
            Ok(ReversePath::Mailbox(name(
                "!#$%&'*+-/=?^_`{|}~",
                "x.example",
            ))),
        ),
        (b"<.a@x.example>", false, Err(BadLocalPart)),
        (b"<a.@x.example>", false, Err(BadLocalPart)),
        (b"<a..b@x.example>", false, Err(BadLocalPart)),
        (b"<@x.example>", false, Err(BadSourceRoute)),
        (b"<a b@x.example>", false, Err(BadLocalPart)),
        (b"<a(b)@x.example>", false, Err(BadLocalPart)),
        (b"<a,b@x.example>", false, Err(BadLocalPart)),
        (b"<ab.x.example>", false, Err(MissingAt)),
        (b"<a@b@x.example>", false, Err(BadDomain)),
    ]);
}

#[test]
fn quoted_string_local_parts_keep_minimal_wire_form() {
    use AddressError::*;
    check_reverse(&[
        (
            br#"<"a"@x.example>"#,
            false,
            Ok(ReversePath::Mailbox(name("a", "x.example"))),
        ),
        (
            br#"<"a.b"@x.example>"#,
            false,
            Ok(ReversePath::Mailbox(name("a.b", "x.example"))),
        ),
        (
            br#"<"\a"@x.example>"#,
            false,
            Ok(ReversePath::Mailbox(name("a", "x.example"))),
        ),
        (
            br#"<"john doe"@x.example>"#,
            false,
            Ok(ReversePath::Mailbox(name(r#""john doe""#, "x.example"))),
        ),
        (
            br#"<"a..b"@x.example>"#,
            false,
            Ok(ReversePath::Mailbox(name(r#""a..b""#, "x.example"))),
        ),
        (
            br#"<"a\"b"@x.example>"#,
            false,
            Ok(ReversePath::Mailbox(name(r#""a\"b""#, "x.example"))),
        ),
        (
            br#"<"a\\b"@x.example>"#,
            false,
            Ok(ReversePath::Mailbox(name(r#""a\\b""#, "x.example"))),
        ),
        (
            br#"<"a>b"@x.example>"#,
            false,
            Ok(ReversePath::Mailbox(name(r#""a>b""#, "x.example"))),
        ),
        (
            br#"<"a@b"@x.example>"#,
            false,
            Ok(ReversePath::Mailbox(name(r#""a@b""#, "x.example"))),
        ),
        (
            br#"<""@x.example>"#,
            false,
            Ok(ReversePath::Mailbox(name(r#""""#, "x.example"))),
        ),
        (br#"<"a"b@x.example>"#, false, Err(MissingAt)),
        (br#"<"a@x.example>"#, false, Err(UnclosedPath)),
        (br#"<a"b"@x.example>"#, false, Err(BadLocalPart)),
        (b"<\"a\\\xc3\xbc\"@x.example>", true, Err(BadLocalPart)),
        (b"<\"a\tb\"@x.example>", false, Err(ControlCharacter)),
    ]);
}

#[test]
fn domains_and_address_literals() {
    use AddressError::*;
    check_reverse(&[
        (
            b"<a@localhost>",
            false,
            Ok(ReversePath::Mailbox(name("a", "localhost"))),
        ),
        (
            b"<a@Mail-1.X.example>",
            false,
            Ok(ReversePath::Mailbox(name("a", "Mail-1.X.example"))),
        ),
        (
            b"<a@[192.0.2.1]>",
            false,
            Ok(ReversePath::Mailbox(literal("a", "192.0.2.1"))),
        ),
        (
            b"<a@[IPv6:2001:db8::1]>",
            false,
            Ok(ReversePath::Mailbox(literal("a", "2001:db8::1"))),
        ),
        (
            b"<a@[ipv6:::ffff:192.0.2.1]>",
            false,
            Ok(ReversePath::Mailbox(literal("a", "::ffff:192.0.2.1"))),
        ),
        (b"<a@>", false, Err(BadDomain)),
        (b"<a@-x.example>", false, Err(BadDomain)),
        (b"<a@x-.example>", false, Err(BadDomain)),
        (b"<a@x..example>", false, Err(BadDomain)),
        (b"<a@x.example.>", false, Err(BadDomain)),
        (b"<a@x_y.example>", false, Err(BadDomain)),
        (b"<a@[192.0.2.256]>", false, Err(BadAddressLiteral)),
        (b"<a@[192.0.2]>", false, Err(BadAddressLiteral)),
        (b"<a@[2001:db8::1]>", false, Err(BadAddressLiteral)),
        (b"<a@[IPv6:192.0.2.1]>", false, Err(BadAddressLiteral)),
        (b"<a@[x400:stuff]>", false, Err(BadAddressLiteral)),
        (b"<a@[192.0.2.1>", false, Err(BadAddressLiteral)),
    ]);
    assert_eq!(
        parse_domain(b"MX.example", false),
        Ok(Domain::Name("MX.example".into()))
    );
    assert_eq!(
        parse_domain(b"[IPv6:::1]", false),
        Ok(Domain::Literal("::1".parse().expect("ip")))
    );
    assert_eq!(parse_domain(b"bad domain", false), Err(BadDomain));
}

#[test]
fn length_limits() {
    use AddressError::*;
    let local_64 = "l".repeat(64);
    let label_63 = "d".repeat(63);
    let domain_255 = format!("{label_63}.{label_63}.{label_63}.{}", "d".repeat(63));
    assert_eq!(domain_255.len(), 255);
    let at = |local: &str, domain: &str| format!("<{local}@{domain}>").into_bytes();
    let quoted_65 = format!("\"{}\"", "q".repeat(63));
    assert_eq!(quoted_65.len(), 65);
    let cases: Vec<(Vec<u8>, Result<ReversePath, AddressError>)> = vec![
        (
            at(&local_64, "x.example"),
            Ok(ReversePath::Mailbox(name(&local_64, "x.example"))),
        ),
        (at(&"l".repeat(65), "x.example"), Err(LocalPartTooLong)),
        (at(&quoted_65, "x.example"), Err(LocalPartTooLong)),
        (
            at("a", &format!("{label_63}.example")),
            Ok(ReversePath::Mailbox(name(
                "a",
                &format!("{label_63}.example"),
            ))),
        ),
        (
            at("a", &format!("{}.example", "d".repeat(64))),
            Err(BadDomain),
        ),
        // A 255-octet domain fits the domain limit but not the 256-octet path limit.
        (at("a", &domain_255), Err(PathTooLong)),
        (
            at(
                &"l".repeat(64),
                &format!("{label_63}.{label_63}.{label_63}.{}", "d".repeat(60)),
            ),
            Err(PathTooLong),
        ),
    ];
    for (input, expected) in &cases {
        assert_eq!(
            &parse_reverse_path(input, false),
            expected,
            "length {}",
            input.len()
        );
    }
    assert_eq!(
        parse_domain(domain_255.as_bytes(), false),
        Ok(Domain::Name(domain_255.clone()))
    );
    let long_domain = format!("{domain_255}x");
    assert_eq!(
        parse_domain(long_domain.as_bytes(), false),
        Err(DomainTooLong)
    );
    // 254 octets of path content plus brackets is exactly the 256 limit.
    let fits = at(
        &"l".repeat(64),
        &format!("{label_63}.{label_63}.{}", "d".repeat(60)),
    );
    assert_eq!(fits.len(), 64 + 1 + 188 + 2);
    assert!(parse_reverse_path(&fits, false).is_ok());
}

#[test]
fn utf8_and_control_characters() {
    use AddressError::*;
    check_reverse(&[
        (
            "<δοκιμή@παράδειγμα.δοκιμή>".as_bytes(),
            true,
            Ok(ReversePath::Mailbox(name("δοκιμή", "παράδειγμα.δοκιμή"))),
        ),
        (
            "<\"ü ber\"@x.example>".as_bytes(),
            true,
            Ok(ReversePath::Mailbox(name("\"ü ber\"", "x.example"))),
        ),
        (
            "<δοκιμή@x.example>".as_bytes(),
            false,
            Err(NonAsciiWithoutSmtputf8),
        ),
        (
            "<a@παράδειγμα.example>".as_bytes(),
            false,
            Err(NonAsciiWithoutSmtputf8),
        ),
        (b"<a\xff@x.example>", true, Err(InvalidUtf8)),
        (b"<a\xc3@x.example>", false, Err(InvalidUtf8)),
        (b"<a\0@x.example>", true, Err(ControlCharacter)),
        (b"<a\r@x.example>", false, Err(ControlCharacter)),
        (b"<a\n@x.example>", false, Err(ControlCharacter)),
        (b"<a\x7f@x.example>", false, Err(ControlCharacter)),
        (b"<a@x\x01.example>", false, Err(ControlCharacter)),
        (
            "<a\u{85}@x.example>".as_bytes(),
            true,
            Err(ControlCharacter),
        ),
    ]);
}

#[test]
fn split_path_stops_at_the_real_closing_bracket() {
    assert_eq!(
        split_path(b"<a@b> SIZE=1"),
        Ok((&b"<a@b>"[..], &b" SIZE=1"[..]))
    );
    assert_eq!(
        split_path(br#"<"x>y"@b>rest"#),
        Ok((&br#"<"x>y"@b>"#[..], &b"rest"[..]))
    );
    assert_eq!(split_path(b"<>"), Ok((&b"<>"[..], &b""[..])));
    assert_eq!(split_path(b"a@b"), Err(AddressError::MissingAngleBrackets));
}

#[test]
fn display_round_trips_through_the_parser() {
    for input in [
        &b"<a@x.example>"[..],
        br#"<"a b"@[192.0.2.1]>"#,
        b"<u@[IPv6:2001:db8::1]>",
    ] {
        let parsed = parse_reverse_path(input, false).expect("valid test input");
        let shown = format!("<{parsed}>");
        assert_eq!(parse_reverse_path(shown.as_bytes(), false), Ok(parsed));
    }
}

#[test]
fn mailbox_is_ascii() {
    let ascii = parse_forward_path(b"<a@x.example>", true).expect("valid");
    let utf8 = parse_forward_path("<ü@x.example>".as_bytes(), true).expect("valid");
    assert!(matches!(ascii, ForwardPath::Mailbox(m) if m.is_ascii()));
    assert!(matches!(utf8, ForwardPath::Mailbox(m) if !m.is_ascii()));
}
