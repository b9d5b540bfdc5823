#[actix_web::main]
async fn main() -> std::process::ExitCode {
    benecafe_sim::startup::main_with_args(std::env::args_os().collect()).await
}
