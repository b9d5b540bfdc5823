//! `--instructions`: what one cert call costs in instructions, counted by valgrind's callgrind,
//! for the simulator and the reference in the same run. Requests a second move by a tenth
//! between two runs on a shared virtual machine; an instruction count repeats to within a few
//! hundred. It is the figure to compare two versions of the hot path by: it does not weigh
//! syscalls and cache misses, which requests a second do.
//!
//! Each server runs under `valgrind --tool=callgrind --instr-atstart=no` (at full speed until
//! asked); after a warm-up, `callgrind_control` turns counting on, one plain-HTTP keep-alive
//! connection makes the calls one after the other, counting goes off and the counts are dumped
//! and read (`totals:`). Background work that falls in the window (the simulator's housekeeping
//! once a second) is counted too: a few thousand instructions against millions. The simulator
//! runs with `--log warn`: at the rate of a load test its per-second budget of log lines is a
//! share too small to see, at callgrind's pace it would be most of the count.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::servers::{fixtures_dir, free_port, wait_ready, Server};

/// One row: its name, the simulator's and the reference's instructions a call.
pub type Row = (String, f64, f64);

/// Calls counted a row (a tenth of it before, uncounted, as the warm-up).
fn calls(quick: bool) -> usize {
    if quick {
        200
    } else {
        2_000
    }
}

/// Measures the rows, in the folder `dir`.
pub fn run(dir: &Path, quick: bool) -> Result<Vec<Row>, String> {
    for tool in ["valgrind", "callgrind_control"] {
        Command::new(tool).arg("--version").output().map_err(|_| {
            format!("{tool} not found: install valgrind (apt-get install valgrind)")
        })?;
    }
    let n = calls(quick);
    let unknown = format!("/sso/vendorUserCertTonken?otpTokenp={}", "0".repeat(64));
    let data = dir.join("data");
    let sim = spawn(
        dir,
        "simulator",
        &[crate::SERVE_SIMULATOR],
        &[
            "--fixtures".as_ref(),
            fixtures_dir().as_os_str(),
            "--data-dir".as_ref(),
            data.as_os_str(),
            "--workers".as_ref(),
            "1".as_ref(),
            // Under load the log lines' budget (50 a second) is spent in the first
            // milliseconds of each second; at callgrind's pace it would be most of the count.
            "--log".as_ref(),
            "warn".as_ref(),
            "--allow-plain-http-cert".as_ref(),
        ],
    )?;
    let (ok, nf) = crate::client::save_bodies(sim.server.http, &unknown, dir, "")?;
    let reference = spawn(
        dir,
        "reference",
        &[crate::SERVE_REFERENCE],
        &[ok.as_os_str(), nf.as_os_str()],
    )?;
    let tokens = crate::client::bulk(sim.server.http, n + n / 10, 600, true)?;
    let (warm, counted) = tokens.split_at(n / 10);
    let mut rows = Vec::new();
    let s = sim.count(&vec![unknown.clone(); n / 10], &vec![unknown.clone(); n])?;
    let r = reference.count(&vec![unknown.clone(); n / 10], &vec![unknown; n])?;
    rows.push(("cert 404, HTTP keep-alive".to_owned(), s, r));
    let path = |prefix: &str, token: &String| {
        format!("{prefix}/sso/vendorUserCertTonken?otpTokenp={token}")
    };
    let sim_paths: Vec<String> = counted[..n].iter().map(|t| path("", t)).collect();
    let ref_paths: Vec<String> = counted[..n].iter().map(|t| path("/ok", t)).collect();
    let warm_sim: Vec<String> = warm.iter().map(|t| path("", t)).collect();
    let warm_ref: Vec<String> = warm.iter().map(|t| path("/ok", t)).collect();
    let s = sim.count(&warm_sim, &sim_paths)?;
    let r = reference.count(&warm_ref, &ref_paths)?;
    rows.push(("cert OK, HTTP keep-alive".to_owned(), s, r));
    Ok(rows)
}

