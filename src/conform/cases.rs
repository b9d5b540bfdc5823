//! The cases' bodies: each issues its GATEs, posts them from a simulated browser, watches the
//! cert calls that follow, and judges what it saw against [`Case::expectation`].

use std::time::Duration;

use super::browser::{Browser, Delivery};
use super::case::Case;
use super::kit::{CallSeen, CaseReport, Delivered, Kit, Status};
use super::verdict::{fail, pass, plain_token, Verdict};
use super::watch::Watch;
use crate::protocol::gate::{ConsentChoice, Gate, GateRequest, Source};

/// What a run needs to know.
pub(super) struct Run<'a> {
    pub(super) kit: &'a Kit<'a>,
    pub(super) vendor: String,
    pub(super) gate_url: String,
    pub(super) member: (String, String),
    pub(super) other: Option<(String, String)>,
    pub(super) whoami: Option<String>,
    pub(super) encrypted: bool,
    timeout: Duration,
}

impl<'a> Run<'a> {
    /// Finds the vendor and the members a run uses.
    pub(super) async fn prepare(
        kit: &'a Kit<'a>,
        vndr_no: &str,
        member: Option<&str>,
        timeout: Duration,
    ) -> Result<Run<'a>, String> {
        let store = kit.issuer.store;
        let dir = store.directory().await.map_err(|e| e.to_string())?;
        let (_, vendor) = dir
            .vendor(vndr_no)
            .ok_or_else(|| format!("no vendor {vndr_no} in the fixtures"))?;
        let gate_url = kit.issuer.endpoints.gate(&vendor.vendor.gate_url).0;
        // Members of companies on the simulator's own domain first: a company's own mall
        // domain (cusUrl) may not resolve on the partner's machine.
        let own_domain = |m: &crate::domain::records::Member| {
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
        Ok(Run {
            kit,
            vendor: vndr_no.to_owned(),
            gate_url,
            member: (chosen.company.clone(), chosen.customer_id.clone()),
            other,
            whoami: vendor.vendor.whoami_url.clone(),
            encrypted: vendor.vendor.param_encryption.cipher().is_some(),
            timeout,
        })
    }

