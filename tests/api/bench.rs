//! The benchmark runs and prints its table on a small load. No timing is asserted: machines are
//! noisy; the figures are for people.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The benchmark's binary (`bench`, of the workspace's `benecafe-bench` crate), built by cargo
/// now: another crate's binary has no `CARGO_BIN_EXE_` here. The build repeats this test's own
/// (same profile; with `--test api`, the same packages and dev-dependencies, hence the same
/// features), so cargo finds everything but the bench's own code compiled already. Its path is
/// the one cargo reports for the artifact.
fn bench_binary() -> PathBuf {
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--bin", "bench", "--test", "api"])
        .args(["--message-format", "json-render-diagnostics"]);
    // This test runs from <target>/<profile>/deps/.
    let exe = std::env::current_exe().expect("the test's own path");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .and_then(|p| p.to_str())
        .unwrap_or("debug");
    match profile {
        "debug" => {}
        "release" => {
            cargo.arg("--release");
        }
        other => {
            cargo.args(["--profile", other]);
        }
    }
    let out = cargo.output().expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo could not build the benchmark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "bench")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo names the benchmark's executable")
}

#[test]
#[ignore = "needs wrk and redis-server; .ci/run runs it with --include-ignored"]
fn the_benchmark_runs_on_a_small_load_and_prints_its_table() {
    let out = Command::new(bench_binary())
        .arg("--quick")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the benchmark starts");
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the benchmark failed (it needs wrk and redis-server): {err}\n{text}"
    );
    for row in [
        "| cert 404, HTTP keep-alive |",
        "| cert 404, HTTPS keep-alive |",
        "| cert OK, HTTP keep-alive |",
        "| cert OK, HTTPS keep-alive |",
        "| cert OK, 100 sandboxes live, HTTP keep-alive |",
        "| cert 404 through Redis, HTTP keep-alive |",
        "| cert 404 through Redis, HTTPS keep-alive |",
        "| cert OK through Redis, HTTP keep-alive |",
        "| cert OK through Redis, HTTPS keep-alive |",
        "| complete flows",
        "| start-up to /_sim/healthz 200",
        "| resident memory, 10000 live tokens |",
        "| resident memory after expiry and sweep",
        "targets: ",
    ] {
        assert!(text.contains(row), "no {row:?} in:\n{text}");
    }
    // Every load row has figures for both servers and a ratio; every Redis row says where its
    // CPU time went, in the server and in Redis, for both.
    let rows = |columns: usize| {
        text.lines()
            .filter(|l| l.starts_with("| cert "))
            .map(|l| l.split('|').map(str::trim).collect::<Vec<&str>>())
            .filter(move |cells| cells.len() == columns + 2)
            .collect::<Vec<_>>()
    };
    let costs = rows(7);
    assert_eq!(costs.len(), 4, "{text}");
    for cells in costs {
        let us: Vec<f64> = cells[2..6]
            .iter()
            .map(|c| c.parse().expect("µs a call"))
            .collect();
        // The servers' CPU is measured in 10 ms ticks over the row: never nothing.
        assert!(us[0] > 0.0 && us[2] > 0.0, "{cells:?}");
    }
    let commands = rows(3);
    assert_eq!(commands.len(), 4, "{text}");
    assert!(
        commands.iter().all(|c| c[2].contains("evalsha")),
        "{commands:?}"
    );
    let loads = rows(9);
    assert_eq!(loads.len(), 9, "{text}");
    for cells in loads {
        let rps: f64 = cells[2].parse().expect("simulator req/s");
        let reference: f64 = cells[5].parse().expect("reference req/s");
        let ratio: f64 = cells[8].parse().expect("ratio");
        assert!(rps > 0.0 && reference > 0.0, "{cells:?}");
        assert!((ratio - rps / reference).abs() < 0.01, "{cells:?}");
    }
}

#[test]
#[ignore = "needs valgrind; .ci/run runs it with --include-ignored"]
fn the_instruction_counts_run_and_print_a_row_for_each_path() {
    let out = Command::new(bench_binary())
        .args(["--instructions", "--quick"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the benchmark starts");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the benchmark failed (it needs valgrind): {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    for row in ["cert 404, HTTP keep-alive", "cert OK, HTTP keep-alive"] {
        let cells: Vec<&str> = text
            .lines()
            .find(|l| l.starts_with(&format!("| {row} |")))
            .unwrap_or_else(|| panic!("no {row:?} in:\n{text}"))
            .split('|')
            .map(str::trim)
            .collect();
        let simulator: f64 = cells[2].parse().expect("instructions a call");
        let reference: f64 = cells[3].parse().expect("instructions a call");
        let ratio: f64 = cells[4].parse().expect("a ratio");
        // A call is thousands of instructions in either server: a count of nothing, or of the
        // whole process, would be off by orders of magnitude (a debug build counts about ten times
        // what a release build does).
        assert!((5_000.0..5_000_000.0).contains(&simulator), "{cells:?}");
        assert!((5_000.0..5_000_000.0).contains(&reference), "{cells:?}");
        assert!((ratio - reference / simulator).abs() < 0.01, "{cells:?}");
    }
}
