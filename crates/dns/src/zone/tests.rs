//! StaticResolver: every kind of zone line, the answers it gives, and bad lines.

use std::net::IpAddr;

use super::*;

fn block_on<T>(future: BoxFuture<'_, T>) -> T {
    // The static resolver's futures are always ready: one poll finishes them.
    let waker = std::task::Waker::noop();
    let mut context = std::task::Context::from_waker(waker);
    let mut future = future;
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(value) => value,
        std::task::Poll::Pending => panic!("a static answer should be ready at once"),
    }
}

const ZONE: &str = "\
# a comment line
Example.COM.     MX 20 MX2.example.com.
example.com      MX 10 mx1.example.com   # trailing comment
null.example     MX 0 .
nomx.example     A 192.0.2.9
mx1.example.com  A 192.0.2.1
mx1.example.com  AAAA 2001:db8::1
mx1.example.com  A 192.0.2.2
broken.example   SERVFAIL
gone.example     NXDOMAIN
empty.example    NODATA
";

fn zone() -> StaticResolver {
    StaticResolver::from_zone(ZONE).unwrap()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn mx_records_come_back_in_zone_order_normalised() {
    let answer = block_on(zone().mx("EXAMPLE.com."));
    let expected = vec![
        MxRecord {
            preference: 20,
            exchange: "mx2.example.com".into(),
        },
        MxRecord {
            preference: 10,
            exchange: "mx1.example.com".into(),
        },
    ];
    assert_eq!(answer, Ok(MxAnswer::Records(expected)));
}

#[test]
fn null_mx_nodata_servfail_and_nxdomain() {
    let resolver = zone();
    assert_eq!(block_on(resolver.mx("null.example")), Ok(MxAnswer::NullMx));
    assert_eq!(
        block_on(resolver.mx("nomx.example")),
        Ok(MxAnswer::NoRecords)
    );
    assert_eq!(
        block_on(resolver.mx("empty.example")),
        Ok(MxAnswer::NoRecords)
    );
    assert!(matches!(
        block_on(resolver.mx("broken.example")),
        Err(DnsError::Temporary { name, .. }) if name == "broken.example"
    ));
    for name in ["gone.example", "unlisted.example"] {
        assert_eq!(
            block_on(resolver.mx(name)),
            Err(DnsError::NxDomain { name: name.into() })
        );
    }
}

#[test]
fn addresses_put_ipv4_first_and_nodata_is_empty() {
    let resolver = zone();
    assert_eq!(
        block_on(resolver.addresses("mx1.example.com")),
        Ok(vec![ip("192.0.2.1"), ip("192.0.2.2"), ip("2001:db8::1")])
    );
    assert_eq!(block_on(resolver.addresses("null.example")), Ok(vec![]));
    assert_eq!(block_on(resolver.addresses("empty.example")), Ok(vec![]));
    assert!(matches!(
        block_on(resolver.addresses("broken.example")),
        Err(DnsError::Temporary { .. })
    ));
    assert!(matches!(
        block_on(resolver.addresses("gone.example")),
        Err(DnsError::NxDomain { .. })
    ));
    assert_eq!(
        block_on(resolver.addresses("192.0.2.77")),
        Ok(vec![ip("192.0.2.77")])
    );
}

#[test]
fn questions_are_recorded() {
    let resolver = zone();
    let _ = block_on(resolver.mx("Example.com"));
    let _ = block_on(resolver.addresses("mx1.example.com."));
    assert_eq!(
        resolver.queries(),
        vec!["MX example.com", "A/AAAA mx1.example.com"]
    );
}

#[test]
fn bad_lines_are_reported_with_their_number() {
    let cases: [(&str, ZoneProblem); 7] = [
        ("example.com\n", ZoneProblem::Syntax),
        ("example.com NODATA x\n", ZoneProblem::Syntax),
        (
            "example.com MX ten mx\n",
            bad("MX", "example.com MX ten mx"),
        ),
        ("\nh A 2001:db8::1\n", bad("A", "2001:db8::1")),
        ("h AAAA 192.0.2.1\n", bad("AAAA", "192.0.2.1")),
        ("h TXT hello\n", ZoneProblem::UnknownType("TXT".into())),
        (
            "h A 192.0.2.1\nh SERVFAIL\n",
            ZoneProblem::Conflict("h".into()),
        ),
    ];
    for (text, problem) in cases {
        let line = text.trim_end().lines().count();
        assert_eq!(
            StaticResolver::from_zone(text).err(),
            Some(ZoneError { line, problem }),
            "{text:?}"
        );
    }
}
