//! The report: the figures of a run printed as the README's tables (simulator against reference
//! with the ratio each row must reach, then the single measures) and a `targets:` line naming
//! which targets this run met.

use std::time::Duration;

use crate::run::{Plan, Rows};

/// What a run measured.
pub struct Figures {
    /// The cert rows with the memory store.
    pub table: Rows,
    /// The cert rows with the Redis store.
    pub redis_table: Rows,
    /// Complete flows a second.
    pub flows_per_second: f64,
    /// GATE tokens a second, parameter encryption off and on.
    pub issuance: [f64; 2],
    /// Median start-up with the certificate on disk, and making it.
    pub warm: Duration,
    pub fresh: Duration,
    /// Resident memory with 0 live tokens, the plan's two counts, and after the sweep.
    pub rss_kib: [u64; 4],
    /// Live tokens after the sweep, as `/_sim/healthz` said.
    pub live_after: serde_json::Value,
}

/// Prints one table of simulator-versus-reference rows against the ratio each must reach, and
/// answers each row's verdict for the `targets:` line.
fn print_loads(table: &Rows, target: f64) -> Vec<String> {
    println!("| load | simulator req/s | p50 | p99 | reference req/s | p50 | p99 | ratio | target >= {target:.2} |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|");
    let mut verdicts = Vec::new();
    for (name, s, r) in table {
        let ratio = s.rps / r.rps;
        let met = if ratio >= target { "met" } else { "NOT met" };
        println!(
            "| {name} | {:.0} | {:.2} ms | {:.2} ms | {:.0} | {:.2} ms | {:.2} ms | {ratio:.2} | {met} |",
            s.rps,
            s.p50_us / 1000.0,
            s.p99_us / 1000.0,
            r.rps,
            r.p50_us / 1000.0,
            r.p99_us / 1000.0
        );
        verdicts.push(format!("{name}: {met}"));
    }
    verdicts
}

/// Where a Redis row's microseconds go: the CPU time one call cost the server process and
/// Redis, the simulator's and the reference's (from /proc, 10 ms ticks over the whole row), and
/// what the simulator spends beyond the reference in each.
fn print_costs(table: &Rows) {
    println!("CPU time a call costs, in µs (the load generator shares the same cores):");
    println!();
    println!(
        "| load | simulator: server | Redis | reference: server | Redis | extra: server | Redis |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, s, r) in table {
        let (Some([ss, sr]), Some([rs, rr])) = (s.cpu_us, r.cpu_us) else {
            continue;
        };
        println!(
            "| {name} | {ss:.1} | {sr:.1} | {rs:.1} | {rr:.1} | {:+.1} | {:+.1} |",
            ss - rs,
            sr - rr
        );
    }
}

/// Prints the whole report of a run made with `plan`.
pub fn print(f: &Figures, plan: &Plan, quick: bool) {
    let mib = |k: u64| k as f64 / 1024.0;
    let [rss0, rss1, rss2, rss3] = f.rss_kib;
    println!(
        "benecafe-sim benchmark{}",
        if quick {
            " (quick smoke run: figures not meaningful)"
        } else {
            ""
        }
    );
    println!(
        "method: wrk 1 thread x {} connections, {} s a row; simulator and reference each 1 worker; {} cores",
        plan.connections,
        plan.seconds,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    println!();
    let mut verdicts = print_loads(&f.table, 0.85);
    println!();
    println!(
        "Redis rows: redis-server {} on loopback without persistence; the simulator with --store (one EVALSHA a cert call) against a reference answering from one GETDEL a call",
        crate::servers::redis_version()
    );
    println!();
    verdicts.extend(print_loads(&f.redis_table, 0.80));
    println!();
    print_costs(&f.redis_table);
    println!();
    println!("| measure | value | target |");
    println!("|---|---:|---|");
    let mut rows: Vec<String> = Vec::new();
    rows.push(format!(
        "| complete flows (GATE via control API, then cert OK), HTTP | {:.0} flows/s | |",
        f.flows_per_second
    ));
    let [plain, encrypted] = f.issuance;
    rows.push(format!(
        "| GATE issuance, parameter encryption off (VR000216) | {plain:.0} tokens/s | |"
    ));
    rows.push(format!(
        "| GATE issuance, AES-128-CBC on (VR000301), ratio to off in this run | {encrypted:.0} tokens/s ({:.2}) | |",
        encrypted / plain.max(1.0)
    ));
    let startup_met = if f.warm < Duration::from_millis(50) {
        "met"
    } else {
        "NOT met"
    };
    rows.push(format!(
        "| start-up to /_sim/healthz 200, certificate on disk (median of {}) | {:.1} ms | < 50 ms: {startup_met} |",
        plan.startup_runs,
        f.warm.as_secs_f64() * 1000.0
    ));
    rows.push(format!(
        "| start-up, first start making the certificate (median of {}) | {:.1} ms | |",
        plan.startup_runs.div_ceil(2),
        f.fresh.as_secs_f64() * 1000.0
    ));
    rows.push(format!(
        "| resident memory, 0 live tokens | {:.1} MiB | |",
        mib(rss0)
    ));
    rows.push(format!(
        "| resident memory, {} live tokens | {:.1} MiB | |",
        plan.memory_counts[0],
        mib(rss1)
    ));
    // 128 MiB for a million live tokens; the quick run's smaller count gets the same budget.
    let mem_met = if mib(rss2) <= 128.0 { "met" } else { "NOT met" };
    rows.push(format!(
        "| resident memory, {} live tokens | {:.1} MiB | <= 128 MiB: {mem_met} |",
        plan.memory_counts[1],
        mib(rss2)
    ));
    let back_met = if rss3 <= rss0 + 16 * 1024 {
        "met"
    } else {
        "NOT met"
    };
    rows.push(format!(
        "| resident memory after expiry and sweep ({} live) | {:.1} MiB | near the 0-token baseline (+16 MiB): {back_met} |",
        f.live_after,
        mib(rss3)
    ));
    for r in &rows {
        println!("{r}");
    }
    verdicts.push(format!("start-up: {startup_met}"));
    verdicts.push(format!("memory at {}: {mem_met}", plan.memory_counts[1]));
    verdicts.push(format!("memory after sweep: {back_met}"));
    println!();
    println!("targets: {}", verdicts.join("; "));
}
