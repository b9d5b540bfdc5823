//! The benchmark: `cargo run --release --bin bench` (add `-- --quick` for a short smoke run).
//!
//! It measures, in one run and on this machine, the cert endpoint against a reference server
//! built in here (a bare actix-web server answering a fixed JSON body of the same size), over
//! HTTP and HTTPS keep-alive, on the 404 and the OK path; complete flows (GATE through the
//! control API, then the cert call); start-up time; and resident memory with many live tokens.
//! The load generator is `wrk` (Debian's `wrk` package). Both servers run as child processes of
//! this binary, each with one worker thread, and wrk with one thread, so that on a 2-core machine
//! server and load generator each have a core. The ratios are the figures that carry over from
//! machine to machine; the absolute numbers do not.
//!
//! A second table holds the Redis rows: a real `redis-server` (Debian's `redis-server` package)
//! started here on a loopback port without persistence, the simulator with `--store` on it (one
//! EVALSHA of its cert script a call), and a second reference, a bare actix-web server that
//! answers from one GETDEL a call through one connection manager. The cert 404 and OK paths,
//! over HTTP and HTTPS keep-alive; on the OK path each call of either server consumes a fresh key.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    match args.get(1).and_then(|a| a.to_str()) {
        Some("--serve-simulator") => {
            let mut sim_args = vec![OsString::from("benecafe-sim")];
            sim_args.extend(args[2..].iter().cloned());
            actix_web::rt::System::new().block_on(benecafe_sim::app::main_with_args(sim_args))
        }
        Some("--serve-reference") => serve_reference(&args[2..]),
        Some("--serve-redis-reference") => serve_redis_reference(&args[2..]),
        _ => {
            let quick = args.iter().any(|a| a == "--quick");
            match run(quick) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("bench: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// What both references start from: their arguments `HTTPS HTTP DATA OK_JSON 404_JSON` read,
/// the listeners bound, the certificate of the data folder, the bodies to answer.
struct ReferenceSetup {
    https: std::net::TcpListener,
    http: std::net::TcpListener,
    tls: rustls::ServerConfig,
    ok_body: web::Bytes,
    nf_body: web::Bytes,
}

fn reference_setup(args: &[OsString]) -> ReferenceSetup {
    let arg = |i: usize| args[i].to_string_lossy().into_owned();
    let body = |i: usize| web::Bytes::from(std::fs::read(arg(i)).expect("body file"));
    let data = PathBuf::from(arg(2));
    ReferenceSetup {
        https: std::net::TcpListener::bind(arg(0)).expect("bind"),
        http: std::net::TcpListener::bind(arg(1)).expect("bind"),
        tls: benecafe_sim::app::tls::TlsMaterial::load_or_generate(None, None, &data, &[])
            .and_then(|m| m.server_config())
            .expect("TLS configuration"),
        ok_body: body(3),
        nf_body: body(4),
    }
}

/// The reference: HTTPS and HTTP listeners like the simulator's, one worker, answering the
/// simulator's own 404 body at the cert path and its OK body at `/ok` + the cert path.
fn serve_reference(args: &[OsString]) -> ExitCode {
    let ReferenceSetup {
        https,
        http,
        tls,
        ok_body,
        nf_body,
    } = reference_setup(args);
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(move || {
            let (ok, nf) = (ok_body.clone(), nf_body.clone());
            App::new()
                .route(
                    "/sso/vendorUserCertTonken",
                    web::get().to(move || {
                        let nf = nf.clone();
                        async move {
                            HttpResponse::Ok()
                                .content_type("application/json;charset=UTF-8")
                                .body(nf)
                        }
                    }),
                )
                .route(
                    "/ok/sso/vendorUserCertTonken",
                    web::get().to(move || {
                        let ok = ok.clone();
                        async move {
                            HttpResponse::Ok()
                                .content_type("application/json;charset=UTF-8")
                                .body(ok)
                        }
                    }),
                )
                .route("/_sim/healthz", web::get().to(HttpResponse::Ok))
        })
        .workers(1)
        .listen_rustls_0_23(https, tls)
        .and_then(|s| s.listen(http))
        .expect("listen")
        .run();
        match server.await {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        }
    })
}