/// Prints the rows: instructions a call and the ratio, the reference's over the simulator's
/// (1.00: as cheap as a bare server answering a fixed body).
pub fn print(rows: &[Row], quick: bool) {
    println!(
        "Instructions a cert call (valgrind callgrind, {} calls a row over one plain-HTTP keep-alive connection; simulator and reference in this run){}",
        calls(quick),
        if quick { " (quick smoke run)" } else { "" }
    );
    println!();
    println!("| load | simulator | reference | ratio |");
    println!("|---|---:|---:|---:|");
    for (name, s, r) in rows {
        println!("| {name} | {s:.0} | {r:.0} | {:.2} |", r / s);
    }
}

/// A server under callgrind.
struct Counted {
    server: Server,
    /// Where its counts are dumped (callgrind adds `.<pid>` and a dump number).
    out: std::path::PathBuf,
    name: &'static str,
}

/// Starts this binary in `mode` under callgrind, counting nothing yet, on free ports.
fn spawn(
    dir: &Path,
    name: &'static str,
    mode: &[&str],
    args: &[&std::ffi::OsStr],
) -> Result<Counted, String> {
    let (https, http) = (free_port(), free_port());
    let out = dir.join(format!("callgrind-{name}"));
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut command = Command::new("valgrind");
    command
        .args(["--tool=callgrind", "--instr-atstart=no"])
        .arg(format!("--callgrind-out-file={}.%p", out.display()))
        .arg(exe)
        .args(mode);
    if name == "simulator" {
        command
            .args(["--https-addr", &format!("127.0.0.1:{https}")])
            .args(["--http-addr", &format!("127.0.0.1:{http}")]);
    } else {
        command
            .arg(format!("127.0.0.1:{https}"))
            .arg(format!("127.0.0.1:{http}"));
    }
    let child = command
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut server = Server { child, http, https };
    wait_ready(server.http, &mut server.child)?;
    Ok(Counted { server, out, name })
}

impl Counted {
    /// Makes the `warm` calls, then the `counted` ones with counting on: instructions a call.
    fn count(&self, warm: &[String], counted: &[String]) -> Result<f64, String> {
        let mut connection = Connection::open(self.server.http)?;
        for path in warm {
            connection.get(path)?;
        }
        let pid = self.server.child.id().to_string();
        control(&["--zero", &pid])?;
        control(&["--instr=on", &pid])?;
        for path in counted {
            connection.get(path)?;
        }
        control(&["--instr=off", &pid])?;
        control(&["--dump", &pid])?;
        let total = self.last_total(&pid)?;
        Ok(total as f64 / counted.len() as f64)
    }

    /// The `totals:` of the newest dump.
    fn last_total(&self, pid: &str) -> Result<u64, String> {
        let dir = self.out.parent().unwrap_or(Path::new("."));
        let prefix = format!(
            "{}.{pid}.",
            self.out.file_name().unwrap_or_default().to_string_lossy()
        );
        let newest = std::fs::read_dir(dir)
            .map_err(|e| e.to_string())?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let number: u64 = name.strip_prefix(&prefix)?.parse().ok()?;
                Some((number, e.path()))
            })
            .max()
            .ok_or_else(|| format!("no callgrind dump of the {}", self.name))?;
        let text = std::fs::read_to_string(&newest.1).map_err(|e| e.to_string())?;
        text.lines()
            .find_map(|l| l.strip_prefix("totals:"))
            .and_then(|t| t.trim().parse().ok())
            .ok_or_else(|| format!("no totals in {}", newest.1.display()))
    }
}

/// `callgrind_control` with `args`.
fn control(args: &[&str]) -> Result<(), String> {
    let out = Command::new("callgrind_control")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "callgrind_control {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// One plain-HTTP/1.1 keep-alive connection making calls one after the other.
struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Connection {
    fn open(port: u16) -> Result<Self, String> {
        let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let writer = stream.try_clone().map_err(|e| e.to_string())?;
        Ok(Connection {
            reader: BufReader::new(stream),
            writer,
        })
    }

    /// `GET path`, its answer read whole; an answer other than 200 is an error.
    fn get(&mut self, path: &str) -> Result<(), String> {
        write!(
            self.writer,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        )
        .map_err(|e| e.to_string())?;
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        if !line.starts_with("HTTP/1.1 200") {
            return Err(format!("GET {path}: {}", line.trim()));
        }
        let mut length = 0;
        loop {
            line.clear();
            self.reader
                .read_line(&mut line)
                .map_err(|e| e.to_string())?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().map_err(|_| "bad content-length")?;
                }
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).map_err(|e| e.to_string())
    }
}
