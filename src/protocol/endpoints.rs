//! Every URL the simulator gives out, built in one place on `url::Url`: the mall's domain a
//! company's GATE carries (`CUS_URL`), its CHECKURL and POPUPURL, the cert endpoint's URL, the
//! pages, and where a vendor's GATE form posts. Handlers never glue strings into URLs.

use url::Url;

use crate::domain::records::Company;
use crate::domain::sandbox::SandboxId;
use crate::protocol::{CERT_PATH, CHECK_PATH, SANDBOX_PATH};

/// The public bases, no trailing slash.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// The simulator's public HTTPS base (`--public-url`): `CUS_URL` of a company without its own.
    public: Url,
    /// The public plain-HTTP base (`--public-http-url`): the pages a browser opens.
    public_http: Url,
    /// The host of `public`, for comparisons on the hot path.
    public_host: String,
}

impl Endpoints {
    pub fn new(public_url: &str, public_http_url: &str) -> Result<Self, url::ParseError> {
        let public = Url::parse(public_url)?;
        let public_host = public
            .host_str()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        Ok(Endpoints {
            public,
            public_http: Url::parse(public_http_url)?,
            public_host,
        })
    }

    /// The host of the simulator's own `CUS_URL`.
    pub fn public_host(&self) -> &str {
        &self.public_host
    }

    /// The simulator's own `CUS_URL`, no trailing slash.
    pub fn public_url(&self) -> String {
        base(&self.public)
    }

    /// The pages' base, no trailing slash.
    pub fn public_http_url(&self) -> String {
        base(&self.public_http)
    }

    /// `CUS_URL` for a member of `company`: the company's own mall domain, or the simulator's.
    pub fn cus_url(&self, company: &Company) -> String {
        company
            .cus_url
            .as_deref()
            .and_then(|u| self.mall_url(u))
            .map(|u| base(&u))
            .unwrap_or_else(|| self.public_url())
    }

    /// A company's mall domain as the simulator serves it: its `cusUrl`, on the port of the
    /// public URL (the HTTPS listener's, or `--public-url`'s) when the `cusUrl` names none. So
    /// `https://aa5.benecafe.localhost` follows `--https-addr`, as the simulator's own domain
    /// does, while `https://aa5.benecafe.localhost:9443` stays where it says.
    pub fn mall_url(&self, cus_url: &str) -> Option<Url> {
        let mut url = Url::parse(cus_url).ok()?;
        if !names_port(cus_url) {
            url.set_port(self.public.port()).ok()?;
        }
        Some(url)
    }

    /// The port a `cusUrl` names when the simulator does not answer there: neither the HTTPS
    /// listener's port `listener` nor the public URL's (a proxy's, in front).
    pub fn unserved_port(&self, cus_url: &str, listener: u16) -> Option<u16> {
        let port = Url::parse(cus_url).ok()?.port_or_known_default()?;
        let public = self.public.port_or_known_default();
        (names_port(cus_url) && port != listener && Some(port) != public).then_some(port)
    }

    /// CHECKURL on the company's mall domain.
    pub fn check_url(&self, company: &Company) -> String {
        format!("{}{CHECK_PATH}", self.cus_url(company))
    }

    /// CHECKURL and POPUPURL of a GATE issued in `sandbox` (`None`: the base): the sandbox in
    /// their path, `/sb/<id>/…`, on the same origin, so a partner appending its parameters to
    /// CHECKURL asks that sandbox's members.
    pub fn check_and_popup_urls(
        &self,
        company: &Company,
        sandbox: Option<SandboxId>,
    ) -> (String, String) {
        let (check, popup) = (self.check_url(company), self.popup_url(company));
        let Some(id) = sandbox else {
            return (check, popup);
        };
        let inside = |url: String| match Url::parse(&url) {
            Ok(mut u) => {
                let path = format!("{SANDBOX_PATH}/{id}{}", u.path());
                u.set_path(&path);
                u.to_string()
            }
            Err(_) => url,
        };
        (inside(check), inside(popup))
    }

    /// POPUPURL: the point page on the company's mall domain (the pages' base for a company
    /// without one); it shows the member of the mall session that opens it, so the URL carries
    /// no member key.
    pub fn popup_url(&self, company: &Company) -> String {
        match company.cus_url {
            Some(_) => format!("{}/mall/point", self.cus_url(company)),
            None => self.page("/mall/point"),
        }
    }

    /// The cert endpoint under a mall domain.
    pub fn cert_url(&self, cus_url: &str, token: &str) -> String {
        let mut url = Url::parse(cus_url).unwrap_or_else(|_| self.public.clone());
        url.set_path(CERT_PATH);
        url.query_pairs_mut().append_pair("otpTokenp", token);
        url.into()
    }

    /// A page of the simulator, absolute.
    pub fn page(&self, path: &str) -> String {
        format!("{}{path}", self.public_http_url())
    }

