//! The benchmark: `cargo run --release --bin bench` (add `-- --quick` for a short smoke run,
//! `-- --redis-only` for the Redis rows alone, `-- --instructions` for the instructions a cert
//! call costs, counted by valgrind: repeatable where requests a second are not).
//!
//! A crate of its own, beside the simulator's, so that the product carries no benchmark code
//! and none of the benchmark's dependencies; it uses the simulator as a library through one call
//! ([`serve_simulator`]).
//!
//! It measures, in one run and on this machine, the cert endpoint against a reference server
//! built in here (a bare actix-web server answering a fixed JSON body of the same size), over
//! HTTP and HTTPS keep-alive, on the 404 and the OK path; complete flows (GATE through the
//! control API, then the cert call); start-up time; and resident memory with many live tokens.
//! The load generator is `wrk` (Debian's `wrk` package). Both servers run as child processes of
//! this binary, each with one worker thread, and wrk with one thread, so that on a 2-core machine
//! server and load generator each have a core. The ratios are the figures that carry over from
//! machine to machine; the absolute numbers do not.
//!
//! A second table holds the Redis rows: a real `redis-server` (Debian's `redis-server` package)
//! started here on a loopback port without persistence, the simulator with `--store` on it (one
//! EVALSHA of its cert script a call), and a second reference, a bare actix-web server that
//! answers from one GETDEL a call through one connection manager. The cert 404 and OK paths,
//! over HTTP and HTTPS keep-alive; on the OK path each call of either server consumes a fresh key.
//!
//! The modules: `run` measures, `report` prints, `load` drives wrk, `instructions` counts
//! under callgrind, `servers` starts and stops
//! the child processes, `reference` is the reference servers, `client` the few HTTP calls
//! around the load.

mod client;
mod instructions;
mod load;
mod reference;
mod report;
mod run;
mod servers;

use std::ffi::OsString;
use std::process::ExitCode;

/// The first argument of a child that runs the simulator, in this binary.
const SERVE_SIMULATOR: &str = "--serve-simulator";
/// The first argument of a child that runs the reference answering fixed bodies.
const SERVE_REFERENCE: &str = "--serve-reference";
/// The first argument of a child that runs the reference answering from Redis.
const SERVE_REDIS_REFERENCE: &str = "--serve-redis-reference";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    match args.get(1).and_then(|a| a.to_str()) {
        Some(SERVE_SIMULATOR) => serve_simulator(&args[2..]),
        Some(SERVE_REFERENCE) => reference::serve(&args[2..]),
        Some(SERVE_REDIS_REFERENCE) => reference::serve_redis(&args[2..]),
        _ => {
            let quick = args.iter().any(|a| a == "--quick");
            let result = if args.iter().any(|a| a == "--instructions") {
                run::instructions(quick)
            } else {
                run::run(quick)
            };
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("bench: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// The simulator with the command-line arguments `args`, in this process, as `benecafe-sim`
/// runs it: the start-up rows time this. The benchmark's one call into the simulator's library.
fn serve_simulator(args: &[OsString]) -> ExitCode {
    let mut sim_args = vec![OsString::from("benecafe-sim")];
    sim_args.extend(args.iter().cloned());
    actix_web::rt::System::new().block_on(benecafe_sim::app::main_with_args(sim_args))
}
