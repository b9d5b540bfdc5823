//! The cases' bodies: each issues its GATEs, posts them from a simulated browser, watches the
//! cert calls that follow, and judges what it saw against [`Case::expectation`].

use std::time::{Duration, Instant};

use super::browser::{Browser, Delivery};
use super::case::Case;
use super::kit::{CallSeen, CaseReport, Delivered, Kit, Status};
use super::verdict::{answered, codes, fail, field, given, pass, plain_token, Verdict};
use super::watch::Watch;
use crate::protocol::gate::{ConsentChoice, Gate, GateRequest, Source};

/// What one GATE post led to: the partner's answer and the cert calls that followed.
pub(super) struct Visit {
    pub(super) d: Delivery,
    /// Calls with the token as issued.
    pub(super) calls: Vec<CallSeen>,
    /// Calls with `OTP_TOKEN` as posted, still encrypted (vendors with parameter encryption).
    pub(super) encrypted: Vec<CallSeen>,
}

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
            // A path is a page of the simulator itself, as for the GATE URL.
            whoami: vendor
                .vendor
                .whoami_url
                .as_deref()
                .map(|w| kit.issuer.endpoints.gate(w).0),
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
            Some(t) if answer.error.is_none() => {
                self.wait(&mut watch, &[t.as_str()], 1, &answer).await
            }
            _ => Vec::new(),
        };
        Delivered { answer, cert_calls }
    }

    pub(super) async fn case(&self, case: Case) -> CaseReport {
        let started = Instant::now();
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
            id: case.id().to_owned(),
            status: v.status,
            expected: case.expectation().to_owned(),
            happened: v.happened,
            why_it_matters: case.why_it_matters().map(str::to_owned),
            seconds: started.elapsed().as_secs_f64(),
            calls: v.calls,
            deliveries: v.deliveries,
        }
    }

    pub(super) fn browser(&self) -> Browser {
        Browser::new(&self.kit.trusted, self.timeout)
    }

    pub(super) async fn watch(&self) -> Watch {
        Watch::start(self.kit.issuer.store, self.kit.base.as_ref()).await
    }

    /// Waits for at least `want` calls with `tokens` (up to the timeout), then a short grace.
    /// When the partner answered the post `d` with a 5xx or not at all, no call is coming:
    /// only the grace is waited.
    pub(super) async fn wait(
        &self,
        watch: &mut Watch,
        tokens: &[&str],
        want: usize,
        d: &Delivery,
    ) -> Vec<CallSeen> {
        let grace = self.timeout.min(Duration::from_millis(300));
        let want = if d.broke_off() { 0 } else { want };
        watch.wait(tokens, want, self.timeout, grace).await
    }

    /// Posts `gate` from `b` and waits for `want` cert calls with its token, as issued or as
    /// posted (encrypted).
    pub(super) async fn visit(&self, b: &mut Browser, gate: &Gate, want: usize) -> Visit {
        let plain = gate.token.clone().unwrap_or_default();
        let sent = field(&gate.fields, "OTP_TOKEN").unwrap_or_default();
        let mut watch = self.watch().await;
        let d = self.post(b, gate).await;
        self.wait(&mut watch, &[&plain, &sent], want, &d).await;
        Visit {
            calls: watch.calls(&[&plain]),
            encrypted: match sent != plain {
                true => watch.calls(&[&sent]),
                false => Vec::new(),
            },
            d,
        }
    }

    pub(super) async fn gate(
        &self,
        member: &(String, String),
        edit: impl FnOnce(&mut GateRequest),
    ) -> Result<Gate, String> {
        let mut req = GateRequest {
            consent: ConsentChoice::Agree,
            ..GateRequest::new(&member.0, &member.1, &self.vendor, Source::Conform)
        };
        edit(&mut req);
        crate::protocol::gate::issue(&self.kit.issuer, req)
            .await
            .map_err(|e| e.to_string())
    }

    pub(super) async fn post(&self, browser: &mut Browser, gate: &Gate) -> Delivery {
        browser.post_form(&self.gate_url, &gate.fields).await
    }

    /// Why an expected cert call did not come, as far as the partner's answer tells.
    pub(super) fn no_call(&self, v: &Visit) -> Verdict {
        let d = &v.d;
        let verdict = if !v.encrypted.is_empty() {
            fail(format!(
                "the partner sent OTP_TOKEN as it arrived, still encrypted (its cert call got {}): decrypt it with the vendor's key and ranNum first",
                codes(&v.encrypted)
            ))
        } else if d.status == 0 {
            fail(format!(
                "the GATE post {}; no cert call arrived ({})",
                answered(d),
                given(d)
            ))
        } else if d.broke_off() {
            fail(format!(
                "the partner {} to the GATE post, without a cert call: could it reach the {} it was given? (its host must resolve from the partner's server, and the simulator's CA be trusted)",
                answered(d),
                given(d)
            ))
        } else {
            fail(format!(
                "no cert call within {} s; the partner {} ({})",
                self.timeout.as_secs_f64(),
                answered(d),
                given(d)
            ))
        };
        verdict.with(v.encrypted.clone(), vec![d.clone()])
    }

    /// Exactly one OK call over HTTPS with the token, and no 5xx.
    pub(super) fn judge_one_ok(&self, v: &Visit) -> Verdict {
        let (calls, d) = (&v.calls, &v.d);
        if d.error.is_some() && (d.status != 0 || !calls.is_empty()) {
            return fail(format!("the GATE post {}", answered(d)))
                .with(calls.clone(), vec![d.clone()]);
        }
        let verdict = match calls.as_slice() {
            [] => return self.no_call(v),
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
                codes(many)
            )),
        };
        verdict.with(calls.clone(), vec![d.clone()])
    }

    async fn first_visit(&self) -> Result<Verdict, String> {
        let gate = self
            .gate(&self.member, |r| r.force_member_fields = true)
            .await?;
        plain_token(&gate)?;
        let visit = self.visit(&mut self.browser(), &gate, 1).await;
        Ok(self.judge_one_ok(&visit))
    }

    async fn later_visit(&self) -> Result<Verdict, String> {
        // Delivered once (first-visit, or the first GATE here when that case was skipped):
        // no member fields now.
        let mut gate = self.gate(&self.member, |_| {}).await?;
        if gate.fields.iter().any(|(k, _)| *k == "CFM_CUS_ID") {
            gate = self.gate(&self.member, |_| {}).await?;
        }
        if gate.fields.iter().any(|(k, _)| *k == "CFM_CUS_ID") {
            return Err("the member fields were sent again".into());
        }
        plain_token(&gate)?;
        let visit = self.visit(&mut self.browser(), &gate, 1).await;
        let mut v = self.judge_one_ok(&visit);
        let quiet = visit.calls.is_empty() && visit.encrypted.is_empty();
        if v.status == Status::Fail && quiet && !visit.d.broke_off() {
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
        let sent = field(&gate.fields, "OTP_TOKEN").unwrap_or_default();
        let mut watch = self.watch().await;
        let mut b = self.browser();
        let first = self.post(&mut b, &gate).await;
        self.wait(&mut watch, &[&token, &sent], 1, &first).await;
        let second = self.post(&mut b, &gate).await;
        self.wait(&mut watch, &[&token, &sent], 0, &second).await;
        let calls = watch.calls(&[&token, &sent]);
        let later: Vec<&CallSeen> = calls.iter().skip(1).collect();
        let status = second.status.max(second.final_status);
        let v = if let Some((n, d)) = [(1, &first), (2, &second)]
            .into_iter()
            .find(|(_, d)| d.error.is_some())
        {
            fail(format!("GATE post {n} {} ({})", answered(d), given(d)))
        } else if status >= 500 && calls.is_empty() {
            fail(format!(
                "the partner answered {status} to the second post after {} ms, and no cert call arrived for either post: could it reach the {} it was given?",
                second.ms,
                given(&second)
            ))
        } else if status >= 500 && !later.is_empty() && later.iter().all(|c| c.result_code == "404")
        {
            fail(format!(
                "the partner answered {status} to the second post (its cert call got 404: the token was used)"
            ))
        } else if status >= 500 {
            fail(format!(
                "the partner answered {status} to the second post ({} cert call(s) in all: {})",
                calls.len(),
                codes(&calls)
            ))
        } else if later.iter().any(|c| c.result_code != "404") {
            fail("a second cert call did not get 404")
        } else {
            pass(format!(
                "{} cert call(s) ({}); the second post answered {}",
                calls.len(),
                codes(&calls),
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
        let visit = self.visit(&mut self.browser(), &gate, 1).await;
        let d = &visit.d;
        let v = if d.error.is_some() && d.status != 0 {
            fail(format!("the GATE post {}", answered(d)))
        } else if visit.calls.is_empty() {
            return Ok(self.no_call(&visit));
        } else if d.status >= 500 || d.final_status >= 500 {
            fail(format!(
                "the partner answered {} when its cert call got 401",
                d.status.max(d.final_status)
            ))
        } else if visit.calls.iter().any(|c| c.result_code != "401") {
            fail("a cert call with the expired token did not get 401")
        } else {
            pass(format!(
                "the cert call got 401; the partner answered {}",
                d.status
            ))
        };
        Ok(v.with(visit.calls, vec![visit.d]))
    }

    async fn no_consent(&self) -> Result<Verdict, String> {
        let gate = self
            .gate(&self.member, |r| r.consent = ConsentChoice::Decline)
            .await;
        let mut watch = self.watch().await;
        let gate = gate?;
        let mut b = self.browser();
        let d = self.post(&mut b, &gate).await;
        let calls = self.wait(&mut watch, &[], 0, &d).await;
        // Consent back for the cases after this one.
        self.gate(&self.member, |_| {}).await.ok();
        let v = if d.error.is_some() {
            fail(format!("the GATE post {} ({})", answered(&d), given(&d)))
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
        plain_token(&gate)?;
        let visit = self.visit(&mut self.browser(), &gate, 1).await;
        let d = &visit.d;
        let to = d
            .location
            .as_deref()
            .map(|l| format!(", redirecting to {l}"))
            .unwrap_or_default();
        let v = if d.error.is_some() {
            fail(format!("the GATE post {} ({})", answered(d), given(d)))
        } else if d.status >= 500 || d.final_status >= 500 {
            fail(format!(
                "the partner answered {} to a GATE with {}",
                d.status.max(d.final_status),
                case.id()
            ))
        } else {
            pass(format!("the partner answered {}{to}", d.status))
        };
        Ok(v.with(visit.calls, vec![visit.d]))
    }
}
