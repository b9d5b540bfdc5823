//! The partner conformance kit: the simulator tests a partner's GATE the way the mall's
//! onboarding would. It posts GATE forms to the vendor's registered GATE URL from simulated
//! browsers ([`browser`]), watches the cert calls that follow through the journal, and judges
//! each case of [`CASES`]; [`report`] writes the result for a terminal, a browser and a CI
//! server. The GATE URL is always the one the fixtures name: the simulator never posts to an
//! address nobody configured.
//!
//! Timing: a call the case expects is waited for up to `--timeout-seconds`; where a case
//! expects no call, the partner's answer plus a grace of at most one second ends the wait (a
//! partner that calls the mall while answering the GATE post, as they do, has called by then).

pub mod browser;
pub mod report;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use self::browser::{Browser, Delivery};
use crate::gate::{ConsentChoice, Gate, GateRequest, Source};
use crate::journal::{Event, EventKind};
use crate::state::AppState;

/// The address of the spoofed mall domain: it reaches the simulator (a listener of its own, so
/// the call is seen) but is no mall's domain.
pub const DECOY_IP: &str = "127.0.0.2";

/// The cases, by their fixed ids (JUnit `testcase` names).
pub const CASES: [&str; 11] = [
    "first-visit",
    "later-visit",
    "double-post",
    "expired-token",
    "no-consent",
    "direct-url",
    "baro-item",
    "session-reset",
    "encrypted-fields",
    "foreign-vendor",
    "spoofed-cus-url",
];

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Skip,
}

/// A cert call behind a case's judgement.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallSeen {
    /// The journal event's id.
    pub id: u64,
    pub result_code: String,
    pub tls: bool,
    pub host: Option<String>,
    pub reason: String,
}

/// One case's result: what was expected, what happened, and the evidence.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseReport {
    pub id: &'static str,
    pub status: Status,
    pub expected: &'static str,
    pub happened: String,
    /// Why a failure matters, for the security cases.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why_it_matters: Option<&'static str>,
    pub calls: Vec<CallSeen>,
    pub deliveries: Vec<Delivery>,
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub vndr_no: String,
    pub gate_url: String,
    pub cust_id: String,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub seconds: f64,
    pub cases: Vec<CaseReport>,
}

impl Report {
    /// The exit code of `conform`: 0 when every case passed (or was skipped), 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.failed > 0)
    }
}

/// What a run needs to know.
struct Run<'a> {
    state: &'a AppState,
    vendor: String,
    gate_url: String,
    member: (String, String),
    other: Option<(String, String)>,
    whoami: Option<String>,
    encrypted: bool,
    timeout: Duration,
    decoy: String,
    trusted: Vec<rustls::pki_types::CertificateDer<'static>>,
}

