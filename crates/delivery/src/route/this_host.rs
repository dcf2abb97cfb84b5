//! "Mail loops back to me": dropping the hops that are this host (RFC 5321 §5.1).
//!
//! A hop is this host when its name is our `hostname`, or when one of its addresses
//! with its port is one our listeners accept on (a listener on `0.0.0.0` or `::`
//! accepts on every local address). For an MX route, RFC 5321 §5.1 says to drop every
//! MX whose preference is equal to or worse than ours; when nothing better is left the
//! mail would come straight back, so it bounces with `554 5.4.6`, as sendmail's
//! "config error: mail loops back to me". Other routes (implicit MX, mailertable,
//! smarthost, address literal) simply lose the hops that are us.

use std::net::{IpAddr, SocketAddr, UdpSocket};

use posthorn_proto::EnhancedStatus;

use super::{Hop, Route, RouteError};

/// Who we are, as far as routing is concerned: our name and where we listen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThisHost {
    /// Lower case, without a trailing dot; empty: names are not compared.
    name: String,
    listeners: Vec<SocketAddr>,
}

impl ThisHost {
    pub fn new(hostname: &str, listeners: Vec<SocketAddr>) -> Self {
        ThisHost {
            name: hostname.trim_end_matches('.').to_ascii_lowercase(),
            listeners,
        }
    }

    /// `route` without the hops that are this host and, for MX routes, without every
    /// MX not better than ours; a loop error when nothing is left.
    pub fn exclude_self(&self, domain: &str, route: Route) -> Result<Route, RouteError> {
        let Some(ours) = route.hops.iter().find(|hop| self.is(hop)) else {
            return Ok(route);
        };
        let (our_name, cutoff) = (ours.host.clone(), ours.preference);
        let hops: Vec<Hop> = route
            .hops
            .into_iter()
            .filter(|hop| match (cutoff, hop.preference) {
                (Some(ours), Some(theirs)) => theirs < ours,
                _ => !self.is(hop),
            })
            .collect();
        if hops.is_empty() {
            return Err(self.loop_error(domain, &our_name));
        }
        Ok(Route {
            hops,
            source: route.source,
        })
    }

    fn is(&self, hop: &Hop) -> bool {
        let name = hop.host.trim_end_matches('.');
        (!self.name.is_empty() && name.eq_ignore_ascii_case(&self.name))
            || hop
                .addresses
                .iter()
                .any(|ip| self.listens_on(SocketAddr::new(*ip, hop.port)))
    }

    fn listens_on(&self, target: SocketAddr) -> bool {
        self.listeners.iter().any(|listener| {
            listener.port() == target.port()
                && (listener.ip() == target.ip()
                    || (listener.ip().is_unspecified() && is_local_address(target.ip())))
        })
    }

    fn loop_error(&self, domain: &str, hop: &str) -> RouteError {
        let me = if self.name.is_empty() {
            hop.trim_end_matches('.')
        } else {
            &self.name
        };
        RouteError::Permanent {
            code: 554,
            status: EnhancedStatus::new(5, 4, 6),
            text: format!("MX list for {domain} points back to {me} (mail loops back to me)"),
        }
    }
}

/// Whether `ip` is one of this machine's addresses: only those can be bound to (Linux
/// refuses others with EADDRNOTAVAIL unless `ip_nonlocal_bind` is set).
fn is_local_address(ip: IpAddr) -> bool {
    ip.is_loopback() || ip.is_unspecified() || UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::RouteSource;

    fn hop(host: &str, preference: Option<u16>, address: &str, port: u16) -> Hop {
        Hop {
            host: host.to_owned(),
            port,
            addresses: vec![address.parse().unwrap()],
            preference,
        }
    }

    fn mx_route(hops: Vec<Hop>) -> Route {
        Route {
            hops,
            source: RouteSource::Mx,
        }
    }

    fn me() -> ThisHost {
        ThisHost::new("mx.me.example", vec!["127.0.0.1:2525".parse().unwrap()])
    }

    fn hosts(route: &Route) -> Vec<&str> {
        route.hops.iter().map(|hop| hop.host.as_str()).collect()
    }

    #[test]
    fn routes_without_this_host_are_untouched() {
        let route = mx_route(vec![
            hop("a.example", Some(10), "192.0.2.1", 25),
            // Our address, another port: another server.
            hop("b.example", Some(20), "127.0.0.1", 25),
        ]);
        assert_eq!(me().exclude_self("d.example", route.clone()), Ok(route));
    }

    #[test]
    fn mx_hosts_not_better_than_ours_are_dropped() {
        let route = mx_route(vec![
            hop("a.example", Some(10), "192.0.2.1", 25),
            hop("b.example", Some(20), "192.0.2.2", 25),
            hop("MX.me.example.", Some(20), "192.0.2.3", 25),
            hop("c.example", Some(30), "192.0.2.4", 25),
        ]);
        let kept = me().exclude_self("d.example", route).unwrap();
        assert_eq!(hosts(&kept), ["a.example"]);
    }

    #[test]
    fn most_preferred_mx_pointing_at_our_listener_is_a_loop() {
        let route = mx_route(vec![
            hop("mx.d.example", Some(10), "127.0.0.1", 2525),
            hop("backup.example", Some(20), "192.0.2.2", 25),
        ]);
        let error = me().exclude_self("d.example", route).unwrap_err();
        assert_eq!(
            error.to_string(),
            "554 5.4.6 MX list for d.example points back to mx.me.example (mail loops back to me)"
        );
    }

    #[test]
    fn a_wildcard_listener_covers_loopback() {
        let host = ThisHost::new("", vec!["0.0.0.0:25".parse().unwrap()]);
        let route = mx_route(vec![hop("mx.d.example", Some(10), "127.0.0.7", 25)]);
        assert!(matches!(
            host.exclude_self("d.example", route),
            Err(RouteError::Permanent { code: 554, .. })
        ));
        let elsewhere = mx_route(vec![hop("mx.d.example", Some(10), "192.0.2.9", 25)]);
        assert!(host.exclude_self("d.example", elsewhere).is_ok());
    }

    #[test]
    fn other_routes_lose_only_the_hops_that_are_us() {
        let route = Route {
            hops: vec![
                hop("mx.me.example", None, "192.0.2.1", 25),
                hop("relay.example", None, "192.0.2.2", 25),
            ],
            source: RouteSource::Smarthost,
        };
        let kept = me().exclude_self("d.example", route).unwrap();
        assert_eq!(hosts(&kept), ["relay.example"]);
    }
}
