//! The child processes a run starts: the simulator and the references (this binary again, in
//! another mode), and `redis-server`. Each is killed when its handle is dropped, so that no run,
//! nor an error on its way, leaves one behind. Also what a run reads about them: readiness, free
//! ports, resident memory, and the Redis data the Redis reference answers from.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child server; killed when dropped.
pub struct Server {
    pub child: Child,
    pub http: u16,
    pub https: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `redis-server` child on a loopback port, saving nothing; killed when dropped.
pub struct RedisServer {
    pub child: Child,
    pub port: u16,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `redis-server` on a free loopback port without persistence (working folder `dir`) and
/// waits until it answers PING: the store the Redis rows share.
pub fn spawn_redis(dir: &Path) -> Result<RedisServer, String> {
    let port = free_port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            format!("cannot run redis-server ({e}): install it (apt-get install redis-server)")
        })?;
    let mut server = RedisServer { child, port };
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!("redis-server exited at start ({status})"));
        }
        if redis_ping(port) {
            return Ok(server);
        }
        if start.elapsed() > Duration::from_secs(10) {
            return Err("redis-server did not answer PING in 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether Redis on `port` answers PING.
fn redis_ping(port: u16) -> bool {
    let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{port}/")) else {
        return false;
    };
    client
        .get_connection_with_timeout(Duration::from_secs(1))
        .and_then(|mut conn| redis::cmd("PING").query::<String>(&mut conn))
        .is_ok_and(|answer| answer == "PONG")
}

/// A blocking connection to the Redis database `url`, for setting up and checking rows.
fn redis_conn(url: &str) -> Result<redis::Connection, String> {
    redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .map_err(|e| format!("Redis at {url}: {e}"))
}

/// Stores `ref:<token>` for every token, 1000 SETs a pipeline, so that each cert call of the
/// Redis reference consumes a fresh key as the simulator's consume a fresh token.
pub fn seed_reference(url: &str, tokens: &[String]) -> Result<(), String> {
    let mut conn = redis_conn(url)?;
    for chunk in tokens.chunks(1000) {
        let mut pipe = redis::pipe();
        for t in chunk {
            pipe.cmd("SET").arg(format!("ref:{t}")).arg(1).ignore();
        }
        pipe.query::<()>(&mut conn)
            .map_err(|e| format!("Redis at {url}: {e}"))?;
    }
    Ok(())
}

/// Keys in the reference's database, which holds only its `ref:` keys: those not yet consumed.
pub fn reference_keys(url: &str) -> Result<u64, String> {
    redis::cmd("DBSIZE")
        .query(&mut redis_conn(url)?)
        .map_err(|e| format!("Redis at {url}: {e}"))
}

/// The installed `redis-server`'s version, for the method line.
pub fn redis_version() -> String {
    Command::new("redis-server")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .find_map(|w| w.strip_prefix("v=").map(String::from))
        })
        .unwrap_or_else(|| "(version unknown)".into())
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// The shipped fixtures: `fixtures/` here when run from the repository's root, else the
/// repository's, next to this crate.
pub fn fixtures_dir() -> PathBuf {
    let here = PathBuf::from("fixtures");
    if here.join("vendors.json").exists() {
        here
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
    }
}

/// Waits until the server answers 200 on `/_sim/healthz` (both the simulator and the references
/// do); how long that took.
pub fn wait_ready(port: u16, child: &mut Child) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("the server exited at start ({status})"));
        }
        if let Ok((200, _)) = crate::client::get(port, "/_sim/healthz") {
            return Ok(start.elapsed());
        }
        if start.elapsed() > Duration::from_secs(30) {
            return Err("the server did not become ready in 30 s".into());
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

/// Starts the simulator (this binary in simulator mode) on free ports with the shipped fixtures,
/// the data folder `data`, one worker and the arguments `extra`; when it was started.
pub fn spawn_simulator(data: &Path, extra: &[&str]) -> Result<(Server, Instant), String> {
    let (https, http) = (free_port(), free_port());
    let started = Instant::now();
    let child = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
        .arg(crate::SERVE_SIMULATOR)
        .args(["--https-addr", &format!("127.0.0.1:{https}")])
        .args(["--http-addr", &format!("127.0.0.1:{http}")])
        .arg("--fixtures")
        .arg(fixtures_dir())
        .arg("--data-dir")
        .arg(data)
        .args(["--workers", "1", "--log", "info", "--allow-plain-http-cert"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    Ok((Server { child, http, https }, started))
}

/// Starts a reference server (`mode`: [`crate::SERVE_REFERENCE`], or
/// [`crate::SERVE_REDIS_REFERENCE`] with its Redis URL) on free ports, answering the saved
/// bodies `ok` and `nf`.
pub fn spawn_reference(
    mode: &str,
    ok: &Path,
    nf: &Path,
    redis: Option<&str>,
) -> Result<Server, String> {
    let (https, http) = (free_port(), free_port());
    let child = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
        .arg(mode)
        .arg(format!("127.0.0.1:{https}"))
        .arg(format!("127.0.0.1:{http}"))
        .arg(ok)
        .arg(nf)
        .args(redis)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    Ok(Server { child, http, https })
}

/// The resident memory of process `pid` in KiB (`VmRSS`), 0 if unknown.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The CPU time process `pid` has used so far (user and system), in microseconds; 0 if unknown.
pub fn cpu_us(pid: u32) -> u64 {
    // Fields 14 and 15 of /proc/<pid>/stat, after the command's closing parenthesis, in clock
    // ticks (100 a second on Linux).
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
        return 0;
    };
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) * 10_000
}

/// What Redis has run so far, by command (`INFO commandstats`): calls and microseconds.
pub fn command_stats(url: &str) -> std::collections::BTreeMap<String, (u64, u64)> {
    let info: String = redis_conn(url)
        .and_then(|mut c| {
            redis::cmd("INFO")
                .arg("commandstats")
                .query(&mut c)
                .map_err(|e| e.to_string())
        })
        .unwrap_or_default();
    let mut stats = std::collections::BTreeMap::new();
    for line in info.lines() {
        // cmdstat_evalsha:calls=10,usec=55,usec_per_call=5.50,...
        let Some((name, fields)) = line
            .strip_prefix("cmdstat_")
            .and_then(|l| l.split_once(':'))
        else {
            continue;
        };
        let field = |key: &str| {
            fields
                .split(',')
                .find_map(|f| f.strip_prefix(key))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        stats.insert(name.to_owned(), (field("calls="), field("usec=")));
    }
    stats
}