/// Runs every case against `vndr_no`'s GATE. `Err` says in one line why it could not run.
pub async fn run(
    state: &AppState,
    vndr_no: &str,
    member: Option<&str>,
    timeout: Duration,
) -> Result<Report, String> {
    let started = Instant::now();
    let dir = state.store.directory().await.map_err(|e| e.to_string())?;
    let (_, vendor) = dir
        .vendor(vndr_no)
        .ok_or_else(|| format!("no vendor {vndr_no} in the fixtures"))?;
    let gate_url = state.config.endpoints.gate(&vendor.vendor.gate_url).0;
    // Members of companies on the simulator's own domain first: a company's own mall domain
    // (cusUrl) may not resolve on the partner's machine.
    let own_domain = |m: &crate::fixtures::Member| {
        dir.company(&m.company)
            .is_some_and(|(_, c)| c.cus_url.is_none())
    };
    let mut active: Vec<_> = dir.members().filter(|m| m.active).collect();
    active.sort_by_key(|m| (!own_domain(m), m.customer_id.clone()));
    let chosen = match member {
        Some(id) => dir
            .member(id)
            .map(|(_, m)| m)
            .filter(|m| m.active)
            .ok_or_else(|| format!("no active member {id}"))?,
        None => active
            .first()
            .ok_or_else(|| "no active member in the fixtures".to_owned())?,
    };
    let other = active
        .iter()
        .find(|m| m.customer_id != chosen.customer_id)
        .map(|m| (m.company.clone(), m.customer_id.clone()));
    reachable(&gate_url, timeout).await?;
    // Some systems (macOS) have only 127.0.0.1 on loopback: then that one case is skipped.
    let decoy = crate::startup::decoy(state).ok().map(|(server, addr)| {
        let handle = server.handle();
        actix_web::rt::spawn(server);
        (handle, addr)
    });
    let run = Run {
        state,
        vendor: vndr_no.to_owned(),
        gate_url: gate_url.clone(),
        member: (chosen.company.clone(), chosen.customer_id.clone()),
        other,
        whoami: vendor.vendor.whoami_url.clone(),
        encrypted: vendor.vendor.param_encryption.cipher().is_some(),
        timeout,
        decoy: decoy
            .as_ref()
            .map(|(_, addr)| format!("https://{addr}"))
            .unwrap_or_default(),
        trusted: state.config.tls_chain.clone(),
    };
    drop(dir);
    let mut cases = Vec::with_capacity(CASES.len());
    for id in CASES {
        cases.push(run.case(id).await);
    }
    if let Some((handle, _)) = decoy {
        handle.stop(false).await;
    }
    let count = |s| cases.iter().filter(|c| c.status == s).count();
    Ok(Report {
        vndr_no: vndr_no.to_owned(),
        gate_url,
        cust_id: run.member.1.clone(),
        passed: count(Status::Pass),
        failed: count(Status::Fail),
        skipped: count(Status::Skip),
        seconds: started.elapsed().as_secs_f64(),
        cases,
    })
}

/// What `POST /_sim/api/gate` with `"deliver": true` answers beside the GATE: the partner's
/// answer to the post (made server-side, as a browser would) and its cert calls with the token
/// within `timeout`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivered {
    #[serde(flatten)]
    pub answer: Delivery,
    pub cert_calls: Vec<CallSeen>,
}

/// Posts a GATE to its vendor's GATE URL and watches the cert calls that follow.
pub async fn deliver(state: &AppState, gate: &Gate, timeout: Duration) -> Delivered {
    let run = Run {
        state,
        vendor: String::new(),
        gate_url: gate.gate_url.clone(),
        member: (String::new(), String::new()),
        other: None,
        whoami: None,
        encrypted: false,
        timeout,
        decoy: String::new(),
        trusted: state.config.tls_chain.clone(),
    };
    let after = run.marker().await;
    let mut b = run.browser();
    let answer = run.post(&mut b, gate).await;
    let cert_calls = match &gate.token {
        Some(t) if answer.error.is_none() => run.wait_calls(after, &[t.as_str()], 1).await,
        _ => Vec::new(),
    };
    Delivered { answer, cert_calls }
}

/// Whether anything listens at the GATE URL's host and port.
async fn reachable(gate_url: &str, timeout: Duration) -> Result<(), String> {
    let url = url::Url::parse(gate_url).map_err(|e| format!("GATE URL {gate_url}: {e}"))?;
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    let connect = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port));
    match actix_web::rt::time::timeout(timeout, connect).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("GATE URL {gate_url} is unreachable: {e}")),
        Err(_) => Err(format!(
            "GATE URL {gate_url} did not answer within {timeout:?}"
        )),
    }
}

/// The outcome of one case while it is judged.
struct Verdict {
    status: Status,
    happened: String,
    calls: Vec<CallSeen>,
    deliveries: Vec<Delivery>,
}

fn pass(happened: impl Into<String>) -> Verdict {
    verdict(Status::Pass, happened)
}

fn fail(happened: impl Into<String>) -> Verdict {
    verdict(Status::Fail, happened)
}

fn skip(happened: impl Into<String>) -> Verdict {
    verdict(Status::Skip, happened)
}

fn verdict(status: Status, happened: impl Into<String>) -> Verdict {
    Verdict {
        status,
        happened: happened.into(),
        calls: Vec::new(),
        deliveries: Vec::new(),
    }
}