    /// A run that only delivers one GATE (`"deliver": true` on the control API).
    pub(super) fn for_gate(kit: &'a Kit<'a>, gate: &Gate, timeout: Duration) -> Run<'a> {
        Run {
            kit,
            vendor: String::new(),
            gate_url: gate.gate_url.clone(),
            member: (String::new(), String::new()),
            other: None,
            whoami: None,
            encrypted: false,
            timeout,
        }
    }

    /// Posts `gate` and watches the cert calls with its token.
    pub(super) async fn deliver(&self, gate: &Gate) -> Delivered {
        let mut watch = self.watch().await;
        let mut b = self.browser();
        let answer = self.post(&mut b, gate).await;
        let cert_calls = match &gate.token {
            Some(t) if answer.error.is_none() => self.wait(&mut watch, &[t.as_str()], 1).await,
            _ => Vec::new(),
        };
        Delivered { answer, cert_calls }
    }

    pub(super) async fn case(&self, case: Case) -> CaseReport {
        let v = match case {
            Case::FirstVisit => self.first_visit().await,
            Case::LaterVisit => self.later_visit().await,
            Case::DoublePost => self.double_post().await,
            Case::ExpiredToken => self.expired_token().await,
            Case::NoConsent => self.no_consent().await,
            Case::DirectUrl => {
                self.redirecting(case, Some("/conform/detail?goods=1"), None)
                    .await
            }
            Case::BaroItem => self.redirecting(case, None, Some("CONFORM-0001")).await,
            Case::SessionReset => self.session_reset().await,
            Case::EncryptedFields => self.encrypted_fields().await,
            Case::ForeignVendor => self.foreign_vendor().await,
            Case::SpoofedCusUrl => self.spoofed_cus_url().await,
        };
        let v = v.unwrap_or_else(|e| fail(format!("the case could not be run: {e}")));
        CaseReport {
            id: case.id(),
            status: v.status,
            expected: case.expectation(),
            happened: v.happened,
            why_it_matters: case.why_it_matters(),
            calls: v.calls,
            deliveries: v.deliveries,
        }
    }

    pub(super) fn browser(&self) -> Browser {
        Browser::new(&self.kit.trusted, self.timeout)
    }

    pub(super) async fn watch(&self) -> Watch {
        Watch::start(self.kit.issuer.store).await
    }

    /// Waits for at least `want` calls with `tokens` (up to the timeout), then a short grace.
    pub(super) async fn wait(
        &self,
        watch: &mut Watch,
        tokens: &[&str],
        want: usize,
    ) -> Vec<CallSeen> {
        let grace = self.timeout.min(Duration::from_millis(300));
        watch.wait(tokens, want, self.timeout, grace).await
    }

    pub(super) async fn gate(
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
        crate::protocol::gate::issue(&self.kit.issuer, req)
            .await
            .map_err(|e| e.to_string())
    }

    pub(super) async fn post(&self, browser: &mut Browser, gate: &Gate) -> Delivery {
        browser.post_form(&self.gate_url, &gate.fields).await
    }

    /// Exactly one OK call over HTTPS with the token, and no 5xx.
    pub(super) fn judge_one_ok(&self, calls: &[CallSeen], d: &Delivery) -> Verdict {
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
        let mut watch = self.watch().await;
        let mut b = self.browser();
        let d = self.post(&mut b, &gate).await;
        let calls = self.wait(&mut watch, &[&token], 1).await;
        Ok(self.judge_one_ok(&calls, &d))
    }

    async fn later_visit(&self) -> Result<Verdict, String> {
        // Delivered once (first-visit), unchanged since: no member fields now.
        let gate = self.gate(&self.member, |_| {}).await?;
        if gate.fields.iter().any(|(k, _)| *k == "CFM_CUS_ID") {
            return Err("the member fields were sent again".into());
        }
        let token = plain_token(&gate)?;
        let mut watch = self.watch().await;
        let mut b = self.browser();
        let d = self.post(&mut b, &gate).await;
        let calls = self.wait(&mut watch, &[&token], 1).await;
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
        let mut watch = self.watch().await;
        let mut b = self.browser();
        let first = self.post(&mut b, &gate).await;
        self.wait(&mut watch, &[&token], 1).await;
        let second = self.post(&mut b, &gate).await;
        let calls = self.wait(&mut watch, &[&token], 0).await;
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
        self.kit
            .issuer
            .store
            .expire(&parsed, crate::domain::clock::now_ms())
            .await
            .map_err(|e| e.to_string())?;
        let mut watch = self.watch().await;
        let mut b = self.browser();
        let d = self.post(&mut b, &gate).await;
        let calls = self.wait(&mut watch, &[&token], 1).await;
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
        let mut watch = self.watch().await;
        let gate = gate?;
        let mut b = self.browser();
        let d = self.post(&mut b, &gate).await;
        let calls = self.wait(&mut watch, &[], 0).await;
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
        case: Case,
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
        let mut watch = self.watch().await;
        let mut b = self.browser();
        let d = self.post(&mut b, &gate).await;
        let calls = self.wait(&mut watch, &[&token], 1).await;
        let to = d
            .location
            .as_deref()
            .map(|l| format!(", redirecting to {l}"))
            .unwrap_or_default();
        let v = if let Some(e) = &d.error {
            fail(format!("the GATE post failed: {e}"))
        } else if d.status >= 500 || d.final_status >= 500 {
            fail(format!(
                "the partner answered {} to a GATE with {}",
                d.status.max(d.final_status),
                case.id()
            ))
        } else {
            pass(format!("the partner answered {}{to}", d.status))
        };
        Ok(v.with(calls, vec![d]))
    }
}
