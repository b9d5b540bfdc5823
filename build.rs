//! The commit the binary is built from, for `GET /_sim/version`: `SIM_GIT_COMMIT` when the build
//! sets it (a container build without the repository), else `git rev-parse HEAD` when the source
//! is a git checkout and git is installed, else unknown. Never fails the build.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=SIM_GIT_COMMIT");
    let given = std::env::var("SIM_GIT_COMMIT")
        .ok()
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    let commit = given.or_else(from_git);
    if let Some(commit) = commit {
        println!("cargo:rustc-env=SIM_GIT_COMMIT={commit}");
    }
}

/// HEAD's commit, watching HEAD and the branch it names so that a new commit builds again.
fn from_git() -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let commit = git(&["rev-parse", "--verify", "--quiet", "HEAD"])?;
    if !commit.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])];
    if let Some(branch) = git(&["symbolic-ref", "--quiet", "HEAD"]) {
        watched.push(git(&["rev-parse", "--git-path", &branch]));
        watched.push(git(&["rev-parse", "--git-path", "packed-refs"]));
    }
    // A path cargo cannot find would make it run this script on every build.
    for path in watched.into_iter().flatten() {
        if Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    Some(commit)
}
