//! `record.json`: a container's configuration and its last known state,
//! written by rename under a per-container flock.

use super::{io, Engine, EngineError, Result};
use crate::supervisor::policy::Policy;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Created,
    Running,
    Restarting,
    Exited,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub phase: Phase,
    pub exit_code: Option<i32>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Seconds since the epoch of the last start, for uptime.
    pub started_epoch: Option<u64>,
    pub finished_epoch: Option<u64>,
    pub restarts: u32,
    /// The supervisor (pid, start time), while one runs.
    pub supervisor: Option<(i32, u64)>,
    pub init_pid: Option<i32>,
    /// stop/kill/rm by the user: the policy must not restart it.
    pub manually_stopped: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub name: String,
    pub image: String,
    /// Diff IDs of the image's layers (kept from prune while it exists).
    pub layers: Vec<String>,
    pub created: String,
    pub policy: Policy,
    pub stop_signal: String,
    pub stop_timeout: u64,
    pub auto_remove: bool,
    pub tty: bool,
    pub labels: std::collections::BTreeMap<String, String>,
    pub state: State,
}

impl Engine {
    pub fn record_path(&self, id: &str) -> PathBuf {
        self.dir(id).join("record.json")
    }

    pub fn load(&self, id: &str) -> Result<Record> {
        let p = self.record_path(id);
        let data = std::fs::read(&p).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => EngineError::NoSuch(id.into()),
            _ => io("read", &p, e),
        })?;
        serde_json::from_slice(&data)
            .map_err(|e| EngineError::Msg(format!("{}: malformed: {e}", p.display())))
    }

    pub fn save(&self, r: &Record) -> Result<()> {
        let p = self.record_path(&r.id);
        let tmp = p.with_extension("json.tmp");
        let data = serde_json::to_vec_pretty(r).expect("record serialises");
        std::fs::write(&tmp, data).map_err(|e| io("write", &tmp, e))?;
        std::fs::rename(&tmp, &p).map_err(|e| io("rename", &p, e))
    }

    /// Runs `f` on the record under the container's lock and saves it.
    pub fn update<T>(&self, id: &str, f: impl FnOnce(&mut Record) -> T) -> Result<T> {
        let _lock = self.lock(id)?;
        let mut r = self.load(id)?;
        let out = f(&mut r);
        self.save(&r)?;
        Ok(out)
    }

    pub fn lock(&self, id: &str) -> Result<nix::fcntl::Flock<std::fs::File>> {
        let p = self.dir(id).join("lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(|e| io("open", &p, e))?;
        nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| io("lock", &p, e.into()))
    }

    /// Every container record, oldest first.
    pub fn list(&self) -> Vec<Record> {
        let mut out: Vec<Record> = std::fs::read_dir(self.containers())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| self.load(&e.file_name().to_string_lossy()).ok())
            .collect();
        out.sort_by(|a, b| a.created.cmp(&b.created));
        out
    }

    /// A container by name, full id or unique id prefix.
    pub fn find(&self, key: &str) -> Result<Record> {
        let all = self.list();
        if let Some(r) = all.iter().find(|r| r.name == key || r.id == key) {
            return Ok(r.clone());
        }
        let by_prefix: Vec<&Record> = all
            .iter()
            .filter(|r| key.len() >= 3 && r.id.starts_with(key))
            .collect();
        match by_prefix.as_slice() {
            [one] => Ok((*one).clone()),
            _ => Err(EngineError::NoSuch(key.into())),
        }
    }
}

/// Seconds since the epoch.
pub fn now_epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `5 seconds`, `3 minutes`, `2 hours`, `4 days`: Docker's rough durations.
pub fn human(secs: u64) -> String {
    let (n, unit) = match secs {
        0..=1 => return "Less than a second".into(),
        2..=59 => (secs, "second"),
        60..=3599 => (secs / 60, "minute"),
        3600..=86_399 => (secs / 3600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_durations() {
        assert_eq!(super::human(0), "Less than a second");
        assert_eq!(super::human(5), "5 seconds");
        assert_eq!(super::human(60), "1 minute");
        assert_eq!(super::human(7300), "2 hours");
    }
}
