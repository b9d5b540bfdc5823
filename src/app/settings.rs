//! Every setting of the simulator: one `clap` struct, each field a flag with an environment
//! variable, so that `--help` is the settings reference.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use ipnet::IpNet;

pub use crate::protocol::CertStatus;
pub use crate::web::client_ip::ForwardedHeader;

/// The simulator's settings (the flags of `serve` and of every subcommand that runs it).
#[derive(Debug, Clone, Parser)]
#[command(name = "benecafe-sim")]
pub struct Settings {
    /// Address of the HTTPS listener (the mall's `CUS_URL`: cert endpoint, CHECKURL, pages,
    /// control API). Port 0 picks a free port.
    #[arg(long, env = "SIM_HTTPS_ADDR", default_value = "127.0.0.1:8443")]
    pub https_addr: SocketAddr,

    /// Address of the plain-HTTP listener (pages, control API; the cert endpoint refuses plain
    /// HTTP unless --allow-plain-http-cert).
    #[arg(long, env = "SIM_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,

    /// Folder of the fixture files (companies.json, members.json, vendors.json, consents.json).
    /// Default: a `fixtures` folder in the working directory if there is one, else the fixtures
    /// built into the binary.
    #[arg(long, env = "SIM_FIXTURES")]
    pub fixtures: Option<PathBuf>,

    /// PEM certificate chain for the HTTPS listener. Without it the simulator makes a local CA
    /// at first start (kept in --data-dir as ca.pem, the file partners trust) and signs a
    /// certificate with it for each host it serves, chosen by SNI.
    #[arg(long, env = "SIM_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for --tls-cert.
    #[arg(long, env = "SIM_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// More host names for the generated certificates (comma-separated), besides localhost,
    /// 127.0.0.1, ::1, the public URLs' hosts and every company's `cusUrl` host. The local CA
    /// may sign only for those, `*.localhost`, loopback addresses and `*.benecafe.co.kr` (its
    /// name constraints): name here a mall domain elsewhere that companies added at run time
    /// will use. A CA that may not sign for a name given is made anew.
    #[arg(long, env = "SIM_TLS_HOSTS", value_delimiter = ',')]
    pub tls_hosts: Vec<String>,

    /// Folder where the local CA (ca.pem and its key) is kept. Default: the platform's data
    /// folder ($XDG_DATA_HOME or ~/.local/share)/benecafe-sim, else ./.sim-data.
    #[arg(long, env = "SIM_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Public HTTPS base URL, sent as `CUS_URL` (as a partner sees `https://cert.benecafe.co.kr`).
    /// Default: `https://localhost:<https port>`. A company's `cusUrl` that names no port gets
    /// this URL's port.
    #[arg(long, env = "SIM_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Public plain-HTTP base URL, used for pages a browser opens (POPUPURL, the built-in
    /// partner's GATE URL). Default: `http://127.0.0.1:<http port>` (another site than a partner on
    /// localhost, as the mall is in production).
    #[arg(long, env = "SIM_PUBLIC_HTTP_URL")]
    pub public_http_url: Option<String>,

    /// Lifetime of an OTP token in seconds, unless the vendor sets its own.
    #[arg(long, env = "SIM_TOKEN_TTL_SECONDS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub token_ttl_seconds: u64,

    /// How long a used or expired token is remembered after its expiry (to answer 404 "already
    /// used" or 401 "expired" rather than 404 "unknown") before it is forgotten, in seconds.
    #[arg(long, env = "SIM_TOKEN_RETENTION_SECONDS", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(0..=31_536_000))]
    pub token_retention_seconds: u64,

    /// Most tokens live (issued, unused, unexpired) at once; issuing past it answers 503.
    #[arg(long, env = "SIM_MAX_LIVE_TOKENS", default_value_t = 1_000_000)]
    pub max_live_tokens: usize,

    /// Proxies whose X-Forwarded-For / Forwarded headers are believed, comma-separated
    /// addresses or networks. From any other peer these headers are ignored.
    #[arg(long, env = "SIM_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_net)]
    pub trusted_proxies: Vec<IpNet>,

    /// Let the cert endpoint answer over plain HTTP too. The real mall never does; the start-up
    /// log says so loudly.
    #[arg(long, env = "SIM_ALLOW_PLAIN_HTTP_CERT")]
    pub allow_plain_http_cert: bool,

    /// How the cert endpoint's HTTP status relates to its resultCode: `always-200` as the real
    /// mall does, or `mirror` (OK is 200, 400/401/403/404 become that status).
    #[arg(long, env = "SIM_CERT_STATUS", value_enum, default_value_t = CertStatus::Always200)]
    pub cert_status: CertStatus,

    /// Send the member fields on every GATE, not only the first time and after a change.
    #[arg(long, env = "SIM_FORCE_MEMBER_FIELDS")]
    pub force_member_fields: bool,

