use clap::Parser;

use benecafe_sim::settings::Settings;
use benecafe_sim::startup::Application;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    let settings = Settings::parse();
    benecafe_sim::telemetry::init(&settings);
    let app = match Application::build(settings) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("benecafe-sim: cannot start: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    app.announce();
    match app.run_until_stopped().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("benecafe-sim: server error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
