//! One run, from start to end: the plan (full or quick), then each measurement in turn, every
//! server started for its rows and stopped after them, into the figures [`crate::report`]
//! prints. Everything a run writes goes in one temporary folder, removed at the end.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::client::{bulk, bulk_in, health, live_tokens, make_sandbox, save_bodies};
use crate::load::{
    check_fresh, flows_script, issuance_script, report_script, tokens_script, wrk, wrk_costed, Load,
};
use crate::report::{self, Figures};
use crate::servers::{
    reference_keys, rss_kib, seed_reference, spawn_redis, spawn_reference, spawn_simulator,
    wait_ready,
};

/// The shape of a run.
pub struct Plan {
    pub seconds: u64,
    pub connections: u32,
    pub startup_runs: usize,
    pub memory_counts: [usize; 2],
    pub memory_ttl: u64,
}

/// Rows of simulator-versus-reference loads.
pub type Rows = Vec<(String, Load, Load)>;

/// Arguments of a simulator under load: room for every token a row issues, a small journal.
const UNDER_LOAD: [&str; 4] = [
    "--max-live-tokens",
    "5000000",
    "--journal-capacity",
    "10000",
];

/// Runs the benchmark, `quick` or in full, and prints its tables.
pub fn run(quick: bool) -> Result<(), String> {
    let plan = if quick {
        Plan {
            seconds: 1,
            connections: 8,
            startup_runs: 3,
            memory_counts: [1_000, 10_000],
            memory_ttl: 2,
        }
    } else {
        Plan {
            seconds: 5,
            connections: 16,
            startup_runs: 10,
            memory_counts: [100_000, 1_000_000],
            memory_ttl: 20,
        }
    };
    std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .map_err(|_| "wrk not found: install it (apt-get install wrk) and run again".to_string())?;
    let dir = std::env::temp_dir().join(format!("benecafe-sim-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    if std::env::args().any(|a| a == "--redis-only") {
        let rows = redis_only(&dir, &plan);
        let _ = std::fs::remove_dir_all(&dir);
        report::print_redis(&rows?);
        return Ok(());
    }
    let figures = measure(&dir, &plan);
    let _ = std::fs::remove_dir_all(&dir);
    report::print(&figures?, &plan, quick);
    Ok(())
}

/// The instructions a cert call costs (`--instructions`).
pub fn instructions(quick: bool) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("benecafe-sim-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let rows = crate::instructions::run(&dir, quick);
    let _ = std::fs::remove_dir_all(&dir);
    crate::instructions::print(&rows?, quick);
    Ok(())
}

/// The Redis rows alone (`--redis-only`), for working on the Redis store's hot path.
fn redis_only(dir: &Path, plan: &Plan) -> Result<Rows, String> {
    let data = dir.join("data");
    let (mut first, _) = spawn_simulator(&data, &[])?;
    wait_ready(first.http, &mut first.child)?;
    drop(first);
    let path_404 = format!("/sso/vendorUserCertTonken?otpTokenp={}", "0".repeat(64));
    let report = report_script(dir)?;
    redis_rows(dir, &data, plan, &report, &path_404)
}

/// Every measurement of a run, in the folder `dir`.
fn measure(dir: &Path, plan: &Plan) -> Result<Figures, String> {
    let data = dir.join("data");

    // Start-up, first with certificate generation (a fresh data folder each time), then with the
    // certificate on disk (the usual case).
    let mut fresh = Vec::new();
    for i in 0..plan.startup_runs.div_ceil(2) {
        let d = dir.join(format!("fresh-{i}"));
        let (mut s, started) = spawn_simulator(&d, &[])?;
        wait_ready(s.http, &mut s.child)?;
        fresh.push(started.elapsed());
    }
    let (mut first, _) = spawn_simulator(&data, &[])?;
    wait_ready(first.http, &mut first.child)?;
    drop(first);
    let mut warm = Vec::new();
    for _ in 0..plan.startup_runs {
        let (mut s, started) = spawn_simulator(&data, &[])?;
        wait_ready(s.http, &mut s.child)?;
        warm.push(started.elapsed());
    }

    // The simulator under load, and the bodies the reference must answer.
    let (mut sim, _) = spawn_simulator(&data, &UNDER_LOAD)?;
    wait_ready(sim.http, &mut sim.child)?;
    let unknown = "0".repeat(64);
    let path_404 = format!("/sso/vendorUserCertTonken?otpTokenp={unknown}");
    let (ok, nf) = save_bodies(sim.http, &path_404, dir, "")?;
    let mut reference = spawn_reference(crate::SERVE_REFERENCE, &ok, &nf, None)?;
    wait_ready(reference.http, &mut reference.child)?;

    let report = report_script(dir)?;
    let mut table: Rows = Vec::new();
    let schemes = [
        ("HTTP", sim.http, reference.http),
        ("HTTPS", sim.https, reference.https),
    ];
    for (scheme, sim_port, ref_port) in schemes {
        let s = wrk(&url(scheme, sim_port, &path_404), &report, plan)?;
        let r = wrk(&url(scheme, ref_port, &path_404), &report, plan)?;
        table.push((format!("cert 404, {scheme} keep-alive"), s, r));
    }
    for (scheme, sim_port, ref_port) in schemes {
        // Enough fresh tokens for the whole row, each used once.
        let expected = table.iter().map(|(_, s, _)| s.rps).fold(0.0, f64::max);
        let tokens = bulk(sim.http, token_count(expected, plan), 600, true)?;
        let sim_script = tokens_script(dir, &tokens, "")?;
        let ref_script = tokens_script(dir, &tokens, "/ok")?;
        let live_before = live_tokens(sim.http)?;
        let s = wrk(&url(scheme, sim_port, ""), &sim_script, plan)?;
        let used = live_before.saturating_sub(live_tokens(sim.http)?);
        // Every request used a fresh token (none ran out, none failed): all answered OK.
        check_fresh("OK", used, &s, plan)?;
        let r = wrk(&url(scheme, ref_port, ""), &ref_script, plan)?;
        table.push((format!("cert OK, {scheme} keep-alive"), s, r));
    }
    table.push(sandboxes_row(dir, plan, &table, sim.http, reference.http)?);
    drop(reference);

    // Complete flows: a GATE through the control API, then the cert call with its token. A flow
    // is complete when its cert call answered OK.
    let flow = wrk(&url("HTTP", sim.http, ""), &flows_script(dir)?, plan)?;

    // GATE issuance with parameter encryption off (VR000216) and on (VR000301, AES-128-CBC:
    // ranNum drawn, four fields encrypted), member fields forced so both carry all of them.
    let mut issuance = [0.0; 2];
    for (rate, vendor) in issuance.iter_mut().zip(["VR000216", "VR000301"]) {
        let script = issuance_script(dir, vendor)?;
        *rate = wrk(&url("HTTP", sim.http, ""), &script, plan)?.oks_per_second;
    }
    drop(sim);

    // Memory with many live tokens, then after they expire and are swept.
    let (mut mem, _) = spawn_simulator(
        &data,
        &[
            "--max-live-tokens",
            "2000000",
            "--token-retention-seconds",
            "0",
            "--journal-capacity",
            "100",
        ],
    )?;
    wait_ready(mem.http, &mut mem.child)?;
    std::thread::sleep(Duration::from_millis(300));
    let pid = mem.child.id();
    let rss0 = rss_kib(pid);
    let issued_at = Instant::now();
    bulk(mem.http, plan.memory_counts[0], plan.memory_ttl, false)?;
    let rss1 = rss_kib(pid);
    let mut remaining = plan.memory_counts[1] - plan.memory_counts[0];
    while remaining > 0 {
        let n = remaining.min(250_000);
        bulk(mem.http, n, plan.memory_ttl, false)?;
        remaining -= n;
    }
    let rss2 = rss_kib(pid);
    let wait = Duration::from_secs(plan.memory_ttl + 3).saturating_sub(issued_at.elapsed());
    std::thread::sleep(wait);
    let live_after = health(mem.http)?["liveTokens"].clone();
    let rss3 = rss_kib(pid);
    drop(mem);

    // The same cert calls with the state in Redis, against a reference that also asks Redis.
    let redis_table = redis_rows(dir, &data, plan, &report, &path_404)?;

    Ok(Figures {
        table,
        redis_table,
        flows_per_second: flow.oks_per_second,
        issuance,
        warm: median(warm),
        fresh: median(fresh),
        rss_kib: [rss0, rss1, rss2, rss3],
        live_after,
    })
}

/// The Redis rows: a `redis-server` child, the simulator with `--store` on its database 0 and
/// the Redis reference on its database 1, each row measured back to back with the same plan.
/// Everything started here is stopped when this returns, error or not.
fn redis_rows(
    dir: &Path,
    data: &Path,
    plan: &Plan,
    report: &Path,
    path_404: &str,
) -> Result<Rows, String> {
    let redis = spawn_redis(dir)?;
    let sim_url = format!("redis://127.0.0.1:{}/0", redis.port);
    let ref_url = format!("redis://127.0.0.1:{}/1", redis.port);
    let mut args = vec!["--store", &sim_url];
    args.extend(UNDER_LOAD);
    let (mut sim, _) = spawn_simulator(data, &args)?;
    wait_ready(sim.http, &mut sim.child)?;
    // The bodies this simulator answers through Redis, for the reference to answer.
    let (ok, nf) = save_bodies(sim.http, path_404, dir, "redis-")?;
    let mut reference = spawn_reference(crate::SERVE_REDIS_REFERENCE, &ok, &nf, Some(&ref_url))?;
    wait_ready(reference.http, &mut reference.child)?;

    let schemes = [
        ("HTTP", sim.http, reference.http),
        ("HTTPS", sim.https, reference.https),
    ];
    let sim_pids = [sim.child.id(), redis.child.id()];
    let ref_pids = [reference.child.id(), redis.child.id()];
    let mut table: Rows = Vec::new();
    for (scheme, sim_port, ref_port) in schemes {
        let s = wrk_costed(
            &url(scheme, sim_port, path_404),
            report,
            plan,
            sim_pids,
            &sim_url,
        )?;
        let r = wrk_costed(
            &url(scheme, ref_port, path_404),
            report,
            plan,
            ref_pids,
            &ref_url,
        )?;
        table.push((format!("cert 404 through Redis, {scheme} keep-alive"), s, r));
    }
    for (scheme, sim_port, ref_port) in schemes {
        // Enough fresh tokens (and reference keys) for the faster of the two, each used once.
        let expected = table
            .iter()
            .flat_map(|(_, s, r)| [s.rps, r.rps])
            .fold(0.0, f64::max);
        let tokens = bulk(sim.http, token_count(expected, plan), 600, true)?;
        seed_reference(&ref_url, &tokens)?;
        let script = tokens_script(dir, &tokens, "")?;
        let row = format!("cert OK through Redis, {scheme} keep-alive");
        let live_before = live_tokens(sim.http)?;
        let s = wrk_costed(
            &url(scheme, sim_port, ""),
            &script,
            plan,
            sim_pids,
            &sim_url,
        )?;
        let used = live_before.saturating_sub(live_tokens(sim.http)?);
        check_fresh(&format!("simulator's {row}"), used, &s, plan)?;
        let keys_before = reference_keys(&ref_url)?;
        let r = wrk_costed(
            &url(scheme, ref_port, ""),
            &script,
            plan,
            ref_pids,
            &ref_url,
        )?;
        let used = keys_before.saturating_sub(reference_keys(&ref_url)?);
        check_fresh(&format!("reference's {row}"), used, &r, plan)?;
        table.push((row, s, r));
    }
    drop((reference, sim, redis));
    Ok(table)
}

/// `http://` or `https://` (after `scheme`, `HTTP` or `HTTPS`) loopback `port` and `path`.
/// How many sandboxes are live in the sandboxes row.
const SANDBOXES: usize = 100;

/// The OK row with [`SANDBOXES`] sandboxes live and the tokens taken from all of them in turn,
/// each found from its token alone: the cert call's cost with sandboxes in use.
fn sandboxes_row(
    dir: &Path,
    plan: &Plan,
    table: &Rows,
    sim: u16,
    reference: u16,
) -> Result<(String, Load, Load), String> {
    let expected = table.iter().map(|(_, s, _)| s.rps).fold(0.0, f64::max);
    let each = token_count(expected, plan).div_ceil(SANDBOXES);
    let mut issued = Vec::new();
    for _ in 0..SANDBOXES {
        let id = make_sandbox(sim)?;
        issued.push(bulk_in(Some(&id), sim, each, 600, true)?);
    }
    // One token of each sandbox in turn.
    let tokens: Vec<String> = (0..each)
        .flat_map(|i| issued.iter().filter_map(move |t| t.get(i).cloned()))
        .collect();
    let s = wrk(
        &url("HTTP", sim, ""),
        &tokens_script(dir, &tokens, "")?,
        plan,
    )?;
    let r = wrk(
        &url("HTTP", reference, ""),
        &tokens_script(dir, &tokens, "/ok")?,
        plan,
    )?;
    let row = format!("cert OK, {SANDBOXES} sandboxes live, HTTP keep-alive");
    Ok((row, s, r))
}

fn url(scheme: &str, port: u16, path: &str) -> String {
    format!("{}://127.0.0.1:{port}{path}", scheme.to_ascii_lowercase())
}

/// Tokens for an OK row: three times what `expected` requests a second make in the row's seconds.
fn token_count(expected: f64, plan: &Plan) -> usize {
    // Three times what the fastest row so far would use: an OK row may run faster than every
    // 404 row before it (the Redis reference's does, on a busy machine most of all).
    ((expected * plan.seconds as f64 * 3.0) as usize).clamp(30_000, 1_000_000)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}
