//! The `benecafe-sim` binary: everything is in the library (`src/lib.rs`), so the tests, the
//! fuzz targets and the benchmark run the code this runs.

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    benecafe_sim::app::main_with_args(std::env::args_os().collect()).await
}
