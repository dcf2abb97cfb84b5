//! Routing against a StaticResolver: MX order and shuffling, implicit MX, null MX,
//! NXDOMAIN and temporary failures, address literals, and the precedence of the
//! mailertable over the smarthost over MX.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use posthorn_dns::StaticResolver;
use posthorn_policy::mailertable::Mailertable;
use posthorn_proto::{Domain, EnhancedStatus};

use super::*;

const ZONE: &str = "\
example.com       MX 20 mx2.example.com
example.com       MX 10 mx1.example.com
mx1.example.com   A 192.0.2.1
mx1.example.com   AAAA 2001:db8::1
mx2.example.com   A 192.0.2.2
equal.example     MX 10 a.equal.example
equal.example     MX 10 b.equal.example
equal.example     MX 20 c.equal.example
a.equal.example   A 192.0.2.10
b.equal.example   A 192.0.2.11
c.equal.example   A 192.0.2.12
ladder.example    MX 30 c.equal.example
ladder.example    MX 10 a.equal.example
ladder.example    MX 20 b.equal.example
implicit.example  A 192.0.2.30
implicit.example  AAAA 2001:db8::30
empty.example     NODATA
null.example      MX 0 .
broken.example    SERVFAIL
half.example      MX 10 broken.example
half.example      MX 20 mx2.example.com
stuck.example     MX 10 broken.example
stuck.example     MX 20 gone.example
nowhere.example   MX 10 gone.example
nowhere.example   MX 20 empty.example
relay.example.net MX 10 mx1.example.com
smart.example.net A 192.0.2.50
";

struct Setup {
    resolver: Arc<StaticResolver>,
    router: Router,
}

fn setup(mailertable: &str, smarthost: Option<&str>) -> Setup {
    let resolver = Arc::new(StaticResolver::from_zone(ZONE).unwrap());
    let table = Mailertable::parse(mailertable, Path::new("mailertable")).unwrap();
    let smarthost = smarthost.map(|text| text.parse().unwrap());
    let router = Router::new(Arc::new(table), smarthost, 25, resolver.clone());
    Setup { resolver, router }
}

