//! `--ready-file`: where a started simulator says it is listening. A test helper (the Python,
//! Java and Node ones in `clients/`) starts the binary on port 0 and waits for this file instead
//! of parsing log lines or racing for a free port.

use std::net::SocketAddr;
use std::path::Path;

/// What the file holds.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Ready<'a> {
    pub cus_url: &'a str,
    pub http_url: &'a str,
    pub ca_path: &'a Path,
    pub https_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub pid: u32,
    pub version: &'static str,
}

/// Writes `ready` to `path` whole: to a file beside it first, then renamed over it.
pub(super) fn write(path: &Path, ready: &Ready<'_>) -> std::io::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    std::fs::write(&partial, serde_json::to_vec(ready)?)?;
    std::fs::rename(&partial, path)
}