    /// Where a vendor's GATE form posts: (absolute URL, form action). A path is a page of the
    /// simulator itself (the built-in partner), posted to as a path.
    pub fn gate(&self, gate_url: &str) -> (String, String) {
        if gate_url.starts_with('/') {
            (self.page(gate_url), gate_url.to_owned())
        } else {
            (gate_url.to_owned(), gate_url.to_owned())
        }
    }

    /// Whether `url` is on an origin of this simulator (its public bases or a company's mall
    /// domain; scheme, host and port alike): where a redirect after login may lead.
    pub fn is_own(&self, url: &Url, companies: &[&Company]) -> bool {
        let same = |base: &Url| base.origin() == url.origin();
        same(&self.public)
            || same(&self.public_http)
            || companies.iter().any(|c| {
                c.cus_url
                    .as_deref()
                    .and_then(|u| self.mall_url(u))
                    .is_some_and(|u| same(&u))
            })
    }
}

/// A URL's origin and path without the trailing slash.
fn base(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}

/// Whether a URL names a port, even the scheme's default one (`url` forgets `:443`).
fn names_port(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match host_port.rsplit_once(']') {
        Some((_, after)) => after.starts_with(':'),
        None => host_port.contains(':'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn company(cus_url: Option<&str>) -> Company {
        Company {
            code: "J01".into(),
            name: "n".into(),
            point_name: "p".into(),
            mobile_point_name: "p".into(),
            point_name_code: "c".into(),
            cus_url: cus_url.map(str::to_owned),
            auto_join: false,
        }
    }

    #[test]
    fn a_mall_domain_without_a_port_follows_the_public_port() {
        let e = Endpoints::new("https://localhost:21443", "http://127.0.0.1:8080").unwrap();
        let own = company(Some("https://aa5.benecafe.localhost"));
        assert_eq!(e.cus_url(&own), "https://aa5.benecafe.localhost:21443");
        assert_eq!(
            e.check_url(&own),
            "https://aa5.benecafe.localhost:21443/sso/vendorUserCheck"
        );
        assert_eq!(
            e.popup_url(&own),
            "https://aa5.benecafe.localhost:21443/mall/point"
        );
        // A port named stays, even the default one.
        for (url, kept) in [
            (
                "https://aa5.benecafe.localhost:9443/",
                "https://aa5.benecafe.localhost:9443",
            ),
            (
                "https://aa5.benecafe.localhost:443",
                "https://aa5.benecafe.localhost",
            ),
            ("https://[::1]:21443", "https://[::1]:21443"),
        ] {
            assert_eq!(e.cus_url(&company(Some(url))), kept, "{url}");
        }
        assert_eq!(
            e.cus_url(&company(Some("https://[::1]"))),
            "https://[::1]:21443"
        );
        // Behind a proxy on 443, the public URL has no port, and neither has the mall domain.
        let proxied = Endpoints::new("https://sim.qa.example", "http://127.0.0.1:8080").unwrap();
        assert_eq!(proxied.cus_url(&own), "https://aa5.benecafe.localhost");
        // Where the simulator does not answer.
        assert_eq!(
            e.unserved_port("https://aa5.benecafe.localhost:8443", 21443),
            Some(8443)
        );
        assert_eq!(
            e.unserved_port("https://aa5.benecafe.localhost:443", 21443),
            Some(443)
        );
        assert_eq!(
            e.unserved_port("https://aa5.benecafe.localhost", 21443),
            None
        );
        assert_eq!(
            e.unserved_port("https://aa5.benecafe.localhost:21443", 21443),
            None
        );
        assert_eq!(proxied.unserved_port("https://a.example:443", 8443), None);
        assert_eq!(proxied.unserved_port("https://a.example:8443", 8443), None);
        let url = |u: &str| Url::parse(u).unwrap();
        assert!(e.is_own(&url("https://aa5.benecafe.localhost:21443/mall"), &[&own]));
        assert!(!e.is_own(&url("https://aa5.benecafe.localhost:8443/mall"), &[&own]));
    }

    #[test]
    fn a_company_with_its_own_domain_gets_it_in_every_mall_url() {
        let e = Endpoints::new("https://localhost:8443", "http://localhost:8080").unwrap();
        let own = company(Some("https://j01.benecafe.localhost:8443/"));
        assert_eq!(e.cus_url(&own), "https://j01.benecafe.localhost:8443");
        assert_eq!(
            e.check_url(&own),
            "https://j01.benecafe.localhost:8443/sso/vendorUserCheck"
        );
        assert_eq!(
            e.popup_url(&own),
            "https://j01.benecafe.localhost:8443/mall/point"
        );
        assert_eq!(e.cus_url(&company(None)), "https://localhost:8443");
        assert_eq!(
            e.popup_url(&company(None)),
            "http://localhost:8080/mall/point"
        );
        assert_eq!(
            e.cert_url("https://localhost:8443", "a b"),
            "https://localhost:8443/sso/vendorUserCertTonken?otpTokenp=a+b"
        );
        assert_eq!(
            e.gate("/_sim/partner/gate").0,
            "http://localhost:8080/_sim/partner/gate"
        );
    }
}
