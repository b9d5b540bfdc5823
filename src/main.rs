#[actix_web::main]
async fn main() -> std::process::ExitCode {
    benecafe_sim::app::main_with_args(std::env::args_os().collect()).await
}
