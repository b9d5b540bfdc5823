//! A browser, simulated server-side, for the conformance kit and `deliver`: it posts the GATE
//! form as a member's browser would (the same fields, `application/x-www-form-urlencoded`),
//! keeps a cookie jar, and follows redirects only while they stay on the partner (an address
//! nobody configured is never requested).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

/// What the partner answered to one GATE post.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// The status of the answer to the post itself.
    pub status: u16,
    /// Its `Location`, when it redirected.
    pub location: Option<String>,
    /// The names of the cookies it set.
    pub set_cookies: Vec<String>,
    /// The redirects followed on the partner, and the status they ended with.
    pub redirects: Vec<String>,
    pub final_status: u16,
    /// Why nothing could be posted (connection refused, TLS, timeout).
    pub error: Option<String>,
}

/// One member's browser: a cookie jar, and a client for each request (a partner's server may
/// close connections after each answer; a fresh client never meets a stale one).
pub struct Browser {
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Duration,
    /// name → value; a cookie set again replaces the old value.
    pub jar: BTreeMap<String, String>,
}

impl Browser {
    /// A browser that trusts `trusted` (the simulator's CA) for partners served over HTTPS.
    pub fn new(trusted: &[rustls::pki_types::CertificateDer<'static>], timeout: Duration) -> Self {
        Browser {
            tls: client_config(trusted).ok().map(Arc::new),
            timeout,
            jar: BTreeMap::new(),
        }
    }

    fn client(&self) -> awc::Client {
        let connector = match &self.tls {
            Some(tls) => awc::Connector::new().rustls_0_23(tls.clone()),
            None => awc::Connector::new(),
        };
        awc::Client::builder()
            .connector(connector)
            .disable_redirects()
            .timeout(self.timeout)
            .finish()
    }

    /// Posts `fields` to `url` as the self-posting page would, then follows redirects on the
    /// partner's origin (at most five).
    pub async fn post_form(&mut self, url: &str, fields: &[(&str, String)]) -> Delivery {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let mut delivery = Delivery::default();
        let req = self
            .client()
            .post(url)
            .insert_header(("content-type", "application/x-www-form-urlencoded"));
        let res = self.send(req, Some(body)).await;
        let (status, location, names) = match res {
            Ok(r) => r,
            Err(e) => {
                delivery.error = Some(e);
                return delivery;
            }
        };
        delivery.status = status;
        delivery.final_status = status;
        delivery.location = location.clone();
        delivery.set_cookies = names;
        let Ok(origin) = url::Url::parse(url) else {
            return delivery;
        };
        let mut next = location;
        for _ in 0..5 {
            let Some(to) = next.take() else { break };
            let Ok(target) = origin.join(&to) else { break };
            delivery.redirects.push(target.to_string());
            if target.origin() != origin.origin() {
                break; // off the partner: recorded, not followed
            }
            match self.send(self.client().get(target.as_str()), None).await {
                Ok((status, location, _)) => {
                    delivery.final_status = status;
                    next = location;
                }
                Err(e) => {
                    delivery.error = Some(e);
                    break;
                }
            }
        }
        delivery
    }

    /// A GET on the partner with this browser's cookies (its `whoamiUrl`): status and body.
    pub async fn get(&mut self, url: &str) -> Result<(u16, String), String> {
        let mut req = self.client().get(url);
        if let Some(cookie) = self.cookie_header() {
            req = req.insert_header(("cookie", cookie));
        }
        let mut res = req.send().await.map_err(|e| e.to_string())?;
        self.take_cookies(&res);
        let body = res
            .body()
            .limit(64 * 1024)
            .await
            .map_err(|e| e.to_string())?;
        Ok((
            res.status().as_u16(),
            String::from_utf8_lossy(&body).into_owned(),
        ))
    }

    async fn send(
        &mut self,
        mut req: awc::ClientRequest,
        body: Option<String>,
    ) -> Result<(u16, Option<String>, Vec<String>), String> {
        if let Some(cookie) = self.cookie_header() {
            req = req.insert_header(("cookie", cookie));
        }
        let res = match body {
            Some(b) => req.send_body(b).await,
            None => req.send().await,
        };
        let mut res = res.map_err(|e| e.to_string())?;
        let names = self.take_cookies(&res);
        let _ = res.body().limit(1 << 20).await;
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok((res.status().as_u16(), location, names))
    }

    fn cookie_header(&self) -> Option<String> {
        (!self.jar.is_empty()).then(|| {
            self.jar
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// Stores the cookies an answer sets (a cookie set to expire is removed); their names.
    fn take_cookies<S>(&mut self, res: &awc::ClientResponse<S>) -> Vec<String> {
        let mut names = Vec::new();
        for value in res.headers().get_all("set-cookie") {
            let Ok(text) = value.to_str() else { continue };
            let Ok(cookie) = actix_web::cookie::Cookie::parse(text.to_owned()) else {
                continue;
            };
            let expired = cookie
                .max_age()
                .is_some_and(|a| a.is_zero() || a.is_negative())
                || cookie.value().is_empty();
            names.push(cookie.name().to_owned());
            if expired {
                self.jar.remove(cookie.name());
            } else {
                self.jar
                    .insert(cookie.name().to_owned(), cookie.value().to_owned());
            }
        }
        names
    }
}

/// A client configuration that trusts exactly the given certificates (the built-in partner and
/// the tests use it to call the cert endpoint as a partner would).
pub fn client_config(
    trusted: &[rustls::pki_types::CertificateDer<'static>],
) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in trusted {
        roots.add(cert.clone())?;
    }
    Ok(
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}
