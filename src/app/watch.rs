//! `--watch`: a change to a file in the fixtures folder is loaded without a restart. A change
//! that does not validate is refused with the error logged, and the previous fixtures stay.
//!
//! The folder is polled (modification times and sizes of the fixture files) rather than
//! watched through OS notifications: four small files, no extra dependency, and it works the
//! same on every file system, network and container mounts included.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use crate::domain::fixtures::{Fixtures, FILES};
use crate::web::state::AppState;

/// What identifies the folder's content cheaply.
type Signature = Vec<Option<(SystemTime, u64)>>;

fn signature(dir: &Path) -> Signature {
    FILES
        .iter()
        .map(|f| {
            std::fs::metadata(dir.join(f))
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())))
        })
        .collect()
}

/// Polls `dir` every `interval` until the runtime stops.
pub async fn run(state: AppState, dir: PathBuf, interval: Duration) {
    let mut last = signature(&dir);
    let mut tick = actix_web::rt::time::interval(interval);
    loop {
        tick.tick().await;
        let now = signature(&dir);
        if now == last {
            continue;
        }
        last = now;
        let counts = &state.fixture_reloads;
        match Fixtures::load(&dir) {
            Ok(fixtures) => {
                if let Err(e) = state.reload(fixtures).await {
                    tracing::error!("cannot apply the changed fixtures: {e}");
                    counts.refused.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                tracing::info!(folder = %dir.display(), "fixtures changed on disk: reloaded");
                counts.loaded.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::error!(
                    "fixtures changed on disk but are not valid, keeping the previous ones: {e}"
                );
                counts.refused.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
