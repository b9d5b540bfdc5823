//! The partner conformance kit: the simulator tests a partner's GATE the way the mall's
//! onboarding would. It posts GATE forms to the vendor's registered GATE URL from simulated
//! browsers ([`browser`]), watches the cert calls that follow as the store records them
//! (`watch.rs`), and judges each [`Case`] (`cases.rs`, `attacks.rs`); [`report`] writes the result for a
//! terminal, a browser and a CI server. The GATE URL is always the one the directory names: the
//! simulator never posts to an address nobody configured.
//!
//! The kit stands beside the HTTP edge, not on it: it takes the store, the URLs and the decoy
//! listener from its caller ([`Kit`]), so the command line and the control API run it alike.
//!
//! Timing: a call the case expects is waited for up to `--timeout-seconds`; where a case
//! expects no call, the partner's answer plus a grace of at most 300 ms ends the wait (a
//! partner that calls the mall while answering the GATE post, as they do, has called by then).
//! The grace alone also ends it when the partner answered the post with a 5xx or not at all: no
//! call is coming then, and the case says what the partner answered, when, and which
//! `CUS_URL` it had been given, rather than waiting to say that no call came.

mod attacks;
pub mod browser;
mod case;
mod cases;
mod kit;
pub mod report;
mod verdict;
mod watch;

use std::time::{Duration, Instant};

pub use self::case::Case;
pub use self::kit::{
    CallSeen, CaseReport, Delivered, Kit, Report, RunRequest, Status, DECOY_IP, SKIPPED_ON_REQUEST,
};
use crate::protocol::gate::Gate;

/// The cases' fixed ids (JUnit `testcase` names), in the order a run takes them.
pub const CASES: [&str; 11] = {
    let mut ids = [""; 11];
    let mut i = 0;
    while i < 11 {
        ids[i] = Case::ALL[i].id();
        i += 1;
    }
    ids
};

/// Runs every case against the vendor's GATE but those the request skips. The member, unless
/// named: the first active member (by key) of a company served on the simulator's own domain,
/// else of any company. `Err` says in one line why it could not run.
pub async fn run(kit: &Kit<'_>, req: &RunRequest<'_>) -> Result<Report, String> {
    let started = Instant::now();
    let (vndr_no, timeout) = (req.vndr_no, req.timeout);
    let run = cases::Run::prepare(kit, vndr_no, req.member, timeout).await?;
    reachable(&run.gate_url, timeout).await?;
    let mut reports = Vec::with_capacity(Case::ALL.len());
    for case in Case::ALL {
        reports.push(match req.skip.contains(&case) {
            true => CaseReport::skipped(case, SKIPPED_ON_REQUEST),
            false => run.case(case).await,
        });
    }
    let count = |s| reports.iter().filter(|c| c.status == s).count();
    Ok(Report {
        vndr_no: vndr_no.to_owned(),
        gate_url: run.gate_url.clone(),
        cust_id: run.member.1.clone(),
        passed: count(Status::Pass),
        failed: count(Status::Fail),
        skipped: count(Status::Skip),
        seconds: started.elapsed().as_secs_f64(),
        cases: reports,
    })
}

/// Posts a GATE to its vendor's GATE URL and watches the cert calls that follow.
pub async fn deliver(kit: &Kit<'_>, gate: &Gate, timeout: Duration) -> Delivered {
    cases::Run::for_gate(kit, gate, timeout).deliver(gate).await
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
