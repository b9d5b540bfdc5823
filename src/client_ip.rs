//! Who is calling: the TCP peer, or the client a trusted proxy names.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// The caller as decided, and the TCP peer it was decided from.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub ip: IpAddr,
    pub peer: IpAddr,
}

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

/// The caller's address. `Forwarded` (RFC 7239) or else `X-Forwarded-For` are read only when
/// the TCP peer is a trusted proxy; the chain is walked from the nearest hop, skipping trusted
/// proxies, and the first untrusted address is the client.
pub fn caller(req: &HttpRequest, trusted: &[IpNet]) -> Caller {
    let peer = req
        .peer_addr()
        .map(|a| canonical(a.ip()))
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if trusted.is_empty() || !is_trusted(&peer) {
        return Caller { ip: peer, peer };
    }
    let mut hops: Vec<IpAddr> = Vec::new();
    let forwarded: Vec<_> = req.headers().get_all("forwarded").collect();
    if !forwarded.is_empty() {
        for value in forwarded {
            let Ok(value) = value.to_str() else { continue };
            for element in value.split(',') {
                for pair in element.split(';') {
                    let mut kv = pair.splitn(2, '=');
                    let (Some(k), Some(v)) = (kv.next(), kv.next()) else {
                        continue;
                    };
                    if k.trim().eq_ignore_ascii_case("for") {
                        if let Some(ip) = parse_node(v.trim()) {
                            hops.push(ip);
                        }
                    }
                }
            }
        }
    } else {
        for value in req.headers().get_all("x-forwarded-for") {
            let Ok(value) = value.to_str() else { continue };
            for part in value.split(',') {
                if let Some(ip) = parse_node(part.trim()) {
                    hops.push(ip);
                }
            }
        }
    }
    let ip = hops
        .iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(hops.first())
        .copied()
        .unwrap_or(peer);
    Caller { ip, peer }
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