fn name(domain: &str) -> Domain {
    Domain::Name(domain.to_owned())
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn hop(host: &str, port: u16, addresses: &[&str], preference: Option<u16>) -> Hop {
    Hop {
        host: host.into(),
        port,
        addresses: addresses.iter().map(|text| ip(text)).collect(),
        preference,
    }
}

fn hosts(route: &Route) -> Vec<&str> {
    route.hops.iter().map(|hop| hop.host.as_str()).collect()
}

fn permanent(code: u16, status: (u8, u16, u16), text: &str) -> RouteError {
    RouteError::Permanent {
        code,
        status: EnhancedStatus::new(status.0, status.1, status.2),
        text: text.into(),
    }
}

async fn route_to(setup: &Setup, domain: &str) -> Result<Route, RouteError> {
    setup.router.route(&name(domain)).await
}

#[tokio::test]
async fn mx_hosts_by_preference_with_every_address() {
    let setup = setup("", None);
    let route = route_to(&setup, "Example.COM").await.unwrap();
    assert_eq!(route.source, RouteSource::Mx);
    assert_eq!(
        route.hops,
        [
            hop(
                "mx1.example.com",
                25,
                &["192.0.2.1", "2001:db8::1"],
                Some(10)
            ),
            hop("mx2.example.com", 25, &["192.0.2.2"], Some(20)),
        ]
    );
}

#[tokio::test]
async fn equal_preferences_are_shuffled_and_unequal_never_reordered() {
    let setup = setup("", None);
    let mut equal_orders = HashSet::new();
    for _ in 0..200 {
        let route = route_to(&setup, "equal.example").await.unwrap();
        let order: Vec<String> = hosts(&route).iter().map(|h| h.to_string()).collect();
        assert_eq!(order[2], "c.equal.example", "preference 20 stays last");
        equal_orders.insert(order);

        let route = route_to(&setup, "ladder.example").await.unwrap();
        assert_eq!(
            hosts(&route),
            ["a.equal.example", "b.equal.example", "c.equal.example"]
        );
    }
    assert_eq!(
        equal_orders.len(),
        2,
        "both orders of a and b: {equal_orders:?}"
    );
}

#[tokio::test]
async fn no_mx_records_means_the_domains_own_addresses() {
    let setup = setup("", None);
    let route = route_to(&setup, "implicit.example").await.unwrap();
    assert_eq!(route.source, RouteSource::ImplicitMx);
    assert_eq!(
        route.hops,
        [hop(
            "implicit.example",
            25,
            &["192.0.2.30", "2001:db8::30"],
            None
        )]
    );
}

#[tokio::test]
async fn no_mx_and_no_address_bounces() {
    let setup = setup("", None);
    assert_eq!(
        route_to(&setup, "empty.example").await,
        Err(permanent(550, (5, 1, 2), "Host or domain name not found"))
    );
}

#[tokio::test]
async fn null_mx_bounces_with_rfc_7505s_reply() {
    let setup = setup("", None);
    assert_eq!(
        route_to(&setup, "null.example").await,
        Err(permanent(556, (5, 1, 10), "Recipient address has null MX"))
    );
}

#[tokio::test]
async fn nxdomain_bounces_and_servfail_defers() {
    let setup = setup("", None);
    assert_eq!(
        route_to(&setup, "gone.example").await,
        Err(permanent(550, (5, 1, 2), "Host or domain name not found"))
    );
    assert!(matches!(
        route_to(&setup, "broken.example").await,
        Err(RouteError::Temporary { text }) if text.contains("broken.example")
    ));
}

#[tokio::test]
async fn an_mx_host_that_fails_temporarily_is_left_out() {
    let setup = setup("", None);
    let route = route_to(&setup, "half.example").await.unwrap();
    assert_eq!(
        route.hops,
        [hop("mx2.example.com", 25, &["192.0.2.2"], Some(20))]
    );
}

#[tokio::test]
async fn no_usable_mx_host_defers() {
    let setup = setup("", None);
    // One MX host failed temporarily, the other does not exist.
    assert!(matches!(
        route_to(&setup, "stuck.example").await,
        Err(RouteError::Temporary { text })
            if text.contains("no usable MX addresses") && text.contains("broken.example")
    ));
    // Every MX host is NXDOMAIN or has no address: sendmail defers too.
    assert_eq!(
        route_to(&setup, "nowhere.example").await,
        Err(RouteError::Temporary {
            text: "no usable MX addresses for nowhere.example".into()
        })
    );
}

#[tokio::test]
async fn an_address_literal_is_one_hop_without_dns() {
    let setup = setup(". error:nouser\n", None);
    for literal in ["192.0.2.99", "2001:db8::99"] {
        let route = setup
            .router
            .route(&Domain::Literal(ip(literal)))
            .await
            .unwrap();
        assert_eq!(route.source, RouteSource::AddressLiteral);
        assert_eq!(route.hops, [hop(literal, 25, &[literal], None)]);
    }
    assert!(setup.resolver.queries().is_empty());
}

#[tokio::test]
async fn an_address_literal_goes_through_the_smarthost() {
    let setup = setup("", Some("[smart.example.net]:587"));
    let route = setup
        .router
        .route(&Domain::Literal(ip("192.0.2.99")))
        .await
        .unwrap();
    assert_eq!(route.source, RouteSource::Smarthost);
    assert_eq!(
        route.hops,
        [hop("smart.example.net", 587, &["192.0.2.50"], None)]
    );
}

#[tokio::test]
async fn mailertable_before_smarthost_before_mx() {
    let table = "example.com esmtp:[smart.example.net]:2525\n";
    let with_smarthost = setup(table, Some("[192.0.2.77]"));
    let route = route_to(&with_smarthost, "example.com").await.unwrap();
    assert_eq!(route.source, RouteSource::Mailertable { line: 1 });
    assert_eq!(
        route.hops,
        [hop("smart.example.net", 2525, &["192.0.2.50"], None)]
    );

    let route = route_to(&with_smarthost, "implicit.example").await.unwrap();
    assert_eq!(route.source, RouteSource::Smarthost);
    assert_eq!(route.hops, [hop("192.0.2.77", 25, &["192.0.2.77"], None)]);

    let without = setup(table, None);
    let route = route_to(&without, "implicit.example").await.unwrap();
    assert_eq!(route.source, RouteSource::ImplicitMx);
}

#[tokio::test]
async fn dot_entries_route_subdomains_only() {
    let setup = setup("# subdomains\n.example.com smtp:[192.0.2.40]\n", None);
    let route = route_to(&setup, "sub.example.com").await.unwrap();
    assert_eq!(route.source, RouteSource::Mailertable { line: 2 });
    assert_eq!(route.hops, [hop("192.0.2.40", 25, &["192.0.2.40"], None)]);

    let route = route_to(&setup, "example.com").await.unwrap();
    assert_eq!(route.source, RouteSource::Mx);
}

#[tokio::test]
async fn a_mailertable_host_without_brackets_uses_its_mx_and_port() {
    let setup = setup("example.org relay:relay.example.net:2525\n", None);
    let route = route_to(&setup, "example.org").await.unwrap();
    assert_eq!(route.source, RouteSource::Mailertable { line: 1 });
    assert_eq!(
        route.hops,
        [hop(
            "mx1.example.com",
            2525,
            &["192.0.2.1", "2001:db8::1"],
            Some(10)
        )]
    );
    assert_eq!(
        setup.resolver.queries(),
        ["MX relay.example.net", "A/AAAA mx1.example.com"]
    );
}

#[tokio::test]
async fn a_bracketed_mailertable_host_skips_the_mx_lookup() {
    let setup = setup("example.org esmtp:[smart.example.net]\n", None);
    let route = route_to(&setup, "example.org").await.unwrap();
    assert_eq!(
        route.hops,
        [hop("smart.example.net", 25, &["192.0.2.50"], None)]
    );
    assert_eq!(setup.resolver.queries(), ["A/AAAA smart.example.net"]);
}

#[tokio::test]
async fn mailertable_error_entries_bounce_or_defer_with_their_reply() {
    let setup = setup(
        "gone.example.org error:5.1.1:550 This domain is gone\n\
         .spam.example error:nohost\n\
         later.example error:4.7.0:451 Try again later\n",
        None,
    );
    assert_eq!(
        route_to(&setup, "gone.example.org").await,
        Err(permanent(550, (5, 1, 1), "This domain is gone"))
    );
    assert_eq!(
        route_to(&setup, "a.spam.example").await,
        Err(permanent(550, (5, 1, 2), "Host unknown"))
    );
    assert_eq!(
        route_to(&setup, "later.example").await,
        Err(RouteError::Temporary {
            text: "451 4.7.0 Try again later".into()
        })
    );
    assert!(setup.resolver.queries().is_empty());
}

#[tokio::test]
async fn a_smarthost_without_brackets_uses_its_mx() {
    let setup = setup("", Some("relay.example.net"));
    let route = route_to(&setup, "example.org").await.unwrap();
    assert_eq!(route.source, RouteSource::Smarthost);
    assert_eq!(hosts(&route), ["mx1.example.com"]);
}

#[tokio::test]
async fn a_smarthost_that_does_not_exist_bounces_and_one_that_fails_defers() {
    let setup_gone = setup("", Some("[gone.example]"));
    assert_eq!(
        route_to(&setup_gone, "example.org").await,
        Err(permanent(550, (5, 1, 2), "Host or domain name not found"))
    );
    let setup_broken = setup("", Some("[broken.example]:587"));
    assert!(matches!(
        route_to(&setup_broken, "example.org").await,
        Err(RouteError::Temporary { .. })
    ));
}

#[test]
fn smarthost_forms() {
    let parse = |text: &str| text.parse::<Smarthost>();
    let smarthost = |host: &str, port, mx| Smarthost {
        host: host.into(),
        port,
        mx,
    };
    assert_eq!(
        parse("[relay.example.com]:587"),
        Ok(smarthost("relay.example.com", Some(587), false))
    );
    assert_eq!(
        parse("Relay.Example.com"),
        Ok(smarthost("relay.example.com", None, true))
    );
    assert_eq!(
        parse("relay.example.com:2525"),
        Ok(smarthost("relay.example.com", Some(2525), true))
    );
    assert_eq!(
        parse("[192.0.2.1]"),
        Ok(smarthost("192.0.2.1", None, false))
    );
    assert_eq!(
        parse("[IPv6:2001:db8::1]:25"),
        Ok(smarthost("2001:db8::1", Some(25), false))
    );
    for bad in ["", "relay:abc", "[relay", "[relay]x", "relay:0", "a b"] {
        assert!(parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn ordering_sorts_by_preference_and_keeps_all_records() {
    let record = |preference, exchange: &str| MxRecord {
        preference,
        exchange: exchange.into(),
    };
    let records = vec![
        record(30, "c"),
        record(10, "a"),
        record(20, "b"),
        record(10, "d"),
    ];
    let ordered = order_by_preference(records, &mut rand::rng());
    let preferences: Vec<u16> = ordered.iter().map(|r| r.preference).collect();
    assert_eq!(preferences, [10, 10, 20, 30]);
    let mut first_two: Vec<&str> = ordered[..2].iter().map(|r| r.exchange.as_str()).collect();
    first_two.sort();
    assert_eq!(first_two, ["a", "d"]);
}

#[test]
fn routing_can_run_on_any_worker_thread() {
    fn assert_send<T: Send>(_: &T) {}
    fn assert_sync<T: Sync>(_: &T) {}
    let setup = setup("", None);
    let domain = name("example.com");
    let future = setup.router.route(&domain);
    assert_send(&future);
    assert_sync(&setup.router);
}