impl Verdict {
    fn with(mut self, calls: Vec<CallSeen>, deliveries: Vec<Delivery>) -> Self {
        self.calls = calls;
        self.deliveries = deliveries;
        self
    }
}

/// What each case expects, in a sentence.
fn expectation(id: &str) -> &'static str {
    match id {
        "first-visit" => "member fields and a token: exactly one cert call with that token, over HTTPS, from an allowed IP, within the timeout, answered OK; the GATE post answered without a 5xx",
        "later-visit" => "consent given, member fields not sent: the partner still calls the cert endpoint and gets OK",
        "double-post" => "the same GATE posted twice: any second cert call gets 404, and the second post is answered without a 5xx",
        "expired-token" => "a token expired before the post: the partner's cert call gets 401 and its answer is not a 5xx",
        "no-consent" => "no member fields and no token: no cert call, and an answer without a 5xx",
        "direct-url" => "DirectFlag=Y with a DirectURL: an answer without a 5xx (where it redirects is reported)",
        "baro-item" => "a BaroItem: an answer without a 5xx (where it redirects is reported)",
        "session-reset" => "two members' GATEs through one browser: the partner replaces its session on the second (and its whoamiUrl shows the second member)",
        "encrypted-fields" => "parameter encryption: the partner decrypts OTP_TOKEN and redeems the plain token",
        "foreign-vendor" => "a valid token of another vendor: the partner does not log that member in (the cert answer's vndrNo is not its own)",
        _ => "a CUS_URL naming a host that is no mall domain: the partner makes no call to it",
    }
}

