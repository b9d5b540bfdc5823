//! The whole program: the command line parsed, then either the simulator served until it is
//! stopped, or `conform` run (`app/conform.rs`).

use super::application::Application;

/// The whole program: parse settings from `args`, start, serve until stopped.
pub async fn main_with_args(args: Vec<std::ffi::OsString>) -> std::process::ExitCode {
    use clap::Parser;
    let settings = match super::cli::Cli::try_parse_from(args) {
        Ok(cli) => match cli.into_command() {
            super::cli::Command::Serve(settings) => settings,
            super::cli::Command::Conform(args) => return super::conform::conform(args).await,
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
    let _logs = super::telemetry::init(&settings, super::telemetry::Sink::Stdout);
    // From here on a stop signal is ours: one that comes while the store is still awaited (a
    // Redis not up yet) ends the start at once, instead of being ignored or lost.
    let mut signals = super::lifecycle::Signals::listen();
    if settings.stop_when_stdin_closes {
        signals = signals.with_stdin();
    }
    let store = settings.store.clone();
    let built = tokio::select! {
        built = Application::build(settings) => built,
        signal = signals.next() => {
            super::lifecycle::stopped_while_starting(signal, &store);
            return std::process::ExitCode::SUCCESS;
        }
    };
    let app = match built {
        Ok(app) => app,
        Err(e) => {
            eprintln!("benecafe-sim: cannot start: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    app.announce().await;
    if let Err(e) = app.write_ready_file() {
        eprintln!("benecafe-sim: cannot start: {e:#}");
        return std::process::ExitCode::FAILURE;
    }
    match app.run_until_signalled(signals).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("benecafe-sim: server error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
