//! Who is calling: the TCP peer, or the client a trusted proxy names.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// Which forwarding header carries the client's address from a trusted proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ForwardedHeader {
    /// `Forwarded` or `X-Forwarded-For`; when both are present they must agree.
    Auto,
    /// Only `X-Forwarded-For`; a `Forwarded` header that disagrees is refused.
    #[value(name = "x-forwarded-for")]
    XForwardedFor,
    /// Only `Forwarded` (RFC 7239); an `X-Forwarded-For` header that disagrees is refused.
    Forwarded,
}

pub use crate::domain::hosts::Caller;

/// `::ffff:127.0.0.1` is 127.0.0.1: compare addresses as the caller meant them.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The caller's address. Forwarding headers are read only when the TCP peer is a trusted
/// proxy; the chain is walked from the nearest hop, skipping trusted proxies, and the first
/// untrusted address is the client. Fails closed: from a trusted proxy, a header that names no
/// usable address (`for=unknown`, `_hidden`, empty), the named header missing, or `Forwarded`
/// and `X-Forwarded-For` naming different clients, leave the caller unknown rather than taking
/// the proxy itself for the client.
pub fn caller(req: &HttpRequest, trusted: &[IpNet], header: ForwardedHeader) -> Caller {
    let peer = req
        .peer_addr()
        .map(|a| canonical(a.ip()))
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let known = |ip| Caller {
        ip,
        peer,
        unusable: None,
    };
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if trusted.is_empty() || !is_trusted(&peer) {
        return known(peer);
    }
    let unknown = |why| Caller {
        ip: peer,
        peer,
        unusable: Some(why),
    };
    let headers = req.headers();
    let client = |name: &str, hops: fn(&str, &mut Vec<Option<IpAddr>>)| {
        let mut found = Vec::new();
        let mut present = false;
        for value in headers.get_all(name) {
            present = true;
            match value.to_str() {
                Ok(v) => hops(v, &mut found),
                Err(_) => found.push(None),
            }
        }
        present.then(|| client_of(&found, &is_trusted))
    };
    let forwarded = client("forwarded", forwarded_hops);
    let xff = client("x-forwarded-for", xff_hops);
    let chosen =
        match (header, forwarded, xff) {
            (ForwardedHeader::Auto, None, None) => return known(peer),
            (ForwardedHeader::Auto, Some(f), Some(x)) if f != x => {
                return unknown("Forwarded and X-Forwarded-For name different clients")
            }
            (ForwardedHeader::Auto, Some(one), _) | (ForwardedHeader::Auto, None, Some(one)) => one,
            (ForwardedHeader::XForwardedFor, f, x) => match x {
                None => {
                    return unknown(
                        "no X-Forwarded-For header (--forwarded-header x-forwarded-for)",
                    )
                }
                Some(x) if f.is_some_and(|f| f != x) => return unknown(
                    "a Forwarded header disagrees with X-Forwarded-For, the header the proxy sets",
                ),
                Some(x) => x,
            },
            (ForwardedHeader::Forwarded, f, x) => match f {
                None => return unknown("no Forwarded header (--forwarded-header forwarded)"),
                Some(f) if x.is_some_and(|x| x != f) => return unknown(
                    "an X-Forwarded-For header disagrees with Forwarded, the header the proxy sets",
                ),
                Some(f) => f,
            },
        };
    match chosen {
        Some(ip) => known(ip),
        None => unknown("the forwarding header names no usable client address"),
    }
}

/// The client of a chain of hops (nearest last): the first untrusted address from the end, or
/// the farthest when all are trusted. `None` when a hop that decides is not an address.
fn client_of(hops: &[Option<IpAddr>], is_trusted: &impl Fn(&IpAddr) -> bool) -> Option<IpAddr> {
    for hop in hops.iter().rev() {
        match hop {
            Some(ip) if is_trusted(ip) => continue,
            Some(ip) => return Some(*ip),
            None => return None,
        }
    }
    hops.first().copied().flatten()
}

/// The `for=` nodes of a `Forwarded` value, in order; an element without `for=` counts as a hop
/// that names nobody.
fn forwarded_hops(value: &str, hops: &mut Vec<Option<IpAddr>>) {
    for element in value.split(',') {
        let node = element.split(';').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            k.trim().eq_ignore_ascii_case("for").then(|| v.trim())
        });
        hops.push(node.and_then(parse_node));
    }
}

/// The addresses of an `X-Forwarded-For` value, in order.
fn xff_hops(value: &str, hops: &mut Vec<Option<IpAddr>>) {
    for part in value.split(',') {
        hops.push(parse_node(part.trim()));
    }
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `"[::1]:80"`, `[::1]`, `::1`.
pub fn parse_node(s: &str) -> Option<IpAddr> {
    let s = s.trim_matches('"');
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']')?;
        return rest[..end].parse().ok().map(canonical);
    }
    let (host, _port) = s.rsplit_once(':')?;
    host.parse().ok().map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_notations_are_understood() {
        let v4: IpAddr = "10.1.2.3".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(parse_node("10.1.2.3"), Some(v4));
        assert_eq!(parse_node("10.1.2.3:4711"), Some(v4));
        assert_eq!(parse_node("\"[2001:db8::1]:4711\""), Some(v6));
        assert_eq!(parse_node("[2001:db8::1]"), Some(v6));
        assert_eq!(parse_node("2001:db8::1"), Some(v6));
        assert_eq!(parse_node("unknown"), None);
        assert_eq!(parse_node("_hidden"), None);
    }

    #[test]
    fn a_mapped_address_is_its_ipv4_address() {
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(canonical(mapped), "127.0.0.1".parse::<IpAddr>().unwrap());
    }
}
