//! Every URL the simulator gives out, built in one place on `url::Url`: the mall's domain a
//! company's GATE carries (`CUS_URL`), its CHECKURL and POPUPURL, the cert endpoint's URL, the
//! pages, and where a vendor's GATE form posts. Handlers never glue strings into URLs.

use url::Url;

use crate::domain::records::Company;
use crate::protocol::{CERT_PATH, CHECK_PATH};

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
            .and_then(|u| Url::parse(u).ok())
            .map(|u| base(&u))
            .unwrap_or_else(|| self.public_url())
    }

    /// CHECKURL on the company's mall domain.
    pub fn check_url(&self, company: &Company) -> String {
        format!("{}{CHECK_PATH}", self.cus_url(company))
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
                    .and_then(|u| Url::parse(u).ok())
                    .is_some_and(|u| same(&u))
            })
    }
}

/// A URL's origin and path without the trailing slash.
fn base(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
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
