//! The whole program: the command line parsed, then either the simulator served until it is
//! stopped, or `conform` run against a simulator of its own.

use std::time::Duration;

use super::application::Application;

/// The whole program: parse settings from `args`, start, serve until stopped.
pub async fn main_with_args(args: Vec<std::ffi::OsString>) -> std::process::ExitCode {
    use clap::Parser;
    let settings = match super::cli::Cli::try_parse_from(args) {
        Ok(cli) => match cli.into_command() {
            super::cli::Command::Serve(settings) => settings,
            super::cli::Command::Conform(args) => return conform(args).await,
        },
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                std::process::ExitCode::from(2)
            } else {
                std::process::ExitCode::SUCCESS
            };
        }
    };
    let _logs = super::telemetry::init(&settings);
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("benecafe-sim: cannot start: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    app.announce().await;
    match app.run_until_stopped().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("benecafe-sim: server error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `benecafe-sim conform`: starts the simulator, runs every case against the vendor's GATE,
/// writes the reports. Exit 0 when every case passes, 1 when one fails, 2 when it cannot run.
async fn conform(args: super::cli::ConformArgs) -> std::process::ExitCode {
    let _logs = super::telemetry::init(&args.settings);
    let could_not = |why: String| {
        eprintln!("benecafe-sim conform: cannot run: {why}");
        std::process::ExitCode::from(2)
    };
    let app = match Application::build(args.settings.clone()).await {
        Ok(app) => app,
        Err(e) => return could_not(format!("{e:#}")),
    };
    let state = app.state().clone();
    let handle = app.handle();
    let server = actix_web::rt::spawn(app.run_until_stopped());
    let timeout = Duration::from_secs(args.timeout_seconds.max(1));
    let result =
        crate::web::api::conform::run_kit(&state, &args.vendor, args.member.as_deref(), timeout)
            .await;
    handle.stop(true).await;
    let _ = server.await;
    let report = match result {
        Ok(r) => r,
        Err(why) => return could_not(why),
    };
    print!("{}", crate::conform::report::table(&report));
    let write = |path: &Option<std::path::PathBuf>, text: String| match path {
        Some(p) => {
            std::fs::write(p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))
        }
        None => Ok(()),
    };
    if let Err(e) = write(&args.junit, crate::conform::report::junit(&report))
        .and_then(|_| write(&args.html, crate::conform::report::html(&report)))
    {
        return could_not(e);
    }
    std::process::ExitCode::from(report.exit_code())
}
