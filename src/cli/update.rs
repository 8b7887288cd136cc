//! `update` and `events`.

use super::Global;
use crate::lifecycle::{Error, Result};
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Value};
use std::io::Read;

#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    /// JSON file with linux.resources ("-" for stdin)
    #[arg(short, long)]
    pub resources: Option<String>,
    /// Memory limit in bytes
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<i64>,
    #[arg(long, allow_hyphen_values = true)]
    pub memory_reservation: Option<i64>,
    /// Memory plus swap limit in bytes
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<i64>,
    #[arg(long)]
    pub cpu_shares: Option<u64>,
    #[arg(long)]
    pub cpu_period: Option<u64>,
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    pub id: String,
}

/// Sets `obj[a][b] = v` when `v` is given.
fn set(obj: &mut Value, a: &str, b: &str, v: Option<Value>) {
    if let Some(v) = v {
        obj[a][b] = v;
    }
}

pub fn resources(a: &UpdateArgs) -> Result<LinuxResources> {
    let mut v: Value = match a.resources.as_deref() {
        None => json!({}),
        Some(src) => {
            let mut text = String::new();
            if src == "-" {
                std::io::stdin()
                    .read_to_string(&mut text)
                    .map_err(|e| Error::io("read resources from stdin", e))?;
            } else {
                text = std::fs::read_to_string(src)
                    .map_err(|e| Error::io(format!("read {src}"), e))?;
            }
            serde_json::from_str(&text)
                .map_err(|e| Error::Usage(format!("resources: malformed JSON: {e}")))?
        }
    };
    set(&mut v, "memory", "limit", a.memory.map(Value::from));
    set(
        &mut v,
        "memory",
        "reservation",
        a.memory_reservation.map(Value::from),
    );
    set(&mut v, "memory", "swap", a.memory_swap.map(Value::from));
    set(&mut v, "cpu", "shares", a.cpu_shares.map(Value::from));
    set(&mut v, "cpu", "period", a.cpu_period.map(Value::from));
    set(&mut v, "cpu", "quota", a.cpu_quota.map(Value::from));
    set(
        &mut v,
        "cpu",
        "cpus",
        a.cpuset_cpus.clone().map(Value::from),
    );
    set(
        &mut v,
        "cpu",
        "mems",
        a.cpuset_mems.clone().map(Value::from),
    );
    set(&mut v, "pids", "limit", a.pids_limit.map(Value::from));
    set(&mut v, "blockIO", "weight", a.blkio_weight.map(Value::from));
    serde_json::from_value(v).map_err(|e| Error::Usage(format!("resources: {e}")))
}

pub fn run_update(g: &Global, a: UpdateArgs) -> Result<i32> {
    let r = resources(&a)?;
    crate::lifecycle::update::update(&g.store(), &a.id, &r)?;
    Ok(0)
}

#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// Print one stats event and exit
    #[arg(long)]
    pub stats: bool,
    /// Interval between stats events (e.g. 5s, 500ms)
    #[arg(long, default_value = "5s")]
    pub interval: String,
    pub id: String,
}

fn duration(s: &str) -> Option<std::time::Duration> {
    let (n, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: u64 = n.parse().ok()?;
    let ms = match unit {
        "ms" => n,
        "s" => n * 1000,
        "m" => n * 60_000,
        _ => return None,
    };
    (ms > 0).then(|| std::time::Duration::from_millis(ms))
}

pub fn run_events(g: &Global, a: EventsArgs) -> Result<i32> {
    let interval = duration(&a.interval)
        .ok_or_else(|| Error::Usage(format!("bad --interval {:?}", a.interval)))?;
    crate::lifecycle::update::events(&g.store(), &a.id, interval, a.stats)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn intervals() {
        assert_eq!(
            super::duration("5s"),
            Some(std::time::Duration::from_secs(5))
        );
        assert_eq!(
            super::duration("250ms"),
            Some(std::time::Duration::from_millis(250))
        );
        assert_eq!(
            super::duration("2"),
            Some(std::time::Duration::from_secs(2))
        );
        assert_eq!(super::duration("0s"), None);
        assert_eq!(super::duration("5h"), None);
    }
}
