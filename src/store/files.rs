//! Writing files that hold secrets or that partners trust (the state file, TLS keys, the local
//! CA): through a new randomly named file in the same folder, created exclusively (so a file or
//! symlink planted there is never written through), flushed, then renamed over the target (so a
//! symlink at the target is replaced, not followed, and a crash leaves the old file whole).

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// Writes `bytes` to `path`, readable by the owner only (0600), atomically.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_replacing(path, bytes, 0o600)
}

/// Writes `bytes` to `path` with `mode`, atomically, never through a link.
pub fn write_replacing(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    let written = tmp.write_all(bytes).and_then(|()| tmp.as_file().sync_all());
    written.with_context(|| format!("cannot write {}", tmp.path().display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let set = tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode));
        set.with_context(|| format!("cannot set the mode of {}", tmp.path().display()))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    let replaced = tmp.persist(path).map_err(|e| e.error);
    replaced.with_context(|| format!("cannot write {}", path.display()))?;
    // The rename itself reaches the disk with the folder.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn write_private_replaces_symlinks_and_tightens_the_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (victim, target) = (dir.path().join("victim"), dir.path().join("state.json"));
        std::fs::write(&victim, "keep me").unwrap();
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        write_private(&target, b"secret").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        let meta = std::fs::symlink_metadata(&target).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "secret");

        let open = dir.path().join("open");
        std::fs::write(&open, "old").unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&open, b"new").unwrap();
        let mode = std::fs::metadata(&open).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            3,
            "no temporary file left"
        );
    }
}
