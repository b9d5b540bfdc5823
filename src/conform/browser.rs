//! A browser, simulated server-side, for the conformance kit and `deliver`: it posts the GATE
//! form as a member's browser would (the same fields, `application/x-www-form-urlencoded`),
//! keeps a cookie jar, and follows redirects only while they stay on the partner (an address
//! nobody configured is never requested).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// What the partner answered to one GATE post.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Delivery {
    /// The status of the answer to the post itself (0: none came).
    pub status: u16,
    /// Milliseconds from the start of the post to its answer's status line, or to the failure.
    pub ms: u64,
    /// The `CUS_URL` the posted GATE carried (none when the vendor gets none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cus_url: Option<String>,
    /// Its `Location`, when it redirected.
    pub location: Option<String>,
    /// The names of the cookies it set.
    pub set_cookies: Vec<String>,
    /// The redirects followed on the partner, and the status they ended with.
    pub redirects: Vec<String>,
    pub final_status: u16,
    /// Why nothing could be posted (connection refused, TLS, timeout), or why the answer did
    /// not end (its body still coming at the deadline).
    pub error: Option<String>,
}

impl Delivery {
    /// Whether the partner answered with a server error, or not at all or not completely
    /// (refused, closed, its answer unfinished at the deadline): then no cert call is coming
    /// (one made while it answered is already seen), and a case waits only the short grace.
    pub fn broke_off(&self) -> bool {
        self.error.is_some() || self.status == 0 || self.status >= 500 || self.final_status >= 500
    }
}

/// One member's browser: a cookie jar, and a client for each request (a partner's server may
/// close connections after each answer; a fresh client never meets a stale one). Every
/// exchange (connect, status line, headers and the whole body, and the redirects a post is
/// followed through) has one deadline, `timeout` after it starts: a partner that trickles its
/// answer cannot hold a run longer.
pub struct Browser {
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Duration,
    /// name → value; a cookie set again replaces the old value.
    pub jar: BTreeMap<String, String>,
}

/// The most of an answer's body read (the rest is not waited for).
const MAX_BODY: usize = 1 << 20;

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
    /// partner's origin (at most five), all within one deadline.
    pub async fn post_form(&mut self, url: &str, fields: &[(&str, String)]) -> Delivery {
        let started = Instant::now();
        let mut delivery = Delivery {
            cus_url: fields
                .iter()
                .find(|(k, _)| *k == "CUS_URL")
                .map(|(_, v)| v.clone()),
            ..Delivery::default()
        };
        let deadline = started + self.timeout;
        let exchange = self.exchange(url, fields, &mut delivery, started);
        if tokio::time::timeout_at(deadline, exchange).await.is_err() {
            let secs = self.timeout.as_secs_f64();
            delivery.error = Some(match delivery.status {
                0 => format!("no answer within {secs} s"),
                _ => format!("its answer did not end within {secs} s"),
            });
        }
        if delivery.status == 0 {
            delivery.ms = millis(started);
        }
        delivery
    }

    async fn exchange(
        &mut self,
        url: &str,
        fields: &[(&str, String)],
        delivery: &mut Delivery,
        started: Instant,
    ) {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let req = self
            .with_cookies(self.client().post(url))
            .insert_header(("content-type", "application/x-www-form-urlencoded"));
        let mut res = match req.send_body(body).await {
            Ok(res) => res,
            Err(e) => {
                delivery.error = Some(e.to_string());
                return;
            }
        };
        delivery.ms = millis(started);
        delivery.status = res.status().as_u16();
        delivery.final_status = delivery.status;
        delivery.location = location(&res);
        delivery.set_cookies = self.take_cookies(&res);
        let _ = res.body().limit(MAX_BODY).await;
        let Ok(origin) = url::Url::parse(url) else {
            return;
        };
        let mut next = delivery.location.clone();
        for _ in 0..5 {
            let Some(to) = next.take() else { break };
            let Ok(target) = origin.join(&to) else { break };
            delivery.redirects.push(target.to_string());
            if target.origin() != origin.origin() {
                break; // off the partner: recorded, not followed
            }
            let req = self.with_cookies(self.client().get(target.as_str()));
            match req.send().await {
                Ok(mut res) => {
                    self.take_cookies(&res);
                    delivery.final_status = res.status().as_u16();
                    next = location(&res);
                    let _ = res.body().limit(MAX_BODY).await;
                }
                Err(e) => {
                    delivery.error = Some(e.to_string());
                    break;
                }
            }
        }
    }

    /// A GET on the partner with this browser's cookies (its `whoamiUrl`): status and body (at
    /// most 64 KB), within one deadline.
    pub async fn get(&mut self, url: &str) -> Result<(u16, String), String> {
        let req = self.with_cookies(self.client().get(url));
        let timeout = self.timeout;
        let exchange = async {
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
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "no whole answer within {} s",
                    timeout.as_secs_f64()
                ))
            })
    }

    fn with_cookies(&self, req: awc::ClientRequest) -> awc::ClientRequest {
        match self.cookie_header() {
            Some(cookie) => req.insert_header(("cookie", cookie)),
            None => req,
        }
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

fn location<S>(res: &awc::ClientResponse<S>) -> Option<String> {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn millis(since: Instant) -> u64 {
    since.elapsed().as_millis().try_into().unwrap_or(u64::MAX)
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
