//! The cases a careless partner fails in ways an attacker can use: a session kept across
//! members, an encrypted token sent as it came, another vendor's token taken for a member of
//! one's own, and a `CUS_URL` followed wherever it points.

use super::cases::Run;
use super::kit::{CallSeen, DECOY_IP};
use super::verdict::{excerpt, fail, field, pass, plain_token, skip, Verdict};
use crate::protocol::gate::{ConsentChoice, GateRequest, Source};

impl Run<'_> {
    pub(super) async fn session_reset(&self) -> Result<Verdict, String> {
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
                "after the second member's GATE the whoamiUrl answers {status} without {} ({} bytes, beginning '{}')",
                other.1,
                body.len(),
                excerpt(&body, &other.1).1
            )),
            Err(e) => fail(format!("the whoamiUrl {whoami} could not be read: {e}")),
        };
        Ok(v.with(Vec::new(), deliveries))
    }

    pub(super) async fn encrypted_fields(&self) -> Result<Verdict, String> {
        if !self.encrypted {
            return Ok(skip("the vendor has no parameter encryption"));
        }
        let gate = self
            .gate(&self.member, |r| r.force_member_fields = true)
            .await?;
        plain_token(&gate)?;
        let visit = self.visit(&mut self.browser(), &gate, 1).await;
        Ok(self.judge_one_ok(&visit))
    }

    pub(super) async fn foreign_vendor(&self) -> Result<Verdict, String> {
        let Some(whoami) = &self.whoami else {
            return Ok(skip(
                "the vendor names no whoamiUrl to ask who is logged in",
            ));
        };
        // A vendor of the simulator's own, allowed from the same addresses, for the token.
        let foreign = format!("{}X", self.vendor);
        let store = self.kit.issuer.store;
        let tested = self.vendor.clone();
        let made = store
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
        let theirs = crate::protocol::gate::issue(
            &self.kit.issuer,
            GateRequest {
                consent: ConsentChoice::Agree,
                ..GateRequest::new(&self.member.0, &self.member.1, &foreign, Source::Conform)
            },
        )
        .await
        .map_err(|e| e.to_string());
        let result = async {
            let theirs = theirs?;
            let token = plain_token(&theirs)?;
            let mut ours = self.gate(&self.member, |_| {}).await?;
            // Encrypted like the rest of this vendor's GATE, when it has parameter encryption.
            let dir = store.directory().await.map_err(|e| e.to_string())?;
            let cipher = dir
                .vendor(&self.vendor)
                .and_then(|(_, v)| v.vendor.param_encryption.cipher().cloned());
            let ran_num = ours
                .ran_num
                .as_deref()
                .and_then(|r| crate::domain::encryption::RanNum::parse(r).ok());
            let sent = match (cipher, ran_num) {
                (Some(c), Some(r)) => crate::domain::encryption::encrypt_field(&c, &r, &token),
                _ => token.clone(),
            };
            for (name, value) in ours.fields.iter_mut() {
                if *name == "OTP_TOKEN" {
                    *value = sent.clone();
                }
            }
            let mut watch = self.watch().await;
            let mut b = self.browser();
            let d = self.post(&mut b, &ours).await;
            let calls = self.wait(&mut watch, &[&token, &sent], 0, &d).await;
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
        let _ = store
            .update_directory(|dir| Ok::<_, ()>(dir.remove_vendor(&foreign)))
            .await;
        result
    }

    pub(super) async fn spoofed_cus_url(&self) -> Result<Verdict, String> {
        let Some(decoy) = self.kit.decoy.clone() else {
            return Ok(skip(format!(
                "cannot listen on {DECOY_IP} here (add it to the loopback interface to run this case)"
            )));
        };
        let mut gate = self.gate(&self.member, |_| {}).await?;
        let token = plain_token(&gate)?;
        let sent = field(&gate.fields, "OTP_TOKEN").unwrap_or_default();
        for (name, value) in gate.fields.iter_mut() {
            if *name == "CUS_URL" {
                *value = decoy.clone();
            }
        }
        if !gate.fields.iter().any(|(k, _)| *k == "CUS_URL") {
            gate.fields.push(("CUS_URL", decoy.clone()));
        }
        let mut watch = self.watch().await;
        let mut b = self.browser();
        let d = self.post(&mut b, &gate).await;
        let calls = self.wait(&mut watch, &[&token, &sent], 0, &d).await;
        let decoy_host = decoy.trim_start_matches("https://");
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
                decoy, d.status
            ))
        } else {
            fail(format!(
                "the partner sent the member's token to {}, a CUS_URL that is no mall domain",
                decoy
            ))
        };
        Ok(v.with(calls, vec![d]))
    }
}