/// The Redis reference: the listeners and bodies of [`serve_reference`], and at the cert path
/// one GETDEL of `ref:<otpTokenp>` through one connection manager shared by the worker (made
/// before the server, as the simulator makes its own): the OK body when the key was there, else
/// the 404 body. What a cert call through Redis costs at least.
fn serve_redis_reference(args: &[OsString]) -> ExitCode {
    let ReferenceSetup {
        https,
        http,
        tls,
        ok_body,
        nf_body,
    } = reference_setup(args);
    let url = args[5].to_string_lossy().into_owned();
    actix_web::rt::System::new().block_on(async move {
        let client = redis::Client::open(url).expect("Redis URL");
        let conn = redis::aio::ConnectionManager::new(client)
            .await
            .expect("Redis connection");
        let server = HttpServer::new(move || {
            let (ok, nf, conn) = (ok_body.clone(), nf_body.clone(), conn.clone());
            App::new()
                .route(
                    "/sso/vendorUserCertTonken",
                    web::get().to(move |req: HttpRequest| {
                        let (ok, nf, mut conn) = (ok.clone(), nf.clone(), conn.clone());
                        async move {
                            let token = form_urlencoded::parse(req.query_string().as_bytes())
                                .find(|(k, _)| k == "otpTokenp")
                                .map(|(_, v)| v.into_owned())
                                .unwrap_or_default();
                            let found: redis::RedisResult<Option<Vec<u8>>> = redis::cmd("GETDEL")
                                .arg(format!("ref:{token}"))
                                .query_async(&mut conn)
                                .await;
                            match found {
                                Ok(found) => HttpResponse::Ok()
                                    .content_type("application/json;charset=UTF-8")
                                    .body(if found.is_some() { ok } else { nf }),
                                Err(e) => HttpResponse::ServiceUnavailable().body(e.to_string()),
                            }
                        }
                    }),
                )
                .route("/_sim/healthz", web::get().to(HttpResponse::Ok))
        })
        .workers(1)
        .listen_rustls_0_23(https, tls)
        .and_then(|s| s.listen(http))
        .expect("listen")
        .run();
        match server.await {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        }
    })
}

/// The shape of a run.
struct Plan {
    seconds: u64,
    connections: u32,
    startup_runs: usize,
    memory_counts: [usize; 2],
    memory_ttl: u64,
}

/// A child server; killed when dropped.
struct Server {
    child: Child,
    http: u16,
    https: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `redis-server` child on a loopback port, saving nothing; killed when dropped, so that no run
/// (nor an error on its way) leaves one behind.
struct RedisServer {
    child: Child,
    port: u16,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `redis-server` on a free loopback port without persistence (working folder `dir`) and
/// waits until it answers PING: the store the Redis rows share.
fn spawn_redis(dir: &Path) -> Result<RedisServer, String> {
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

/// Whether Redis on `port` answers an inline PING (readiness, without a client).
fn redis_ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    s.set_read_timeout(Some(Duration::from_secs(1))).ok();
    let mut answer = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut answer).is_ok() && &answer == b"+PONG\r\n"
}

/// A blocking connection to the Redis database `url`, for setting up and checking rows.
fn redis_conn(url: &str) -> Result<redis::Connection, String> {
    redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .map_err(|e| format!("Redis at {url}: {e}"))
}

/// Stores `ref:<token>` for every token, 1000 SETs a pipeline, so that each cert call of the
/// Redis reference consumes a fresh key as the simulator's consume a fresh token.
fn seed_reference(url: &str, tokens: &[String]) -> Result<(), String> {
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
fn reference_keys(url: &str) -> Result<u64, String> {
    redis::cmd("DBSIZE")
        .query(&mut redis_conn(url)?)
        .map_err(|e| format!("Redis at {url}: {e}"))
}

/// The installed `redis-server`'s version, for the method line.
fn redis_version() -> String {
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

fn fixtures_dir() -> PathBuf {
    let here = PathBuf::from("fixtures");
    if here.join("vendors.json").exists() {
        here
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
    }
}

/// One raw HTTP/1.1 request; the status code and body.
fn http(port: u16, method: &str, path: &str, body: &str) -> Result<(u16, Vec<u8>), String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(120))).ok();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no HTTP answer")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or("no status")?;
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Ok((status, body))
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = b.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&b[start..(start + size).min(b.len())]);
        b = &b[(start + size + 2).min(b.len())..];
    }
    out
}

