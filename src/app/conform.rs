//! `benecafe-sim conform`: the report comes from a simulator of this process's own, started on
//! free ports and stopped afterwards, or from a running simulator asked through its control API
//! (`--against`); either way it is the same [`Report`], written as the terminal table, JUnit
//! XML and HTML alike.
//!
//! `--against` does not run the cases here: the running simulator runs them
//! (`POST /_sim/api/conform`), so its directory (run-time vendors and members), its store (the
//! cert calls other replicas see) and its CA (what its simulated browsers trust) are the ones
//! that count, and this process only renders the JSON report it answers.

use std::process::ExitCode;
use std::time::Duration;

use super::application::Application;
use super::cli::ConformArgs;
use crate::conform::{report, Report, RunRequest};

/// Runs every case and writes the reports. Exit 0 when every case passes, 1 when one fails, 2
/// when it cannot run (said in one line).
pub(super) async fn conform(args: ConformArgs) -> ExitCode {
    let _logs = super::telemetry::init(&args.settings, super::telemetry::Sink::Stderr);
    let result = match &args.against {
        Some(base) => remote(base, &args).await,
        None => local(&args).await,
    };
    let could_not = |why: String| {
        eprintln!(
            "benecafe-sim conform: cannot run: {}",
            report::clean(&why, false)
        );
        ExitCode::from(2)
    };
    let report = match result {
        Ok(r) => r,
        Err(why) => return could_not(why),
    };
    print!("{}", report::table(&report));
    let write = |path: &Option<std::path::PathBuf>, text: String| match path {
        Some(p) => {
            std::fs::write(p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))
        }
        None => Ok(()),
    };
    if let Err(e) = write(&args.junit, report::junit(&report))
        .and_then(|_| write(&args.html, report::html(&report)))
    {
        return could_not(e);
    }
    ExitCode::from(report.exit_code())
}

/// The cases run on a simulator of this process's own.
async fn local(args: &ConformArgs) -> Result<Report, String> {
    let app = Application::build(args.settings.clone())
        .await
        .map_err(|e| format!("{e:#}"))?;
    let state = app.state().clone();
    let handle = app.handle();
    let server = actix_web::rt::spawn(app.run_until_stopped());
    let request = RunRequest {
        vndr_no: &args.vendor,
        member: args.member.as_deref(),
        timeout: Duration::from_secs(args.timeout_seconds.max(1)),
        skip: &args.skip,
    };
    let result = crate::web::api::conform::run_kit(&state, &request, args.decoy_port).await;
    handle.stop(true).await;
    let _ = server.await;
    result
}

/// The cases run by the simulator at `base` (its plain-HTTP base URL), through its control API.
async fn remote(base: &str, args: &ConformArgs) -> Result<Report, String> {
    let url = url::Url::parse(base).map_err(|e| format!("--against {base}: {e}"))?;
    if url.scheme() != "http" || url.host_str().is_none() {
        return Err(format!(
            "--against {base}: give the running simulator's plain-HTTP base URL (http://HOST:PORT), where its control API answers"
        ));
    }
    let endpoint = format!("{}/_sim/api/conform", base.trim_end_matches('/'));
    let skip: Vec<&str> = args.skip.iter().map(|c| c.id()).collect();
    let body = serde_json::json!({
        "vndrNo": args.vendor,
        "custId": args.member,
        "timeoutSeconds": args.timeout_seconds.clamp(1, 60),
        "skip": skip,
        "decoyPort": args.decoy_port,
    });
    // Eleven cases, each a few posts and waits of at most the timeout.
    let patience = Duration::from_secs(60 + 40 * args.timeout_seconds.clamp(1, 60));
    let client = awc::Client::builder()
        .disable_redirects()
        .timeout(patience)
        .finish();
    let mut req = client
        .post(&endpoint)
        .insert_header(("accept", "application/json"));
    if let Some(token) = args
        .settings
        .control_token
        .as_deref()
        .filter(|t| !t.is_empty())
    {
        req = req.insert_header(("authorization", format!("Bearer {token}")));
    }
    let mut res = req
        .send_json(&body)
        .await
        .map_err(|e| format!("cannot reach {endpoint}: {e}"))?;
    let text = res
        .body()
        .limit(16 * 1024 * 1024)
        .await
        .map_err(|e| format!("{endpoint}: the answer could not be read: {e}"))?;
    let status = res.status();
    if !status.is_success() {
        let said = serde_json::from_slice::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&text).chars().take(200).collect());
        return Err(format!("{endpoint} answered {}: {said}", status.as_u16()));
    }
    serde_json::from_slice(&text)
        .map_err(|e| format!("{endpoint} answered something other than a report: {e}"))
}
