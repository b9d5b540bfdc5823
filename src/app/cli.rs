//! The command line: `benecafe-sim [serve] [FLAGS]` runs the simulator (the default, so every
//! existing invocation keeps working); further subcommands (`conform`) take the same flags.

use clap::{Parser, Subcommand};

use crate::app::settings::Settings;
use crate::conform::Case;

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
    /// Test a partner's GATE the way the mall's onboarding would: start the simulator (on free
    /// loopback ports unless --https-addr or --http-addr is given), or use a running one
    /// (--against), post GATE forms to the vendor's GATE URL, judge what the partner did. Exit
    /// 0: every case passed; 1: a case failed; 2: it could not run.
    #[command(
        mut_arg("https_addr", |a| a.default_value("127.0.0.1:0")),
        mut_arg("http_addr", |a| a.default_value("127.0.0.1:0"))
    )]
    Conform(ConformArgs),
}

/// `conform`'s own flags; every simulator flag applies too.
#[derive(Debug, clap::Args)]
pub struct ConformArgs {
    /// The vendor whose GATE is tested (its `gateUrl` from the fixtures, or from the running
    /// simulator's directory with --against).
    #[arg(long = "vendor")]
    pub vendor: String,
    /// Run the cases on an already running simulator instead of one of this process's own: its
    /// plain-HTTP base URL (e.g. http://127.0.0.1:8080). Its control API runs them (POST
    /// /_sim/api/conform, with --control-token as the bearer token when given), so its run-time
    /// vendors and members, its store and replicas and its CA are the ones used; the other
    /// simulator flags are not.
    #[arg(long, value_name = "URL")]
    pub against: Option<String>,
    /// A case not to run, by its id (repeatable); it is reported skipped "on request".
    #[arg(long = "skip", value_name = "CASE", value_parser = parse_case)]
    pub skip: Vec<Case>,
    /// The port of the spoofed-cus-url case's listener on 127.0.0.2 (default: any free port),
    /// for a firewall that opens only the ports it names; a pinned port that cannot be bound
    /// stops the run.
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub decoy_port: Option<u16>,
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

fn parse_case(id: &str) -> Result<Case, String> {
    Case::parse(id)
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
        // conform's own simulator takes free ports unless told otherwise.
        assert_eq!(c.settings.https_addr.port(), 0);
        assert_eq!(c.settings.http_addr.port(), 0);
        let Command::Serve(s) = Cli::parse_from(["benecafe-sim"]).into_command() else {
            panic!("serve")
        };
        assert_eq!((s.https_addr.port(), s.http_addr.port()), (8443, 8080));
    }

    #[test]
    fn a_stop_drains_5_s_with_redis_and_not_at_all_with_memory_unless_told() {
        let drain = |args: &[&str]| {
            let cli = Cli::parse_from(["benecafe-sim"].iter().chain(args));
            let Command::Serve(s) = cli.into_command() else {
                panic!("serve")
            };
            s.drain().as_secs()
        };
        assert_eq!(drain(&[]), 0);
        assert_eq!(drain(&["--store", "redis://127.0.0.1:6379/0"]), 5);
        let told = [
            "--store",
            "redis://127.0.0.1:6379/0",
            "--drain-seconds",
            "0",
        ];
        assert_eq!(drain(&told), 0);
        assert_eq!(drain(&["--drain-seconds", "12"]), 12);
        assert!(Cli::try_parse_from(["benecafe-sim", "--drain-seconds", "601"]).is_err());
    }

    #[test]
    fn conform_skips_cases_by_id_and_names_the_ids_when_one_is_unknown() {
        let args = [
            "benecafe-sim",
            "conform",
            "--vendor",
            "VR1",
            "--skip",
            "baro-item",
        ];
        let cli = Cli::parse_from(args.into_iter().chain(["--skip", "direct-url"]));
        let Command::Conform(c) = cli.into_command() else {
            panic!("conform")
        };
        assert_eq!(c.skip, [Case::BaroItem, Case::DirectUrl]);
        let e = Cli::try_parse_from(args.into_iter().chain(["--skip", "nope"])).unwrap_err();
        assert!(e.to_string().contains("first-visit, later-visit"), "{e}");
    }
}