    /// Most sandboxes (isolated copies of the mall, `POST /_sim/api/sandboxes`) at once; making
    /// one more answers 429.
    #[arg(long, env = "SIM_MAX_SANDBOXES", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub max_sandboxes: u64,

    /// Events kept in the journal (a ring: the oldest go first).
    #[arg(long, env = "SIM_JOURNAL_CAPACITY", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub journal_capacity: u64,

    /// Reload the fixtures folder when a file in it changes (polled twice a second); a change
    /// that does not validate is logged and the previous fixtures stay.
    #[arg(long, env = "SIM_WATCH")]
    pub watch: bool,

    /// Where the shared state lives: `memory` (this process, the default) or a Redis URL,
    /// `redis://[:password@]HOST:PORT/DB` or `rediss://…` for TLS. Replicas given the same Redis
    /// share tokens, consents, run-time fixture changes, faults, the journal and the cookie key.
    #[arg(
        long,
        env = "SIM_STORE",
        default_value = "memory",
        hide_env_values = true
    )]
    pub store: crate::store::StoreKind,

    /// Bearer token for the control API (`/_sim/api/`). When set it is always required; when
    /// not set the control API is open on loopback, and a token is generated and printed as
    /// soon as the simulator is reachable from a network (a listener beyond loopback,
    /// --trusted-proxies, or a non-local host in --public-url, --public-http-url or
    /// --allowed-hosts).
    #[arg(long, env = "SIM_CONTROL_TOKEN", hide_env_values = true)]
    pub control_token: Option<String>,

    /// Host names (besides localhost, *.localhost, 127.0.0.1, ::1, the public URLs' hosts and
    /// the bound addresses) that requests may name in `Host` and `Origin`, comma-separated;
    /// `.example.com` also admits its subdomains, `*` admits any (turns off the DNS-rebinding
    /// defence). Other names get 421.
    #[arg(long, env = "SIM_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// Leave the browser pages (mall, demo, journal, built-in partner) open to anyone who can
    /// reach the simulator when it listens beyond loopback. By default they then need a sign-in
    /// with the control token once; the start-up log says loudly when this is on.
    #[arg(long, env = "SIM_OPEN_PAGES")]
    pub open_pages: bool,

    /// The one forwarding header the trusted proxies set: `x-forwarded-for` or `forwarded`.
    /// Default `auto`: either, and both present must name the same client. From a trusted proxy,
    /// a header that names no usable client address gets 403.
    #[arg(long, env = "SIM_FORWARDED_HEADER", value_enum, default_value_t = ForwardedHeader::Auto)]
    pub forwarded_header: ForwardedHeader,

    /// Seconds a client has to send a whole request body; a slower body gets 408.
    #[arg(long, env = "SIM_BODY_TIMEOUT_SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout_seconds: u64,

    /// Most bytes the journal holds (besides --journal-capacity events); the oldest events go
    /// first. Each event's text fields are cut to a few hundred bytes.
    #[arg(long, env = "SIM_JOURNAL_MAX_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub journal_max_bytes: usize,

    /// Keep state across restarts in this file (off by default): live tokens, consents, delivery
    /// memory, run-time fixture changes and the journal. Saved atomically every few seconds
    /// when something changed, and at shutdown.
    #[arg(long, env = "SIM_STATE")]
    pub state: Option<PathBuf>,

    /// Seconds between saves of --state (only when something changed).
    #[arg(long, env = "SIM_STATE_INTERVAL_SECONDS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub state_interval_seconds: u64,

    /// Longest query string accepted, in bytes; longer requests get 414.
    #[arg(long, env = "SIM_MAX_QUERY_BYTES", default_value_t = 4096)]
    pub max_query_bytes: usize,

    /// Largest request body accepted, in bytes; larger requests get 413.
    #[arg(long, env = "SIM_MAX_BODY_BYTES", default_value_t = 65_536)]
    pub max_body_bytes: usize,

    /// Worker threads of each HTTP server (1 to 256). Default: one per core.
    #[arg(long, env = "SIM_WORKERS",
          value_parser = clap::builder::TypedValueParser::map(clap::value_parser!(u16).range(1..=256), usize::from))]
    pub workers: Option<usize>,

    /// Seconds between SIGTERM (or Ctrl-C) and the stop: `/_sim/readyz` answers 503 "draining"
    /// while requests are still served, so that a load balancer's health check takes the
    /// replica out first. Default: 5 with a Redis --store (replicas behind a load balancer), 0
    /// with `memory`. A second signal stops at once.
    #[arg(long, env = "SIM_DRAIN_SECONDS",
          value_parser = clap::value_parser!(u64).range(0..=600))]
    pub drain_seconds: Option<u64>,

    /// Log filter (tracing's env-filter syntax), e.g. `info` or `benecafe_sim=debug`.
    #[arg(long, env = "SIM_LOG", default_value = "info")]
    pub log: String,

    /// Log format: `text` lines, or `json` (one flat object a line: ts, level, msg, then the
    /// fields). Default: text when the log goes to a terminal, json otherwise. The simulator
    /// logs to stdout (`conform` to stderr, its report being on stdout).
    #[arg(long, env = "SIM_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,

    /// This replica's name, in every journal event it records, the `X-Sim-Replica` header of
    /// every answer, `/_sim/healthz`, `/_sim/version` and the request log lines (letters,
    /// digits, `.`, `_`, `-`; at most 64). Default: the host name and a short random suffix,
    /// new at each start (e.g. `qa-box-3f9a`).
    #[arg(long, env = "SIM_REPLICA_ID", value_parser = parse_replica_id)]
    pub replica_id: Option<String>,

    /// Once both listeners are up, write where they are to this file, as one JSON object:
    /// `cusUrl`, `httpUrl`, `caPath`, `httpsAddr`, `httpAddr`, `pid`, `version` (written to a
    /// temporary file beside it, then renamed: a reader never sees half of it). For a test
    /// helper that starts the simulator on port 0 and waits for the file.
    #[arg(long, env = "SIM_READY_FILE")]
    pub ready_file: Option<PathBuf>,

    /// Stop (as on SIGTERM) when standard input reaches its end. A test helper starts the
    /// simulator with a pipe as its standard input and never writes to it: when the test process
    /// ends, however it ends (killed too), the pipe closes and the simulator stops with it. Off
    /// by default: a simulator started with no input (`< /dev/null`, a service) would stop at once.
    #[arg(long, env = "SIM_STOP_WHEN_STDIN_CLOSES")]
    pub stop_when_stdin_closes: bool,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

