//! The benchmark runs and prints its table on a small load. No timing is asserted: machines are
//! noisy; the figures are for people.

#[test]
#[ignore = "needs wrk and redis-server; .ci/run runs it with --include-ignored"]
fn the_benchmark_runs_on_a_small_load_and_prints_its_table() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bench"))
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
    // Every load row has figures for both servers and a ratio.
    for line in text.lines().filter(|l| l.starts_with("| cert ")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let rps: f64 = cells[2].parse().expect("simulator req/s");
        let reference: f64 = cells[5].parse().expect("reference req/s");
        let ratio: f64 = cells[8].parse().expect("ratio");
        assert!(rps > 0.0 && reference > 0.0, "{line}");
        assert!((ratio - rps / reference).abs() < 0.01, "{line}");
    }
}
