//! The simulator and Redis as real processes: `SimProcess` runs the binary (for restarts,
//! signals, logs and memory readings), `RedisServer` a real `redis-server` on a free port.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::helpers::shipped_fixtures;

/// The real binary running as a child process (for restarts, signals and memory readings).
pub struct SimProcess {
    pub child: std::process::Child,
    pub http: String,
    pub https: String,
    /// Where its log (stdout, and stderr for what it says when it cannot start) goes.
    pub log: PathBuf,
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free right now on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl SimProcess {
    /// Starts the binary with `args` (fixtures, data folder and free ports are added) and waits
    /// until it answers, or returns its log if it exits first.
    pub async fn start(data: &Path, args: &[&str]) -> Result<SimProcess, String> {
        Self::start_on(&shipped_fixtures(), data, args).await
    }

    /// [`SimProcess::start`] on the fixtures in `fixtures`.
    pub async fn start_on(
        fixtures: &Path,
        data: &Path,
        args: &[&str],
    ) -> Result<SimProcess, String> {
        let (https, http) = (free_port(), free_port());
        let log = data.join(format!("sim-{http}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_benecafe-sim"))
            .args(["--https-addr", &format!("127.0.0.1:{https}")])
            .args(["--http-addr", &format!("127.0.0.1:{http}")])
            .arg("--fixtures")
            .arg(fixtures)
            .arg("--data-dir")
            .arg(data)
            .args(args)
            .env("SIM_LOG", "info")
            // Text lines unless a test asks for JSON with --log-format.
            .env("SIM_LOG_FORMAT", "text")
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("the binary starts");
        let mut sim = SimProcess {
            child,
            http: format!("http://127.0.0.1:{http}"),
            https: format!("https://127.0.0.1:{https}"),
            log,
        };
        let client = awc::Client::default();
        for _ in 0..300 {
            if let Ok(Some(_)) = sim.child.try_wait() {
                return Err(sim.log_text());
            }
            if let Ok(r) = client
                .get(format!("{}/_sim/healthz", sim.http))
                .send()
                .await
            {
                if r.status().is_success() {
                    return Ok(sim);
                }
            }
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        Err(format!("not ready in time: {}", sim.log_text()))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log once every line of what came before is written: one writer writes lines in
    /// order, so a GATE issued now (through the control API, with `control_token` when the
    /// simulator has one) has its line written after all of theirs. A GATE whose line the
    /// protocol lines' budget left out (a burst of calls this second) is issued again a second
    /// later.
    pub async fn flushed_log(&self, control_token: Option<&str>) -> String {
        let gates = |log: &str| log.matches("GATE issued").count();
        let before = gates(&self.log_text());
        for _ in 0..3 {
            let mut gate = awc::Client::default().post(format!("{}/_sim/api/gate", self.http));
            if let Some(token) = control_token {
                gate = gate.insert_header(("authorization", format!("Bearer {token}")));
            }
            let body = serde_json::json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216"});
            assert!(gate.send_json(&body).await.unwrap().status().is_success());
            for _ in 0..110 {
                let log = self.log_text();
                if gates(&log) > before {
                    return log;
                }
                actix_web::rt::time::sleep(Duration::from_millis(10)).await;
            }
        }
        panic!(
            "the marker GATE's line was not written: {}",
            self.log_text()
        );
    }

    /// Sends SIGTERM and waits for the exit; true when it exited successfully.
    pub fn terminate(&mut self) -> bool {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        self.child.wait().expect("exits").success()
    }

    /// Resident memory in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc")
    }

    /// A client trusting the process's certificate (in `data`).
    pub fn client(&self, data: &Path) -> awc::Client {
        use rustls::pki_types::pem::PemObject;
        let pem = std::fs::read(data.join("ca.pem")).unwrap();
        let chain: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .unwrap();
        let config = benecafe_sim::conform::browser::client_config(&chain).unwrap();
        awc::Client::builder()
            .connector(awc::Connector::new().rustls_0_23(Arc::new(config)).limit(0))
            .timeout(Duration::from_secs(30))
            .finish()
    }
}

/// A real `redis-server` (Debian's `redis-server` package) on a free loopback port, stopped
/// when dropped. With `persistent`, it keeps its data in an append-only file in its own folder,
/// so that a restart brings the data back; without, a restart starts empty.
pub struct RedisServer {
    child: Option<std::process::Child>,
    pub port: u16,
    dir: tempfile::TempDir,
    persistent: bool,
}

impl RedisServer {
    pub async fn start(persistent: bool) -> RedisServer {
        let mut server = RedisServer {
            child: None,
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            persistent,
        };
        server.restart().await;
        server
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts it (again) on the same port and folder, and waits until it answers.
    pub async fn restart(&mut self) {
        let mut cmd = std::process::Command::new("redis-server");
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", ""])
            .arg("--dir")
            .arg(self.dir.path());
        if self.persistent {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        let child = cmd
            .stdout(std::fs::File::create(self.dir.path().join("redis.log")).unwrap())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server runs (Debian's redis-server package; .ci/run installs it)");
        self.child = Some(child);
        for _ in 0..250 {
            if self.ping() {
                return;
            }
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("redis-server did not answer on port {}", self.port);
    }

    /// Its process id while it runs (to stop it with SIGSTOP, or kill it).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(std::process::Child::id)
    }

    /// Whether it answers PING now.
    fn ping(&self) -> bool {
        self.answers_within(Duration::from_secs(1))
    }

    fn answers_within(&self, wait: Duration) -> bool {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let mut answer = [0u8; 7];
        s.set_read_timeout(Some(wait)).ok();
        s.write_all(b"PING\r\n").is_ok()
            && s.read_exact(&mut answer).is_ok()
            && &answer == b"+PONG\r\n"
    }

    /// Stops it: SIGTERM (an append-only file is complete), then waits for the exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// Pauses it (SIGSTOP): its sockets stay open, commands sent meanwhile wait in them and run
    /// when it is resumed, as in a stall of the machine or the process.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Resumes it after [`RedisServer::pause`] (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// Stalls it for `ms` milliseconds (a script that keeps it busy, as a slow disk or a long
    /// command would): its connections stay open and what is sent meanwhile runs after. Returns
    /// once it has stopped answering; wait on the returned `redis-cli` for the end.
    pub fn stall(&self, ms: u64) -> std::process::Child {
        const BUSY: &str = "local t0 = redis.call('TIME') repeat local t = redis.call('TIME') \
            until (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > tonumber(ARGV[1]) * 1000 return 1";
        let child = std::process::Command::new("redis-cli")
            .args([
                "-p",
                &self.port.to_string(),
                "EVAL",
                BUSY,
                "0",
                &ms.to_string(),
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-cli runs");
        while self.answers_within(Duration::from_millis(100)) {}
        child
    }

    fn signal(&self, which: &str) {
        let child = self.child.as_ref().expect("redis-server runs");
        let status = std::process::Command::new("kill")
            .args([which, &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {which} redis-server");
    }

    /// One command through `redis-cli` (to look at what the simulator stored).
    pub fn cli(&self, args: &[&str]) -> String {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `GET path` over TLS to `addr` (`host:port`), naming `sni` in the handshake and in `Host`
/// (with the port), trusting only the PEM certificates `ca`: the status line and the body.
#[allow(dead_code)]
pub fn get_via(addr: &str, sni: &str, ca: &[u8], path: &str) -> Result<(String, String), String> {
    use rustls::pki_types::pem::PemObject;
    use std::io::{Read, Write};
    let roots: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(ca)
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let config =
        benecafe_sim::conform::browser::client_config(&roots).map_err(|e| e.to_string())?;
    let name =
        rustls::pki_types::ServerName::try_from(sni.to_owned()).map_err(|e| e.to_string())?;
    let conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    let tcp = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let host = if sni.contains(':') {
        format!("[{sni}]")
    } else {
        sni.to_owned()
    };
    let port = addr.rsplit_once(':').map_or("", |(_, p)| p);
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    if text.is_empty() {
        return Err("no answer".into());
    }
    let status = text.lines().next().unwrap_or_default().to_owned();
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Ok((status, body))
}

/// A TLS client configuration trusting only the PEM certificates `ca` and offering only HTTP/2.
#[allow(dead_code)]
pub fn h2_only(ca: &[u8]) -> rustls::ClientConfig {
    use rustls::pki_types::pem::PemObject;
    let roots: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(ca)
        .collect::<Result<_, _>>()
        .unwrap();
    let mut tls = benecafe_sim::conform::browser::client_config(&roots).unwrap();
    tls.alpn_protocols = vec![b"h2".to_vec()];
    tls
}

/// One raw HTTP/2 connection to `https` (`https://host:port`), naming `localhost`, trusting
/// `ca`: its sender; the connection itself is driven on a task of its own.
#[allow(dead_code)]
pub async fn h2_connect(https: &str, ca: &[u8]) -> h2::client::SendRequest<actix_web::web::Bytes> {
    let addr = https.trim_start_matches("https://");
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let stream = tokio_rustls::TlsConnector::from(Arc::new(h2_only(ca)))
        .connect(name, tcp)
        .await
        .unwrap();
    let (h2, connection) = h2::client::handshake(stream).await.unwrap();
    actix_web::rt::spawn(async move {
        let _ = connection.await;
    });
    h2
}
