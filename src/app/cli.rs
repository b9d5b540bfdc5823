//! The command line: `benecafe-sim [serve] [FLAGS]` runs the simulator (the default, so every
//! existing invocation keeps working); further subcommands (`conform`) take the same flags.

use clap::{Parser, Subcommand};

use crate::app::settings::Settings;

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
    /// Test a partner's GATE the way the mall's onboarding would: start the simulator, post
    /// GATE forms to the vendor's GATE URL, judge what the partner did. Exit 0: every case
    /// passed; 1: a case failed; 2: it could not run.
    Conform(ConformArgs),
}

/// `conform`'s own flags; every simulator flag applies too.
#[derive(Debug, clap::Args)]
pub struct ConformArgs {
    /// The vendor whose GATE is tested (its `gateUrl` from the fixtures).
    #[arg(long = "vendor")]
    pub vendor: String,
    /// The member to test with. Default: the first active member (by key) of a company served
    /// on the simulator's own domain, else of any company.
    #[arg(long)]
    pub member: Option<String>,
    /// Write a JUnit XML report here.
    #[arg(long)]
    pub junit: Option<std::path::PathBuf>,
    /// Write an HTML report here.
    #[arg(long)]
    pub html: Option<std::path::PathBuf>,
    /// How long to wait for the partner's cert call, in seconds.
    #[arg(long, default_value_t = 5)]
    pub timeout_seconds: u64,
    #[command(flatten)]
    pub settings: Settings,
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
            let Command::Serve(s) = cli.into_command() else {
                panic!("serve")
            };
            assert_eq!(s.http_addr.port(), 9000);
        }
        let conform = Cli::parse_from([
            "benecafe-sim",
            "conform",
            "--vendor",
            "VR1",
            "--junit",
            "j.xml",
        ]);
        let Command::Conform(c) = conform.into_command() else {
            panic!("conform")
        };
        assert_eq!((c.vendor.as_str(), c.timeout_seconds), ("VR1", 5));
    }
}
