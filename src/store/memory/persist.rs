//! `--state FILE`: what the simulator has learnt at run time survives a restart. Saved are the
//! directory as it is now (run-time fixture changes and consents), the delivery memory, every
//! token the store still remembers (live, used, or expired within the retention, so that each
//! answers after a restart as it did before: OK, 404 "already used", 401) and the journal.
//!
//! The file is written atomically (a temporary file in the same folder, flushed to disk, then
//! renamed over the old one), so a crash mid-write leaves the previous file whole. A file that
//! cannot be read back stops the start with an error and is never overwritten.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::domain::clock;
use crate::domain::directory::{Image, SavedDelivery};
use crate::domain::event::Event;
use crate::domain::fixtures::Fixtures;
use crate::domain::grant::{Grant, TokenView};
use crate::domain::OtpToken;
use crate::store::memory::MemoryStore;

/// The format marker: a file of another format is refused, not misread.
const FORMAT: &str = "benecafe-sim-state/1";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StateFile {
    format: String,
    saved_at: String,
    fixtures: Fixtures,
    deliveries: Vec<SavedDelivery>,
    tokens: Vec<SavedToken>,
    journal: Vec<Event>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SavedToken {
    otp_token: String,
    cmpy_cd: String,
    cust_id: String,
    vndr_no: String,
    issued_ms: u64,
    expires_ms: u64,
    /// When and by whom it was used, if it was (absent in files of earlier versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    used_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    used_by: Option<std::net::IpAddr>,
}

/// What a save wrote.
#[derive(Debug)]
pub struct Saved {
    pub tokens: usize,
    pub events: usize,
    pub bytes: usize,
}

/// What changes when anything worth saving changes: the journal's next id (every GATE and call
/// is journaled) and the store's change counter (every token issued, used or expired, every
/// change of the directory).
pub fn signature(store: &MemoryStore) -> (u64, u64) {
    (store.journal.next_id(), store.changes())
}

/// Writes the state to `path`, atomically.
pub fn save(store: &MemoryStore, path: &Path) -> anyhow::Result<Saved> {
    let now = clock::now_ms();
    let Image {
        fixtures,
        deliveries,
    } = store.directory().image();
    let tokens: Vec<SavedToken> = store
        .tokens
        .export()
        .into_iter()
        .map(|(token, view)| SavedToken {
            otp_token: token.to_string(),
            cmpy_cd: view.grant.company.to_string(),
            cust_id: view.grant.customer_id.to_string(),
            vndr_no: view.grant.vendor.to_string(),
            issued_ms: view.issued_ms,
            expires_ms: view.expires_ms,
            used_ms: view.used.as_ref().map(|u| u.at_ms),
            used_by: view.used.as_ref().map(|u| u.by),
        })
        .collect();
    let journal: Vec<Event> = store
        .journal
        .snapshot()
        .iter()
        .map(|e| (**e).clone())
        .collect();
    let file = StateFile {
        format: FORMAT.into(),
        saved_at: clock::rfc3339(now),
        fixtures,
        deliveries,
        tokens,
        journal,
    };
    let bytes = serde_json::to_vec(&file).context("cannot serialize the state")?;
    crate::store::files::write_private(path, &bytes)?;
    Ok(Saved {
        tokens: file.tokens.len(),
        events: file.journal.len(),
        bytes: bytes.len(),
    })
}

/// What was restored.
#[derive(Debug)]
pub struct Restored {
    pub tokens: usize,
    pub events: usize,
}

/// Reads `path` into the state. `Ok(None)` when there is no file yet (first start).
pub fn load(store: &MemoryStore, path: &Path) -> anyhow::Result<Option<Restored>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read the state file {}", path.display()))
        }
    };
    let broken = |why: String| {
        anyhow::anyhow!(
            "the state file {} cannot be used: {why}. It was left as it is; move it away or remove it to start without saved state",
            path.display()
        )
    };
    let file: StateFile = serde_json::from_slice(&bytes).map_err(|e| broken(e.to_string()))?;
    if file.format != FORMAT {
        return Err(broken(format!(
            "its format is {:?}, this simulator reads {FORMAT:?}",
            file.format
        )));
    }
    file.fixtures
        .validate(&path.display().to_string())
        .map_err(|e| broken(e.to_string()))?;
    let mut parsed = Vec::with_capacity(file.tokens.len());
    for t in &file.tokens {
        let token = OtpToken::parse(&t.otp_token)
            .map_err(|_| broken(format!("token {:?} is not a token", t.otp_token)))?;
        parsed.push(token);
    }
    let now = clock::now_ms();
    let restored = crate::domain::directory::Directory::from_image(&Image {
        fixtures: file.fixtures,
        deliveries: file.deliveries,
    });
    store.set_directory(restored);
    let mut tokens = 0;
    {
        let dir = store.directory();
        for (token, t) in parsed.into_iter().zip(&file.tokens) {
            if t.expires_ms.saturating_add(store.tokens.retention_ms()) <= now {
                continue; // forgotten by now, as the sweeper would have
            }
            let (Some((c, _)), Some((m, _)), Some((v, _))) = (
                dir.company(&t.cmpy_cd),
                dir.member(&t.cust_id),
                dir.vendor(&t.vndr_no),
            ) else {
                continue;
            };
            store.tokens.restore(
                token,
                TokenView {
                    grant: std::sync::Arc::new(Grant {
                        company: c.clone(),
                        customer_id: m.clone(),
                        vendor: v.clone(),
                    }),
                    issued_ms: t.issued_ms,
                    expires_ms: t.expires_ms,
                    used: t.used_ms.map(|at_ms| crate::domain::grant::Use {
                        at_ms,
                        by: t.used_by.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into()),
                    }),
                },
                now,
            );
            if t.used_ms.is_none() && now < t.expires_ms {
                tokens += 1;
            }
        }
    }
    let events = file.journal.len();
    store.journal.restore(file.journal);
    Ok(Some(Restored { tokens, events }))
}
