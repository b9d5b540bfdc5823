//! The process: the command line and settings, logs, certificates, binding the listeners and
//! running the servers. Everything below it (the HTTP edge, the conformance kit, the protocol,
//! the store) is given what it needs from here.

mod application;
pub(crate) mod cli;
mod conform;
pub mod lifecycle;
mod log_json;
mod ready_file;
#[cfg(test)]
mod reference;
mod run;
mod secrets;
pub mod settings;
pub(crate) mod telemetry;
pub mod tls;
mod tls_ca;
mod tls_scope;
pub(crate) mod watch;

pub use application::Application;
pub use lifecycle::AppHandle;
pub use run::main_with_args;
