//! What the local CA may sign. Partners put `ca.pem` in their trust stores, so a CA that could
//! sign for any name would let a company record naming `https://www.google.com`, or whoever reads
//! the CA's key, pass as any site to them. The CA carries X.509 name constraints instead
//! (RFC 5280 4.2.1.10, enforced by browsers, OpenSSL, Java, Go, .NET and rustls): `localhost` and
//! its subdomains, the loopback addresses, `benecafe.co.kr` and its subdomains, and the hosts
//! named when it is made. The simulator checks the same scope before it signs anything.

use std::net::IpAddr;

use anyhow::Context;
use ipnet::IpNet;
use rustls::pki_types::CertificateDer;

/// What every local CA may sign, whatever the settings.
const ALWAYS_DNS: [&str; 4] = [
    "localhost",
    ".localhost",
    "benecafe.co.kr",
    ".benecafe.co.kr",
];
const ALWAYS_IP: [&str; 2] = ["127.0.0.0/8", "::1/128"];

/// A CA's permitted names: DNS names (`name` permits it and its subdomains, `.name` only its
/// subdomains, as RFC 5280 and every client read them) and IP networks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    dns: Vec<String>,
    ips: Vec<IpNet>,
}

impl Scope {
    /// The scope of a CA made now: the fixed names, and `hosts` (host names or addresses as
    /// certificates carry them: lower case, no brackets).
    pub fn for_hosts<'a>(hosts: impl IntoIterator<Item = &'a str>) -> Scope {
        let mut scope = Scope {
            dns: ALWAYS_DNS.map(String::from).to_vec(),
            ips: ALWAYS_IP.iter().filter_map(|n| n.parse().ok()).collect(),
        };
        scope.extend(hosts);
        scope
    }

    /// Adds the hosts not permitted yet (a host under `.localhost` adds nothing).
    pub fn extend<'a>(&mut self, hosts: impl IntoIterator<Item = &'a str>) {
        for host in hosts {
            if self.permits(host) {
                continue;
            }
            match host.parse::<IpAddr>() {
                Ok(ip) => self.ips.push(IpNet::from(ip)),
                Err(_) => self.dns.push(host.to_ascii_lowercase()),
            }
        }
    }

    /// Whether a certificate for `host` (a host name or an address) is within the scope.
    pub fn permits(&self, host: &str) -> bool {
        match host.parse::<IpAddr>() {
            Ok(ip) => self.ips.iter().any(|net| net.contains(&ip)),
            Err(_) => self.dns.iter().any(|c| dns_within(host, c)),
        }
    }

    /// The hosts of `hosts` outside the scope.
    pub fn outside<'a>(&self, hosts: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
        hosts.into_iter().filter(|h| !self.permits(h)).collect()
    }

    /// The scope as the CA certificate's name constraints (permitted subtrees only).
    pub fn constraints(&self) -> rcgen::NameConstraints {
        use rcgen::{CidrSubnet, GeneralSubtree};
        let dns = self.dns.iter().map(|d| GeneralSubtree::DnsName(d.clone()));
        let ips = self.ips.iter().map(|net| {
            GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(net.addr(), net.prefix_len()))
        });
        rcgen::NameConstraints {
            permitted_subtrees: dns.chain(ips).collect(),
            excluded_subtrees: Vec::new(),
        }
    }

    /// The scope a CA certificate carries; `None` when it has no name constraints (an earlier
    /// benecafe-sim made its CA so: it may sign for any name).
    pub fn of_ca(der: &CertificateDer<'_>) -> anyhow::Result<Option<Scope>> {
        use x509_parser::extensions::GeneralName;
        let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("not an X.509 certificate")?;
        let constraints = cert
            .name_constraints()
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("its name constraints cannot be read")?;
        let Some(constraints) = constraints else {
            return Ok(None);
        };
        let mut scope = Scope {
            dns: Vec::new(),
            ips: Vec::new(),
        };
        for subtree in constraints.value.permitted_subtrees.iter().flatten() {
            match subtree.base {
                GeneralName::DNSName(name) => scope.dns.push(name.to_ascii_lowercase()),
                GeneralName::IPAddress(bytes) => scope.ips.extend(ip_net(bytes)),
                // Other kinds never name a TLS server; nothing is signed for them.
                _ => {}
            }
        }
        Ok(Some(scope))
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dns = self.dns.iter().map(|d| match d.strip_prefix('.') {
            Some(parent) => format!("*.{parent}"),
            None => d.clone(),
        });
        let all: Vec<String> = dns.chain(self.ips.iter().map(|n| n.to_string())).collect();
        f.write_str(&all.join(", "))
    }
}