fn wait_ready(port: u16, child: &mut Child) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("the server exited at start ({status})"));
        }
        if let Ok((200, _)) = http(port, "GET", "/_sim/healthz", "") {
            return Ok(start.elapsed());
        }
        if start.elapsed() > Duration::from_secs(30) {
            return Err("the server did not become ready in 30 s".into());
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

fn spawn_simulator(data: &Path, extra: &[&str]) -> Result<(Server, Instant), String> {
    let (https, http) = (free_port(), free_port());
    let started = Instant::now();
    let child = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
        .arg("--serve-simulator")
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

/// Issues one token and saves the bodies the simulator answers for it (OK) and for an unknown
/// token (`path_404`), as `<prefix>ok.json` and `<prefix>404.json`: what a reference answers.
fn save_bodies(
    port: u16,
    path_404: &str,
    dir: &Path,
    prefix: &str,
) -> Result<(PathBuf, PathBuf), String> {
    let probe = bulk(port, 1, 300, true)?;
    let path_ok = format!("/sso/vendorUserCertTonken?otpTokenp={}", probe[0]);
    let (_, ok_body) = http(port, "GET", &path_ok, "")?;
    let (_, nf_body) = http(port, "GET", path_404, "")?;
    if !String::from_utf8_lossy(&ok_body).contains("\"OK\"") {
        return Err(format!(
            "the probe token did not give OK ({prefix}simulator)"
        ));
    }
    let (ok, nf) = (
        dir.join(format!("{prefix}ok.json")),
        dir.join(format!("{prefix}404.json")),
    );
    std::fs::write(&ok, &ok_body).map_err(|e| e.to_string())?;
    std::fs::write(&nf, &nf_body).map_err(|e| e.to_string())?;
    Ok((ok, nf))
}

/// Starts a reference server (`mode`: `--serve-reference` or `--serve-redis-reference`, with
/// its Redis URL) on free ports, answering the saved bodies.
fn spawn_reference(
    mode: &str,
    data: &Path,
    ok: &Path,
    nf: &Path,
    redis: Option<&str>,
) -> Result<Server, String> {
    let (https, http) = (free_port(), free_port());
    let child = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
        .arg(mode)
        .arg(format!("127.0.0.1:{https}"))
        .arg(format!("127.0.0.1:{http}"))
        .arg(data)
        .arg(ok)
        .arg(nf)
        .args(redis)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    Ok(Server { child, http, https })
}

/// wrk's figures for one row.
#[derive(Clone, Copy, Default)]
struct Load {
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    ok_share: f64,
    /// Answers with resultCode OK per second.
    oks_per_second: f64,
}

/// Reports wrk's figures in one line. No `response` callback: reading every body in Lua would
/// make wrk the bottleneck; the OK rows are checked by counting the tokens used instead.
const LUA_REPORT: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), summary.requests - e.status, e.status + e.connect + e.read + e.write + e.timeout))
end
"#;

