//! Hosts and addresses: which names can only mean this machine, the host of an authority or a
//! URL, the names the simulator serves, and who a call came from.

use std::net::IpAddr;

/// Whether the simulator can be reached from other machines: decided by the listeners' addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposure {
    /// Both listeners on loopback addresses: only this machine's users reach it.
    Loopback,
    /// A listener beyond loopback: a shared QA environment.
    Network,
}

/// The host names requests may name, decided once at start.
#[derive(Debug, Clone, Default)]
pub struct ServedHosts {
    /// Exact names, lower case, IPv6 without brackets.
    exact: Vec<String>,
    /// Suffixes (`.example.com`) whose subdomains are admitted.
    suffixes: Vec<String>,
    /// `--allowed-hosts '*'`: every name.
    any: bool,
}

impl ServedHosts {
    /// localhost, `*.localhost` (browsers resolve it to loopback, so no page can rebind it),
    /// the loopback addresses, and the names given.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut hosts = ServedHosts {
            exact: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            suffixes: vec![".localhost".into()],
            any: false,
        };
        for name in names {
            let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
            let name = name.trim_start_matches('[').trim_end_matches(']');
            match name {
                "" => {}
                "*" => hosts.any = true,
                _ if name.starts_with("*.") => hosts.suffixes.push(name[1..].to_owned()),
                _ if name.starts_with('.') => hosts.suffixes.push(name.to_owned()),
                _ => hosts.exact.push(name.to_owned()),
            }
        }
        hosts
    }

    /// Whether `authority` (`host`, `host:port`, `[v6]:port`) names a served host.
    pub fn admits(&self, authority: &str) -> bool {
        if self.any {
            return true;
        }
        let host = host_of(authority).trim_end_matches('.');
        // Any loopback address literal is this machine (no page can rebind a literal).
        if host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
        {
            return true;
        }
        // No allocation: this runs on every request.
        let host = host.as_bytes();
        self.exact
            .iter()
            .any(|h| h.as_bytes().eq_ignore_ascii_case(host))
            || self.suffixes.iter().any(|s| {
                let s = s.as_bytes();
                host.len() >= s.len() && host[host.len() - s.len()..].eq_ignore_ascii_case(s)
            })
    }
}

/// Whether a host name can only mean this machine: `localhost`, `*.localhost`, a loopback
/// address.
pub fn is_local_name(host: &str) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.');
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The host part of an authority, without port and brackets.
pub fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

/// Whether the address is a specific one (not 0.0.0.0 or ::) worth admitting as a host name.
pub fn bound_host(ip: IpAddr) -> Option<String> {
    (!ip.is_unspecified()).then(|| ip.to_string())
}

/// The host of a URL such as `https://mall.example:8443/x` (`mall.example`), to pass in `hosts`.
pub fn host_of_url(url: &str) -> Option<String> {
    url::Url::parse(url).ok()?.host_str().map(|h| {
        h.trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase()
    })
}

/// The caller as decided, and the TCP peer it was decided from.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    /// The client's address; the peer's when no usable one was forwarded.
    pub ip: IpAddr,
    pub peer: IpAddr,
    /// Set when a trusted proxy's forwarding headers name no usable client (or two that
    /// disagree): the caller is then unknown, and the cert endpoint refuses it (403).
    pub unusable: Option<&'static str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_hosts_admit_loopback_localhost_subdomains_and_the_names_given() {
        let hosts = ServedHosts::new(["sim.qa.example", ".corp.example", "[2001:db8::1]"]);
        for ok in [
            "localhost:8080",
            "127.0.0.1",
            "[::1]:8443",
            "j01.benecafe.localhost:8443",
            "SIM.QA.EXAMPLE",
            "a.corp.example",
            "[2001:db8::1]:8443",
        ] {
            assert!(hosts.admits(ok), "{ok}");
        }
        for no in [
            "evil.example",
            "localhost.evil.example",
            "corp.example",
            "10.0.0.1",
        ] {
            assert!(!hosts.admits(no), "{no}");
        }
        assert!(
            hosts.admits("127.0.0.2:8443"),
            "every loopback literal is this machine"
        );
        assert!(ServedHosts::new(["*"]).admits("anything.example"));
    }
}