/// Whether `host` is within the DNS constraint `constraint`, as RFC 5280 reads it: the name
/// itself or a subdomain, or with a leading dot a subdomain only. Labels are compared whole, so
/// `badexample.com` is not within `example.com`.
fn dns_within(host: &str, constraint: &str) -> bool {
    let (host, c) = (host.as_bytes(), constraint.as_bytes());
    let ends = |suffix: &[u8]| {
        host.len() > suffix.len() && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    match c.first() {
        None => true,
        Some(b'.') => ends(c),
        Some(_) => {
            host.eq_ignore_ascii_case(c) || (ends(c) && host[host.len() - c.len() - 1] == b'.')
        }
    }
}

/// An IP network as a name constraint encodes it: address then mask, 8 or 32 bytes.
fn ip_net(bytes: &[u8]) -> Option<IpNet> {
    let (addr, mask): (IpAddr, IpAddr) = match bytes.len() {
        8 => {
            let (a, m) = bytes.split_at(4);
            let (a, m): ([u8; 4], [u8; 4]) = (a.try_into().ok()?, m.try_into().ok()?);
            (a.into(), m.into())
        }
        32 => {
            let (a, m) = bytes.split_at(16);
            let (a, m): ([u8; 16], [u8; 16]) = (a.try_into().ok()?, m.try_into().ok()?);
            (a.into(), m.into())
        }
        _ => return None,
    };
    IpNet::with_netmask(addr, mask).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_holds_the_fixed_names_and_the_hosts_given() {
        let scope = Scope::for_hosts(["j01.benecafe.localhost", "mall.example", "10.0.0.7"]);
        for yes in [
            "localhost",
            "aa5.benecafe.localhost",
            "127.0.0.2",
            "::1",
            "benecafe.co.kr",
            "mobis.benecafe.co.kr",
            "mall.example",
            "shop.mall.example",
            "10.0.0.7",
        ] {
            assert!(scope.permits(yes), "{yes}");
        }
        for no in [
            "www.google.com",
            "com",
            "xn--r8jz45g.jp",
            "localhost.evil.example",
            "evilbenecafe.co.kr",
            "example",
            "10.0.0.8",
            "::2",
        ] {
            assert!(!scope.permits(no), "{no}");
        }
        // A host the fixed names permit adds nothing.
        assert_eq!(scope.constraints().permitted_subtrees.len(), 4 + 2 + 2);
        assert_eq!(
            scope.to_string(),
            "localhost, *.localhost, benecafe.co.kr, *.benecafe.co.kr, mall.example, \
             127.0.0.0/8, ::1/128, 10.0.0.7/32"
        );
        assert_eq!(scope.outside(["a.localhost", "b.example"]), ["b.example"]);
    }

    #[test]
    fn a_scope_written_into_a_ca_reads_back_the_same() {
        let scope = Scope::for_hosts(["mall.example", "10.0.0.7", "2001:db8::1"]);
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::default();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
        params.name_constraints = Some(scope.constraints());
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(Scope::of_ca(cert.der()).unwrap(), Some(scope));
        params.name_constraints = None;
        let open = params.self_signed(&key).unwrap();
        assert_eq!(Scope::of_ca(open.der()).unwrap(), None);
        assert!(Scope::of_ca(&CertificateDer::from(vec![1, 2, 3])).is_err());
    }
}