fn parse_replica_id(s: &str) -> Result<String, String> {
    let s = s.trim();
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if s.is_empty() || s.len() > MAX_REPLICA_ID || !s.chars().all(allowed) {
        return Err(format!(
            "a replica id is 1 to {MAX_REPLICA_ID} letters, digits, '.', '_' or '-'"
        ));
    }
    Ok(s.to_owned())
}

/// The longest replica id (it goes in a header of every answer).
const MAX_REPLICA_ID: usize = 64;

/// The host name (from the kernel, else `$HOSTNAME`, else `sim`) cut to what a replica id may
/// hold, and a short random suffix: two replicas on one host, or one restarted, differ.
fn default_replica_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let mut host: String = host
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(MAX_REPLICA_ID - 5)
        .collect();
    if host.is_empty() {
        host = "sim".into();
    }
    format!("{host}-{:04x}", rand::random::<u16>())
}

fn parse_net(s: &str) -> Result<IpNet, String> {
    crate::domain::records::parse_allowed(s.trim())
}

impl Settings {
    /// The settings for a test: both listeners on free loopback ports, the given fixtures.
    pub fn for_tests(fixtures: PathBuf, data_dir: PathBuf) -> Self {
        let mut s = Settings::parse_from(["benecafe-sim"]);
        s.https_addr = "127.0.0.1:0".parse().expect("valid address");
        s.http_addr = "127.0.0.1:0".parse().expect("valid address");
        s.fixtures = Some(fixtures);
        s.data_dir = Some(data_dir);
        s.log = "warn".into();
        s.workers = Some(2);
        s
    }

    /// Where the fixtures come from: the folder named, else `./fixtures` when it exists, else
    /// the built-in set (`None`).
    pub fn fixtures_dir(&self) -> Option<PathBuf> {
        self.fixtures.clone().or_else(|| {
            let here = PathBuf::from("fixtures");
            here.join("companies.json").is_file().then_some(here)
        })
    }

    /// How long a stop drains (see --drain-seconds): 5 s with a Redis store unless given.
    pub fn drain(&self) -> std::time::Duration {
        let default = match self.store {
            crate::store::StoreKind::Memory => 0,
            crate::store::StoreKind::Redis(_) => 5,
        };
        std::time::Duration::from_secs(self.drain_seconds.unwrap_or(default))
    }

    /// This replica's id: the one given, or a new default (host name and a random suffix).
    /// Ask once per start: the default differs at each call.
    pub fn replica_id(&self) -> String {
        self.replica_id.clone().unwrap_or_else(default_replica_id)
    }

    /// The data folder: the one named, or the platform's, or ./.sim-data.
    pub fn data_dir(&self) -> PathBuf {
        if let Some(dir) = &self.data_dir {
            return dir.clone();
        }
        if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(xdg).join("benecafe-sim");
        }
        if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(home).join(".local/share/benecafe-sim");
        }
        PathBuf::from(".sim-data")
    }
}