fn wrk(url: &str, script: &Path, plan: &Plan) -> Result<Load, String> {
    let out = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{}", plan.connections),
            &format!("-d{}s", plan.seconds),
        ])
        .arg("-s")
        .arg(script)
        .arg(url)
        .output()
        .map_err(|e| format!("cannot run wrk ({e}): install it (apt-get install wrk)"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .ok_or_else(|| {
            format!(
                "no result from wrk: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    let n: Vec<f64> = line[7..]
        .split(' ')
        .filter_map(|x| x.parse().ok())
        .collect();
    if n.len() != 6 || n[1] <= 0.0 {
        return Err(format!("unexpected wrk result: {line}"));
    }
    Ok(Load {
        rps: n[0] / (n[1] / 1e6),
        p50_us: n[2],
        p99_us: n[3],
        ok_share: if n[4] + n[5] > 0.0 {
            n[4] / (n[4] + n[5])
        } else {
            0.0
        },
        oks_per_second: n[4] / (n[1] / 1e6),
    })
}

fn tokens_script(dir: &Path, tokens: &[String], prefix: &str) -> Result<PathBuf, String> {
    let file = dir.join(format!("tokens-{}.txt", tokens.len()));
    std::fs::write(&file, tokens.join("\n")).map_err(|e| e.to_string())?;
    let script = dir.join(format!("ok{}.lua", prefix.len()));
    let lua = format!(
        r#"local tokens, i = {{}}, 0
for line in io.lines("{}") do tokens[#tokens + 1] = line end
request = function()
  i = i + 1
  if i > #tokens then i = 1 end
  return wrk.format("GET", "{prefix}/sso/vendorUserCertTonken?otpTokenp=" .. tokens[i])
end
{LUA_REPORT}"#,
        file.display()
    );
    std::fs::write(&script, lua).map_err(|e| e.to_string())?;
    Ok(script)
}

fn bulk(port: u16, count: usize, ttl: u64, return_tokens: bool) -> Result<Vec<String>, String> {
    let body = format!(
        r#"{{"cmpyCd":"J01","custId":"J01A00038745","vndrNo":"VR000216","count":{count},"ttlSeconds":{ttl},"returnTokens":{return_tokens}}}"#
    );
    let (status, body) = http(port, "POST", "/_sim/api/tokens/bulk", &body)?;
    if status != 200 {
        return Err(format!(
            "bulk issue answered {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    Ok(v["tokens"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default())
}

fn live_tokens(port: u16) -> Result<u64, String> {
    let (_, body) = http(port, "GET", "/_sim/healthz", "")?;
    let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    v["liveTokens"]
        .as_u64()
        .ok_or_else(|| "no liveTokens in /_sim/healthz".to_string())
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Errs unless an OK row consumed a fresh token per request (`used` tokens for the requests
/// `load` counts, none failed): a row that ran out would measure the used-token path instead.
fn check_fresh(row: &str, used: u64, load: &Load, plan: &Plan) -> Result<(), String> {
    let requests = (load.rps * plan.seconds as f64).round() as u64;
    if used + 64 < requests || load.ok_share < 0.999 {
        return Err(format!(
            "the {row} row did not use a fresh token per request ({used} tokens used, about {requests} requests); run again"
        ));
    }
    Ok(())
}

/// The Redis rows: a `redis-server` child, the simulator with `--store` on its database 0 and
/// the Redis reference on its database 1, each row measured back to back with the same plan.
/// Everything started here is stopped when this returns, error or not.
fn redis_rows(
    dir: &Path,
    data: &Path,
    plan: &Plan,
    report: &Path,
    path_404: &str,
) -> Result<Vec<(String, Load, Load)>, String> {
    let redis = spawn_redis(dir)?;
    let sim_url = format!("redis://127.0.0.1:{}/0", redis.port);
    let ref_url = format!("redis://127.0.0.1:{}/1", redis.port);
    let (mut sim, _) = spawn_simulator(
        data,
        &[
            "--store",
            &sim_url,
            "--max-live-tokens",
            "5000000",
            "--journal-capacity",
            "10000",
        ],
    )?;
    wait_ready(sim.http, &mut sim.child)?;
    // The bodies this simulator answers through Redis, for the reference to answer.
    let (ok, nf) = save_bodies(sim.http, path_404, dir, "redis-")?;
    let mut reference = spawn_reference("--serve-redis-reference", data, &ok, &nf, Some(&ref_url))?;
    wait_ready(reference.http, &mut reference.child)?;

    let schemes = [
        ("HTTP", sim.http, reference.http),
        ("HTTPS", sim.https, reference.https),
    ];
    let base =
        |scheme: &str, port: u16| format!("{}://127.0.0.1:{port}", scheme.to_ascii_lowercase());
    let mut table: Vec<(String, Load, Load)> = Vec::new();
    for (scheme, sim_port, ref_port) in schemes {
        let s = wrk(
            &format!("{}{path_404}", base(scheme, sim_port)),
            report,
            plan,
        )?;
        let r = wrk(
            &format!("{}{path_404}", base(scheme, ref_port)),
            report,
            plan,
        )?;
        table.push((format!("cert 404 through Redis, {scheme} keep-alive"), s, r));
    }
    for (scheme, sim_port, ref_port) in schemes {
        // Enough fresh tokens (and reference keys) for the faster of the two, each used once.
        let expected = table
            .iter()
            .flat_map(|(_, s, r)| [s.rps, r.rps])
            .fold(0.0, f64::max);
        let count = ((expected * plan.seconds as f64 * 2.0) as usize).clamp(10_000, 1_000_000);
        let tokens = bulk(sim.http, count, 600, true)?;
        seed_reference(&ref_url, &tokens)?;
        let script = tokens_script(dir, &tokens, "")?;
        let row = format!("cert OK through Redis, {scheme} keep-alive");
        let live_before = live_tokens(sim.http)?;
        let s = wrk(&base(scheme, sim_port), &script, plan)?;
        let used = live_before.saturating_sub(live_tokens(sim.http)?);
        check_fresh(&format!("simulator's {row}"), used, &s, plan)?;
        let keys_before = reference_keys(&ref_url)?;
        let r = wrk(&base(scheme, ref_port), &script, plan)?;
        let used = keys_before.saturating_sub(reference_keys(&ref_url)?);
        check_fresh(&format!("reference's {row}"), used, &r, plan)?;
        table.push((row, s, r));
    }
    drop((reference, sim, redis));
    Ok(table)
}

/// Prints one table of simulator-versus-reference rows against the ratio each must reach, and
/// answers each row's verdict for the `targets:` line.
fn print_loads(table: &[(String, Load, Load)], target: f64) -> Vec<String> {
    println!("| load | simulator req/s | p50 | p99 | reference req/s | p50 | p99 | ratio | target >= {target:.2} |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|");
    let mut verdicts = Vec::new();
    for (name, s, r) in table {
        let ratio = s.rps / r.rps;
        let met = if ratio >= target { "met" } else { "NOT met" };
        println!(
            "| {name} | {:.0} | {:.2} ms | {:.2} ms | {:.0} | {:.2} ms | {:.2} ms | {ratio:.2} | {met} |",
            s.rps,
            s.p50_us / 1000.0,
            s.p99_us / 1000.0,
            r.rps,
            r.p50_us / 1000.0,
            r.p99_us / 1000.0
        );
        verdicts.push(format!("{name}: {met}"));
    }
    verdicts
}

fn run(quick: bool) -> Result<(), String> {
    let plan = if quick {
        Plan {
            seconds: 1,
            connections: 8,
            startup_runs: 3,
            memory_counts: [1_000, 10_000],
            memory_ttl: 2,
        }
    } else {
        Plan {
            seconds: 5,
            connections: 16,
            startup_runs: 10,
            memory_counts: [100_000, 1_000_000],
            memory_ttl: 20,
        }
    };
    Command::new("wrk")
        .arg("--version")
        .output()
        .map_err(|_| "wrk not found: install it (apt-get install wrk) and run again".to_string())?;
    let dir = std::env::temp_dir().join(format!("benecafe-sim-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let result = run_in(&dir, &plan, quick);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(dir: &Path, plan: &Plan, quick: bool) -> Result<(), String> {
    let data = dir.join("data");
    let mut rows: Vec<String> = Vec::new();
    let mut verdicts: Vec<String> = Vec::new();

    // Start-up, first with certificate generation (a fresh data folder each time), then with the
    // certificate on disk (the usual case).
    let mut fresh = Vec::new();
    for i in 0..plan.startup_runs.div_ceil(2) {
        let d = dir.join(format!("fresh-{i}"));
        let (mut s, started) = spawn_simulator(&d, &[])?;
        wait_ready(s.http, &mut s.child)?;
        fresh.push(started.elapsed());
    }
    let (mut first, _) = spawn_simulator(&data, &[])?;
    wait_ready(first.http, &mut first.child)?;
    drop(first);
    let mut warm = Vec::new();
    for _ in 0..plan.startup_runs {
        let (mut s, started) = spawn_simulator(&data, &[])?;
        wait_ready(s.http, &mut s.child)?;
        warm.push(started.elapsed());
    }
    let (warm, fresh) = (median(warm), median(fresh));

    // The simulator under load, and the bodies the reference must answer.
    let (mut sim, _) = spawn_simulator(
        &data,
        &[
            "--max-live-tokens",
            "5000000",
            "--journal-capacity",
            "10000",
        ],
    )?;
    wait_ready(sim.http, &mut sim.child)?;
    let unknown = "0".repeat(64);
    let path_404 = format!("/sso/vendorUserCertTonken?otpTokenp={unknown}");
    let (ok, nf) = save_bodies(sim.http, &path_404, dir, "")?;
    let mut reference = spawn_reference("--serve-reference", &data, &ok, &nf, None)?;
    wait_ready(reference.http, &mut reference.child)?;

    let report = dir.join("report.lua");
    std::fs::write(&report, LUA_REPORT).map_err(|e| e.to_string())?;
    let mut table: Vec<(String, Load, Load)> = Vec::new();
    for (scheme, sim_port, ref_port) in [
        ("HTTP", sim.http, reference.http),
        ("HTTPS", sim.https, reference.https),
    ] {
        let base = |port: u16| format!("{}://127.0.0.1:{port}", scheme.to_ascii_lowercase());
        let s = wrk(&format!("{}{path_404}", base(sim_port)), &report, plan)?;
        let r = wrk(&format!("{}{path_404}", base(ref_port)), &report, plan)?;
        table.push((format!("cert 404, {scheme} keep-alive"), s, r));
    }
    for (scheme, sim_port, ref_port) in [
        ("HTTP", sim.http, reference.http),
        ("HTTPS", sim.https, reference.https),
    ] {
        let base = |port: u16| format!("{}://127.0.0.1:{port}", scheme.to_ascii_lowercase());
        // Enough fresh tokens for the whole row, each used once.
        let expected = table.iter().map(|(_, s, _)| s.rps).fold(0.0, f64::max);
        let count = ((expected * plan.seconds as f64 * 2.0) as usize).clamp(10_000, 1_000_000);
        let tokens = bulk(sim.http, count, 600, true)?;
        let sim_script = tokens_script(dir, &tokens, "")?;
        let ref_script = tokens_script(dir, &tokens, "/ok")?;
        let live_before = live_tokens(sim.http)?;
        let s = wrk(&base(sim_port), &sim_script, plan)?;
        let used = live_before.saturating_sub(live_tokens(sim.http)?);
        // Every request used a fresh token (none ran out, none failed): all answered OK.
        check_fresh("OK", used, &s, plan)?;
        let r = wrk(&base(ref_port), &ref_script, plan)?;
        table.push((format!("cert OK, {scheme} keep-alive"), s, r));
    }
    drop(reference);

    // Complete flows: a GATE through the control API, then the cert call with its token.
    let flows = dir.join("flows.lua");
    std::fs::write(
        &flows,
        r#"local queue = {}
local gate
init = function(args)
  gate = wrk.format("POST", "/_sim/api/gate", {["Content-Type"] = "application/json"},
    '{"cmpyCd":"J01","custId":"J01A00038745","vndrNo":"VR000216"}')
end
request = function()
  if #queue > 0 then
    return wrk.format("GET", "/sso/vendorUserCertTonken?otpTokenp=" .. table.remove(queue))
  end
  return gate
end
oks, others = 0, 0
response = function(status, headers, body)
  local t = string.match(body, '"otpToken":"(%x+)"')
  if t and not string.find(body, '"resultCode"', 1, true) then table.insert(queue, t)
  elseif string.find(body, '"resultCode":"OK"', 1, true) then oks = oks + 1
  else others = others + 1 end
end
local threads = {}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  local o, n = 0, 0
  for _, t in ipairs(threads) do o = o + t:get("oks"); n = n + t:get("others") end
  io.write(string.format("RESULT %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), o, n))
end
"#,
    )
    .map_err(|e| e.to_string())?;
    let flow = wrk(&format!("http://127.0.0.1:{}", sim.http), &flows, plan)?;
    // A flow is complete when its cert call answered OK.
    let flows_per_second = flow.oks_per_second;

    // GATE issuance with parameter encryption off (VR000216) and on (VR000301, AES-128-CBC:
    // ranNum drawn, four fields encrypted), member fields forced so both carry all of them.
    let mut issuance = Vec::new();
    for vendor in ["VR000216", "VR000301"] {
        let script = dir.join(format!("issue-{vendor}.lua"));
        std::fs::write(
            &script,
            format!(
                r#"request = function()
  return wrk.format("POST", "/_sim/api/gate", {{["Content-Type"] = "application/json"}},
    '{{"cmpyCd":"J01","custId":"J01A00038745","vndrNo":"{vendor}","consent":"agree","forceMemberFields":true}}')
end
oks, others = 0, 0
response = function(status, headers, body)
  if status == 200 and string.find(body, '"otpToken":"', 1, true) then oks = oks + 1
  else others = others + 1 end
end
local threads = {{}}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  local o, n = 0, 0
  for _, t in ipairs(threads) do o = o + t:get("oks"); n = n + t:get("others") end
  io.write(string.format("RESULT %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), o, n))
end
"#
            ),
        )
        .map_err(|e| e.to_string())?;
        issuance.push(wrk(
            &format!("http://127.0.0.1:{}", sim.http),
            &script,
            plan,
        )?);
    }
    drop(sim);

    // Memory with many live tokens, then after they expire and are swept.
    let (mut mem, _) = spawn_simulator(
        &data,
        &[
            "--max-live-tokens",
            "2000000",
            "--token-retention-seconds",
            "0",
            "--journal-capacity",
            "100",
        ],
    )?;
    wait_ready(mem.http, &mut mem.child)?;
    std::thread::sleep(Duration::from_millis(300));
    let pid = mem.child.id();
    let rss0 = rss_kib(pid);
    let issued_at = Instant::now();
    bulk(mem.http, plan.memory_counts[0], plan.memory_ttl, false)?;
    let rss1 = rss_kib(pid);
    let mut remaining = plan.memory_counts[1] - plan.memory_counts[0];
    while remaining > 0 {
        let n = remaining.min(250_000);
        bulk(mem.http, n, plan.memory_ttl, false)?;
        remaining -= n;
    }
    let rss2 = rss_kib(pid);
    let wait = Duration::from_secs(plan.memory_ttl + 3).saturating_sub(issued_at.elapsed());
    std::thread::sleep(wait);
    let (_, health) = http(mem.http, "GET", "/_sim/healthz", "")?;
    let live_after: serde_json::Value =
        serde_json::from_slice(&health).map_err(|e| e.to_string())?;
    let rss3 = rss_kib(pid);
    drop(mem);

    // The same cert calls with the state in Redis, against a reference that also asks Redis.
    let redis_table = redis_rows(dir, &data, plan, &report, &path_404)?;

    // The table.
    let mib = |k: u64| k as f64 / 1024.0;
    println!(
        "benecafe-sim benchmark{}",
        if quick {
            " (quick smoke run: figures not meaningful)"
        } else {
            ""
        }
    );
    println!(
        "method: wrk 1 thread x {} connections, {} s a row; simulator and reference each 1 worker; {} cores",
        plan.connections,
        plan.seconds,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    println!();
    verdicts.extend(print_loads(&table, 0.85));
    println!();
    println!(
        "Redis rows: redis-server {} on loopback without persistence; the simulator with --store (one EVALSHA a cert call) against a reference answering from one GETDEL a call",
        redis_version()
    );
    println!();
    verdicts.extend(print_loads(&redis_table, 0.80));
    println!();
    println!("| measure | value | target |");
    println!("|---|---:|---|");
    rows.push(format!(
        "| complete flows (GATE via control API, then cert OK), HTTP | {flows_per_second:.0} flows/s | |"
    ));
    let (plain, encrypted) = (issuance[0].oks_per_second, issuance[1].oks_per_second);
    rows.push(format!(
        "| GATE issuance, parameter encryption off (VR000216) | {plain:.0} tokens/s | |"
    ));
    rows.push(format!(
        "| GATE issuance, AES-128-CBC on (VR000301), ratio to off in this run | {encrypted:.0} tokens/s ({:.2}) | |",
        encrypted / plain.max(1.0)
    ));
    let startup_met = if warm < Duration::from_millis(50) {
        "met"
    } else {
        "NOT met"
    };
    rows.push(format!(
        "| start-up to /_sim/healthz 200, certificate on disk (median of {}) | {:.1} ms | < 50 ms: {startup_met} |",
        plan.startup_runs,
        warm.as_secs_f64() * 1000.0
    ));
    rows.push(format!(
        "| start-up, first start making the certificate (median of {}) | {:.1} ms | |",
        plan.startup_runs.div_ceil(2),
        fresh.as_secs_f64() * 1000.0
    ));
    rows.push(format!(
        "| resident memory, 0 live tokens | {:.1} MiB | |",
        mib(rss0)
    ));
    rows.push(format!(
        "| resident memory, {} live tokens | {:.1} MiB | |",
        plan.memory_counts[0],
        mib(rss1)
    ));
    let mem_met = if mib(rss2) <= 256.0 { "met" } else { "NOT met" };
    rows.push(format!(
        "| resident memory, {} live tokens | {:.1} MiB | <= 256 MiB: {mem_met} |",
        plan.memory_counts[1],
        mib(rss2)
    ));
    let back_met = if rss3 <= rss0 + 16 * 1024 {
        "met"
    } else {
        "NOT met"
    };
    rows.push(format!(
        "| resident memory after expiry and sweep ({} live) | {:.1} MiB | near the 0-token baseline (+16 MiB): {back_met} |",
        live_after["liveTokens"],
        mib(rss3)
    ));
    for r in &rows {
        println!("{r}");
    }
    verdicts.push(format!("start-up: {startup_met}"));
    verdicts.push(format!("memory at {}: {mem_met}", plan.memory_counts[1]));
    verdicts.push(format!("memory after sweep: {back_met}"));
    println!();
    println!("targets: {}", verdicts.join("; "));
    Ok(())
}
