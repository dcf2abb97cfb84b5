//! `HickoryResolver` against a fake DNS server on loopback: MX records, null MX,
//! NODATA, NXDOMAIN, SERVFAIL and REFUSED, A with AAAA, and TCP after a truncated
//! UDP answer.

mod fake_dns;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use fake_dns::{Answer, FakeDns, Zone};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::rdata::{A, AAAA, MX};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use posthorn_dns::{DnsError, HickoryResolver, MxAnswer, MxRecord, Resolver};

fn mx(preference: u16, exchange: &str) -> RData {
    RData::MX(MX::new(preference, Name::from_ascii(exchange).unwrap()))
}

fn a(text: &str) -> RData {
    RData::A(A(text.parse::<Ipv4Addr>().unwrap()))
}

fn aaaa(text: &str) -> RData {
    RData::AAAA(AAAA(text.parse::<Ipv6Addr>().unwrap()))
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn zone() -> Zone {
    use Answer::{Code, Records};
    use RecordType::{A as A4, AAAA as Aaaa, MX as Mx};
    Zone::default()
        .add(
            "example.com",
            Mx,
            Records(vec![mx(20, "MX2.Example.COM."), mx(10, "mx1.example.com.")]),
        )
        .add("null.example", Mx, Records(vec![mx(0, ".")]))
        .add("nomx.example", A4, Records(vec![a("192.0.2.9")]))
        .add(
            "dual.example",
            A4,
            Records(vec![a("192.0.2.1"), a("192.0.2.2")]),
        )
        .add("dual.example", Aaaa, Records(vec![aaaa("2001:db8::1")]))
        .add("six.example", Aaaa, Records(vec![aaaa("2001:db8::6")]))
        .add("broken.example", Mx, Code(ResponseCode::ServFail))
        .add("broken.example", A4, Code(ResponseCode::ServFail))
        .add("broken.example", Aaaa, Code(ResponseCode::ServFail))
        .add("refused.example", Mx, Code(ResponseCode::Refused))
        .add("big.example", Mx, Records(vec![mx(10, "mx1.example.com.")]))
        .truncate_over_udp("big.example")
}

async fn start() -> (FakeDns, HickoryResolver) {
    let server = FakeDns::start(zone()).await;
    let resolver = HickoryResolver::new(&[server.address]).unwrap();
    (server, resolver)
}

#[tokio::test]
async fn mx_records_are_normalised_and_kept_in_answer_order() {
    let (server, resolver) = start().await;
    let answer = resolver.mx("Example.com").await;
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
    // Asked once, as a fully qualified name: no search domain was appended.
    assert_eq!(server.questions(), vec!["example.com. MX/UDP"]);
}

#[tokio::test]
async fn null_mx_is_recognised() {
    let (_server, resolver) = start().await;
    assert_eq!(resolver.mx("null.example").await, Ok(MxAnswer::NullMx));
}

#[tokio::test]
async fn a_name_without_mx_is_nodata_not_nxdomain() {
    let (_server, resolver) = start().await;
    assert_eq!(resolver.mx("nomx.example").await, Ok(MxAnswer::NoRecords));
    assert_eq!(
        resolver.addresses("nomx.example").await,
        Ok(vec![ip("192.0.2.9")])
    );
    assert_eq!(resolver.addresses("null.example").await, Ok(vec![]));
}

#[tokio::test]
async fn nxdomain_is_permanent_for_mx_and_addresses() {
    let (_server, resolver) = start().await;
    let nx = DnsError::NxDomain {
        name: "missing.example".into(),
    };
    assert_eq!(resolver.mx("missing.example.").await, Err(nx.clone()));
    assert_eq!(resolver.addresses("missing.example").await, Err(nx));
}

#[tokio::test]
async fn servfail_and_refused_are_temporary() {
    let (_server, resolver) = start().await;
    for result in [
        resolver.mx("broken.example").await.map(|_| ()),
        resolver.addresses("broken.example").await.map(|_| ()),
        resolver.mx("refused.example").await.map(|_| ()),
    ] {
        assert!(
            matches!(result, Err(DnsError::Temporary { .. })),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn a_and_aaaa_are_asked_together_ipv4_first() {
    let (server, resolver) = start().await;
    assert_eq!(
        resolver.addresses("dual.example").await,
        Ok(vec![ip("192.0.2.1"), ip("192.0.2.2"), ip("2001:db8::1")])
    );
    let mut questions = server.questions();
    questions.sort();
    assert_eq!(
        questions,
        vec!["dual.example. A/UDP", "dual.example. AAAA/UDP"]
    );
    assert_eq!(
        resolver.addresses("six.example").await,
        Ok(vec![ip("2001:db8::6")])
    );
}

#[tokio::test]
async fn an_ip_address_is_its_own_answer_without_a_query() {
    let (server, resolver) = start().await;
    assert_eq!(
        resolver.addresses("192.0.2.44").await,
        Ok(vec![ip("192.0.2.44")])
    );
    assert!(server.questions().is_empty());
}

#[tokio::test]
async fn a_truncated_udp_answer_is_asked_again_over_tcp() {
    let (server, resolver) = start().await;
    let expected = vec![MxRecord {
        preference: 10,
        exchange: "mx1.example.com".into(),
    }];
    assert_eq!(
        resolver.mx("big.example").await,
        Ok(MxAnswer::Records(expected))
    );
    assert_eq!(
        server.questions(),
        vec!["big.example. MX/UDP", "big.example. MX/TCP"]
    );
}
