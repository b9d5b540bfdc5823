//! The command line: `benecafe-sim [serve] [FLAGS]` runs the simulator (the default, so every
//! existing invocation keeps working); further subcommands (`conform`) take the same flags.

use clap::{Parser, Subcommand};

use crate::settings::Settings;

/// A local stand-in for the eZenedu welfare mall (benecafe), as its partner vendors see it.
#[derive(Debug, Parser)]
#[command(
    name = "benecafe-sim",
    version,
    about,
    long_about = None,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The settings of `serve`, given without the word.
    #[command(flatten)]
    pub serve: Settings,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the simulator (the default).
    Serve(Settings),
}

impl Cli {
    /// The command to run: `serve` when none is named.
    pub fn into_command(self) -> Command {
        self.command.unwrap_or(Command::Serve(self.serve))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_is_the_default_and_takes_the_same_flags() {
        let plain = Cli::parse_from(["benecafe-sim", "--http-addr", "127.0.0.1:9000"]);
        let named = Cli::parse_from(["benecafe-sim", "serve", "--http-addr", "127.0.0.1:9000"]);
        for cli in [plain, named] {
            let Command::Serve(s) = cli.into_command();
            assert_eq!(s.http_addr.port(), 9000);
        }
    }
}
