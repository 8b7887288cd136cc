//! `update`: change the resources of a live container, and `events`.

use super::{Error, Result};
use crate::state::store::Store;
use crate::state::Status;
use oci_spec::runtime::LinuxResources;
use std::time::Duration;

pub fn update(store: &Store, id: &str, res: &LinuxResources) -> Result<()> {
    let (_dir, c) = super::load_live(store, id)?;
    c.cgroup.apply(&crate::cgroups::resources::writes(res))?;
    Ok(())
}

/// Prints runc-shaped events as JSON lines: one `stats` event with
/// `stats_only`, otherwise stats every `interval` and an `oom` event per OOM
/// kill, until the container stops.
pub fn events(store: &Store, id: &str, interval: Duration, stats_only: bool) -> Result<()> {
    let c = store
        .peek(id)?
        .ok_or_else(|| Error::State("container not running".into()))?;
    let dir = store.root().join(id);
    let emit = |kind: &str, data: Option<serde_json::Value>| {
        let mut v = serde_json::json!({"type": kind, "id": id});
        if let Some(d) = data {
            v["data"] = d;
        }
        println!("{v}");
    };
    if stats_only {
        emit("stats", Some(c.cgroup.stats()));
        return Ok(());
    }
    let mut ooms = c.cgroup.oom_kills();
    let step = Duration::from_millis(100).min(interval);
    let mut since = Duration::ZERO;
    loop {
        if crate::state::store::status_of(&dir, Some(&c)) == Status::Stopped {
            return Ok(());
        }
        let now = c.cgroup.oom_kills();
        if now > ooms {
            ooms = now;
            emit("oom", None);
        }
        if since >= interval {
            since = Duration::ZERO;
            emit("stats", Some(c.cgroup.stats()));
        }
        std::thread::sleep(step);
        since += step;
    }
}