impl Run<'_> {
    async fn case(&self, id: &'static str) -> CaseReport {
        let v = match id {
            "first-visit" => self.first_visit().await,
            "later-visit" => self.later_visit().await,
            "double-post" => self.double_post().await,
            "expired-token" => self.expired_token().await,
            "no-consent" => self.no_consent().await,
            "direct-url" => {
                self.redirecting(id, Some("/conform/detail?goods=1"), None)
                    .await
            }
            "baro-item" => self.redirecting(id, None, Some("CONFORM-0001")).await,
            "session-reset" => self.session_reset().await,
            "encrypted-fields" => self.encrypted_fields().await,
            "foreign-vendor" => self.foreign_vendor().await,
            _ => self.spoofed_cus_url().await,
        };
        let v = v.unwrap_or_else(|e| fail(format!("the case could not be run: {e}")));
        CaseReport {
            id,
            status: v.status,
            expected: expectation(id),
            happened: v.happened,
            why_it_matters: (id == "spoofed-cus-url").then_some(
                "CUS_URL travels through the member's browser: a partner that calls whatever arrives can be made to send its tokens, and so its members' data, to any server",
            ),
            calls: v.calls,
            deliveries: v.deliveries,
        }
    }

    fn browser(&self) -> Browser {
        Browser::new(&self.trusted, self.timeout)
    }

    async fn gate(
        &self,
        member: &(String, String),
        edit: impl FnOnce(&mut GateRequest),
    ) -> Result<Gate, String> {
        let mut req = GateRequest {
            company: member.0.clone(),
            customer_id: member.1.clone(),
            vendor: self.vendor.clone(),
            direct_url: None,
            baro_item: None,
            receipt_yn: None,
            ttl_seconds: None,
            force_member_fields: false,
            consent: ConsentChoice::Agree,
            source: Source::Conform,
            edits: Default::default(),
        };
        edit(&mut req);
        crate::gate::issue(self.state, req)
            .await
            .map_err(|e| e.to_string())
    }

    async fn marker(&self) -> u64 {
        self.journal().await.last().map_or(0, |e| e.id)
    }

    async fn journal(&self) -> Vec<Arc<Event>> {
        self.state.store.journal().await.unwrap_or_default()
    }

    /// Cert calls after `after` made with one of `tokens` (or every cert call, with none).
    async fn calls(&self, after: u64, tokens: &[&str]) -> Vec<CallSeen> {
        self.journal()
            .await
            .iter()
            .filter(|e| e.id > after)
            .filter_map(|e| match &e.kind {
                EventKind::Cert {
                    otp_token,
                    result_code,
                    tls,
                    host,
                    reason,
                    ..
                } if tokens.is_empty()
                    || otp_token.as_deref().is_some_and(|t| tokens.contains(&t)) =>
                {
                    Some(CallSeen {
                        id: e.id,
                        result_code: result_code.clone(),
                        tls: *tls,
                        host: host.clone(),
                        reason: reason.to_string(),
                    })
                }
                _ => None,
            })
            .collect()
    }

    /// Waits for at least `want` calls (up to the timeout), then a short grace for more.
    async fn wait_calls(&self, after: u64, tokens: &[&str], want: usize) -> Vec<CallSeen> {
        let deadline = Instant::now() + self.timeout;
        while want > 0 && Instant::now() < deadline {
            if self.calls(after, tokens).await.len() >= want {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        actix_web::rt::time::sleep(self.grace()).await;
        self.calls(after, tokens).await
    }

    fn grace(&self) -> Duration {
        self.timeout.min(Duration::from_millis(300))
    }

    async fn post(&self, browser: &mut Browser, gate: &Gate) -> Delivery {
        browser.post_form(&self.gate_url, &gate.fields).await
    }

    /// Exactly one OK call over HTTPS with the token, and no 5xx.
    fn judge_one_ok(&self, calls: &[CallSeen], d: &Delivery) -> Verdict {
        if let Some(e) = &d.error {
            return fail(format!("the GATE post failed: {e}"));
        }
        let v = match calls {
            [] => fail(format!(
                "no cert call within {} s",
                self.timeout.as_secs_f64()
            )),
            [c] if !c.tls => fail(
                "the partner called the cert endpoint over plain HTTP: the mall accepts HTTPS only",
            ),
            [c] if c.result_code == "403" => fail(format!(
                "the partner called from an address not in the vendor's allowedIps ({})",
                c.reason
            )),
            [c] if c.result_code != "OK" => fail(format!(
                "the cert call got {} ({})",
                c.result_code, c.reason
            )),
            [_] if d.status >= 500 || d.final_status >= 500 => fail(format!(
                "the partner answered {} to the GATE post",
                d.status.max(d.final_status)
            )),
            [_] => pass(format!(
                "one cert call, OK over HTTPS; the GATE post answered {}",
                d.status
            )),
            many => fail(format!(
                "the partner called the cert endpoint {} times with one token ({})",
                many.len(),
                many.iter()
                    .map(|c| c.result_code.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
        v.with(calls.to_vec(), vec![d.clone()])
    }

    async fn first_visit(&self) -> Result<Verdict, String> {
        let gate = self
            .gate(&self.member, |r| r.force_member_fields = true)
            .await?;
        let token = plain_token(&gate)?;
        let after = self.marker().await;
        let mut b = self.browser();
        let d = self.post(&mut b, &gate).await;
        let calls = self.wait_calls(after, &[&token], 1).await;
        Ok(self.judge_one_ok(&calls, &d))
    }

    async fn later_visit(&self) -> Result<Verdict, String> {
        // Delivered once (first-visit), unchanged since: no member fields now.
        let gate = self.gate(&self.member, |_| {}).await?;
        if gate.fields.iter().any(|(k, _)| *k == "CFM_CUS_ID") {
            return Err("the member fields were sent again".into());
        }
        let token = plain_token(&gate)?;
        let after = self.marker().await;
        let mut b = self.browser();
        let d = self.post(&mut b, &gate).await;
        let calls = self.wait_calls(after, &[&token], 1).await;
        let mut v = self.judge_one_ok(&calls, &d);
        if v.status == Status::Fail && calls.is_empty() {
            v.happened = format!(
                "{}: the partner must not rely on the member fields, which come only on a first visit",
                v.happened
            );
        }
        Ok(v)
    }

    async fn double_post(&self) -> Result<Verdict, String> {
        let gate = self.gate(&self.member, |_| {}).await?;
        let token = plain_token(&gate)?;
        let after = self.marker().await;
        let mut b = self.browser();
        let first = self.post(&mut b, &gate).await;
        self.wait_calls(after, &[&token], 1).await;
        let second = self.post(&mut b, &gate).await;
        let calls = self.wait_calls(after, &[&token], 0).await;
        let later: Vec<&CallSeen> = calls.iter().skip(1).collect();
        let v = if let Some(e) = second.error.as_ref().or(first.error.as_ref()) {
            fail(format!("a GATE post failed: {e}"))
        } else if second.status >= 500 || second.final_status >= 500 {
            fail(format!(
                "the partner answered {} to the second post (its cert call got 404: the token was used)",
                second.status.max(second.final_status)
            ))
        } else if later.iter().any(|c| c.result_code != "404") {
            fail("a second cert call did not get 404")
        } else {
            pass(format!(
                "{} cert call(s) ({}); the second post answered {}",
                calls.len(),
                calls
                    .iter()
                    .map(|c| c.result_code.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                second.status
            ))
        };
        Ok(v.with(calls, vec![first, second]))
    }

    async fn expired_token(&self) -> Result<Verdict, String> {
        let gate = self.gate(&self.member, |_| {}).await?;
        let token = plain_token(&gate)?;
        let parsed = crate::domain::OtpToken::parse(&token).map_err(|_| "bad token".to_owned())?;
        self.state
            .store
            .expire(&parsed, crate::clock::now_ms())
            .await
            .map_err(|e| e.to_string())?;
        let after = self.marker().await;
        let mut b = self.browser();
        let d = self.post(&mut b, &gate).await;
        let calls = self.wait_calls(after, &[&token], 1).await;
        let v = if let Some(e) = &d.error {
            fail(format!("the GATE post failed: {e}"))
        } else if calls.is_empty() {
            fail(format!(
                "no cert call within {} s",
                self.timeout.as_secs_f64()
            ))
        } else if d.status >= 500 || d.final_status >= 500 {
            fail(format!(
                "the partner answered {} when its cert call got 401",
                d.status.max(d.final_status)
            ))
        } else if calls.iter().any(|c| c.result_code != "401") {
            fail("a cert call with the expired token did not get 401")
        } else {
            pass(format!(
                "the cert call got 401; the partner answered {}",
                d.status
            ))
        };
        Ok(v.with(calls, vec![d]))
    }

    async fn no_consent(&self) -> Result<Verdict, String> {
        let gate = self
            .gate(&self.member, |r| r.consent = ConsentChoice::Decline)
            .await;
        let after = self.marker().await;
        let gate = gate?;
        let mut b = self.browser();
        let d = self.post(&mut b, &gate).await;
        let calls = self.wait_calls(after, &[], 0).await;
        // Consent back for the cases after this one.
        self.gate(&self.member, |_| {}).await.ok();
        let v = if let Some(e) = &d.error {
            fail(format!("the GATE post failed: {e}"))
        } else if !calls.is_empty() {
            fail("the partner called the cert endpoint for a visitor without consent (there was no token)")
        } else if d.status >= 500 || d.final_status >= 500 {
            fail(format!(
                "the partner answered {} to an anonymous visitor",
                d.status.max(d.final_status)
            ))
        } else {
            pass(format!("no cert call; the partner answered {}", d.status))
        };
        Ok(v.with(calls, vec![d]))
    }

    async fn redirecting(
        &self,
        id: &str,
        direct_url: Option<&str>,
        baro_item: Option<&str>,
    ) -> Result<Verdict, String> {
        let gate = self
            .gate(&self.member, |r| {
                r.direct_url = direct_url.map(str::to_owned);
                r.baro_item = baro_item.map(str::to_owned);
            })
            .await?;
        let token = plain_token(&gate)?;
        let after = self.marker().await;
        let mut b = self.browser();
        let d = self.post(&mut b, &gate).await;
        let calls = self.wait_calls(after, &[&token], 1).await;
        let to = d
            .location
            .as_deref()
            .map(|l| format!(", redirecting to {l}"))
            .unwrap_or_default();
        let v = if let Some(e) = &d.error {
            fail(format!("the GATE post failed: {e}"))
        } else if d.status >= 500 || d.final_status >= 500 {
            fail(format!(
                "the partner answered {} to a GATE with {id}",
                d.status.max(d.final_status)
            ))
        } else {
            pass(format!("the partner answered {}{to}", d.status))
        };
        Ok(v.with(calls, vec![d]))
    }

    async fn session_reset(&self) -> Result<Verdict, String> {
        let Some(other) = &self.other else {
            return Ok(skip("only one active member in the fixtures"));
        };
        let mut b = self.browser();
        let first = self
            .gate(&self.member, |r| r.force_member_fields = true)
            .await?;
        let d1 = self.post(&mut b, &first).await;
        let before = b.jar.clone();
        let second = self.gate(other, |r| r.force_member_fields = true).await?;
        let d2 = self.post(&mut b, &second).await;
        let changed = d2
            .set_cookies
            .iter()
            .any(|name| before.get(name) != b.jar.get(name));
        let deliveries = vec![d1, d2];
        if let Some(e) = deliveries.iter().find_map(|d| d.error.clone()) {
            return Ok(fail(format!("a GATE post failed: {e}")).with(Vec::new(), deliveries));
        }
        if !changed {
            return Ok(fail(
                "the partner kept its session: no new or cleared session cookie on the second member's GATE (요청시마다 세션정보 삭제후 재세팅)",
            )
            .with(Vec::new(), deliveries));
        }
        let Some(whoami) = &self.whoami else {
            return Ok(pass(
                "a new session cookie on the second GATE (no whoamiUrl to ask who is logged in)",
            )
            .with(Vec::new(), deliveries));
        };
        let v = match b.get(whoami).await {
            Ok((_, body)) if body.contains(&other.1) => pass(format!(
                "a new session, and the whoamiUrl shows {}",
                other.1
            )),
            Ok((status, body)) => fail(format!(
                "after the second member's GATE the whoamiUrl answers {status} '{}', not {}",
                body.trim(),
                other.1
            )),
            Err(e) => fail(format!("the whoamiUrl {whoami} could not be read: {e}")),
        };
        Ok(v.with(Vec::new(), deliveries))
    }

    async fn encrypted_fields(&self) -> Result<Verdict, String> {
        if !self.encrypted {
            return Ok(skip("the vendor has no parameter encryption"));
        }
        let gate = self
            .gate(&self.member, |r| r.force_member_fields = true)
            .await?;
        let plain = plain_token(&gate)?;
        let sent = field(&gate.fields, "OTP_TOKEN").unwrap_or_default();
        let after = self.marker().await;
        let mut b = self.browser();
        let d = self.post(&mut b, &gate).await;
        let calls = self.wait_calls(after, &[&plain], 1).await;
        if calls.is_empty() && !self.calls(after, &[&sent]).await.is_empty() {
            let raw = self.calls(after, &[&sent]).await;
            return Ok(fail("the partner sent OTP_TOKEN as it arrived, still encrypted: decrypt it with the vendor's key and ranNum first").with(raw, vec![d]));
        }
        Ok(self.judge_one_ok(&calls, &d))
    }

    async fn foreign_vendor(&self) -> Result<Verdict, String> {
        let Some(whoami) = &self.whoami else {
            return Ok(skip(
                "the vendor names no whoamiUrl to ask who is logged in",
            ));
        };
        // A vendor of the simulator's own, allowed from the same addresses, for the token.
        let foreign = format!("{}X", self.vendor);
        let state = self.state;
        let tested = self.vendor.clone();
        let made = state
            .store
            .update_directory(|dir| {
                let (_, v) = dir.vendor(&tested).ok_or("vendor removed")?;
                let mut copy = v.vendor.clone();
                copy.vendor_no = foreign.clone();
                copy.name = "conformance: another vendor".into();
                copy.param_encryption = Default::default();
                dir.put_vendor(copy);
                Ok::<_, &str>(())
            })
            .await
            .map_err(|e| e.to_string())?;
        made?;
        let theirs = crate::gate::issue(
            state,
            GateRequest {
                company: self.member.0.clone(),
                customer_id: self.member.1.clone(),
                vendor: foreign.clone(),
                direct_url: None,
                baro_item: None,
                receipt_yn: None,
                ttl_seconds: None,
                force_member_fields: false,
                consent: ConsentChoice::Agree,
                source: Source::Conform,
                edits: Default::default(),
            },
        )
        .await
        .map_err(|e| e.to_string());
        let result = async {
            let theirs = theirs?;
            let token = plain_token(&theirs)?;
            let mut ours = self.gate(&self.member, |_| {}).await?;
            // Encrypted like the rest of this vendor's GATE, when it has parameter encryption.
            let dir = self.state.store.directory().await.map_err(|e| e.to_string())?;
            let cipher = dir
                .vendor(&self.vendor)
                .and_then(|(_, v)| v.vendor.param_encryption.cipher().cloned());
            let ran_num = ours
                .ran_num
                .as_deref()
                .and_then(|r| crate::encryption::RanNum::parse(r).ok());
            let sent = match (cipher, ran_num) {
                (Some(c), Some(r)) => crate::encryption::encrypt_field(&c, &r, &token),
                _ => token.clone(),
            };
            for (name, value) in ours.fields.iter_mut() {
                if *name == "OTP_TOKEN" {
                    *value = sent.clone();
                }
            }
            let after = self.marker().await;
            let mut b = self.browser();
            let d = self.post(&mut b, &ours).await;
            let calls = self.wait_calls(after, &[&token], 0).await;
            let v = match b.get(whoami).await {
                Ok((_, body)) if body.contains(&self.member.1) => fail(format!(
                    "the partner logged {} in with a token of vendor {foreign}: check that resultMap.user.vndrNo is your own",
                    self.member.1
                )),
                Ok(_) => pass("the member of another vendor's token was not logged in"),
                Err(e) => fail(format!("the whoamiUrl {whoami} could not be read: {e}")),
            };
            Ok::<_, String>(v.with(calls, vec![d]))
        }
        .await;
        let _ = state
            .store
            .update_directory(|dir| Ok::<_, ()>(dir.remove_vendor(&foreign)))
            .await;
        result
    }

    async fn spoofed_cus_url(&self) -> Result<Verdict, String> {
        if self.decoy.is_empty() {
            return Ok(skip(format!(
                "cannot listen on {DECOY_IP} here (add it to the loopback interface to run this case)"
            )));
        }
        let mut gate = self.gate(&self.member, |_| {}).await?;
        let token = plain_token(&gate)?;
        let sent = field(&gate.fields, "OTP_TOKEN").unwrap_or_default();
        for (name, value) in gate.fields.iter_mut() {
            if *name == "CUS_URL" {
                *value = self.decoy.clone();
            }
        }
        if !gate.fields.iter().any(|(k, _)| *k == "CUS_URL") {
            gate.fields.push(("CUS_URL", self.decoy.clone()));
        }
        let after = self.marker().await;
        let mut b = self.browser();
        let d = self.post(&mut b, &gate).await;
        let calls = self.wait_calls(after, &[&token, &sent], 0).await;
        let decoy_host = self.decoy.trim_start_matches("https://");
        let spoofed: Vec<CallSeen> = calls
            .iter()
            .filter(|c| {
                c.host
                    .as_deref()
                    .is_some_and(|h| h.eq_ignore_ascii_case(decoy_host))
            })
            .cloned()
            .collect();
        let v = if spoofed.is_empty() {
            pass(format!(
                "no call to the spoofed domain {}; the partner answered {}",
                self.decoy, d.status
            ))
        } else {
            fail(format!(
                "the partner sent the member's token to {}, a CUS_URL that is no mall domain",
                self.decoy
            ))
        };
        Ok(v.with(calls, vec![d]))
    }
}

fn field(fields: &[(&'static str, String)], name: &str) -> Option<String> {
    fields
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.clone())
}

/// The token as issued (before any encryption).
fn plain_token(gate: &Gate) -> Result<String, String> {
    gate.token
        .clone()
        .ok_or_else(|| "no token was issued (no consent?)".to_owned())
}
