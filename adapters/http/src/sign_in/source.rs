//! [`Source`]: the address a request is judged by for throttling.
//!
//! It is the connection's peer address, unless that peer is one of the
//! proxies named in configuration: then it is the rightmost address in
//! `X-Forwarded-For` that is not itself a trusted proxy (everything left of
//! it was written by the client, and could be anything).

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;

/// The header proxies append the client's address to.
pub const FORWARDED_FOR: &str = "x-forwarded-for";

/// The client address of a request, as text (`unknown` when the server was
/// not given connection information, e.g. when embedded without it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// The address throttles count against.
    pub address: String,
    /// Whether the request came through a trusted proxy.
    pub via_proxy: bool,
}

impl Source {
    /// The source of a request from `parts`, trusting `proxies`.
    pub fn of(parts: &Parts, proxies: &[IpAddr]) -> Source {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let Some(peer) = peer else {
            return Source {
                address: "unknown".into(),
                via_proxy: false,
            };
        };
        if !proxies.contains(&peer) {
            return Source {
                address: peer.to_string(),
                via_proxy: false,
            };
        }
        let forwarded: Vec<&str> = parts
            .headers
            .get_all(FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let client = forwarded
            .iter()
            .rev()
            .map(|entry| entry.parse::<IpAddr>().ok())
            .find(|ip| ip.is_none_or(|ip| !proxies.contains(&ip)));
        let address = match client {
            // The rightmost untrusted entry is an address.
            Some(Some(ip)) => ip,
            // It is not an address, or every entry is a trusted proxy:
            // count against the proxy itself.
            _ => peer,
        };
        Source {
            address: address.to_string(),
            via_proxy: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(peer: &str, forwarded: &[&str]) -> Parts {
        let mut b = Request::builder().uri("/");
        for f in forwarded {
            b = b.header(FORWARDED_FOR, *f);
        }
        let (mut parts, ()) = b.body(()).unwrap().into_parts();
        parts
            .extensions
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        parts
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_source_whatever_it_forwards() {
        let s = Source::of(&parts("203.0.113.9:5000", &["198.51.100.1"]), &[]);
        assert_eq!(s.address, "203.0.113.9");
        assert!(!s.via_proxy);
    }

    #[test]
    fn through_a_trusted_proxy_the_rightmost_untrusted_entry_counts() {
        let proxies = [ip("10.0.0.1"), ip("10.0.0.2")];
        let p = parts("10.0.0.1:443", &["1.2.3.4, 198.51.100.7", "10.0.0.2"]);
        assert_eq!(Source::of(&p, &proxies).address, "198.51.100.7");
    }

    #[test]
    fn a_forged_or_missing_entry_counts_against_the_proxy() {
        let proxies = [ip("10.0.0.1")];
        assert_eq!(
            Source::of(&parts("10.0.0.1:443", &["not-an-address"]), &proxies).address,
            "10.0.0.1"
        );
        assert_eq!(
            Source::of(&parts("10.0.0.1:443", &[]), &proxies).address,
            "10.0.0.1"
        );
    }
}
