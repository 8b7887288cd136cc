//! Container statistics in runc's `events` shape (cpu, memory, pids).

use super::{read_value, Cgroup};
use serde_json::{json, Value};
use std::path::Path;

fn num(p: &Path) -> Option<u64> {
    read_value(p).and_then(|v| v.parse().ok())
}

/// Parses `key value` lines (memory.stat, cpu.stat, memory.events).
pub fn kv(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

fn kv_file(p: &Path) -> Vec<(String, u64)> {
    kv(&std::fs::read_to_string(p).unwrap_or_default())
}

fn get(kv: &[(String, u64)], key: &str) -> u64 {
    kv.iter().find(|(k, _)| k == key).map_or(0, |(_, v)| *v)
}

impl Cgroup {
    fn file(&self, controller: &str, v1: &str, v2: &str) -> Option<std::path::PathBuf> {
        let d = self.dir_for(controller)?;
        Some(d.path.join(if d.v2 { v2 } else { v1 }))
    }

    /// `{"cpu": .., "memory": .., "pids": ..}` as runc's types.Stats.
    pub fn stats(&self) -> Value {
        json!({
            "cpu": self.cpu_stats(),
            "memory": self.memory_stats(),
            "pids": self.pids_stats(),
        })
    }

    fn cpu_stats(&self) -> Value {
        if let Some(d) = self.dir_for("cpuacct").filter(|d| !d.v2) {
            let total = num(&d.path.join("cpuacct.usage")).unwrap_or(0);
            let percpu: Vec<u64> = read_value(&d.path.join("cpuacct.usage_percpu"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            let st = kv_file(&d.path.join("cpuacct.stat"));
            let tick = 10_000_000; // USER_HZ=100 -> ns
            return json!({"usage": {"total": total, "percpu": percpu,
                "kernel": get(&st, "system") * tick, "user": get(&st, "user") * tick}});
        }
        match self.dir_for("cpu").or(self.v2_dir()) {
            Some(d) if d.v2 => {
                let st = kv_file(&d.path.join("cpu.stat"));
                json!({"usage": {"total": get(&st, "usage_usec") * 1000,
                    "kernel": get(&st, "system_usec") * 1000, "user": get(&st, "user_usec") * 1000},
                    "throttling": {"periods": get(&st, "nr_periods"),
                    "throttledPeriods": get(&st, "nr_throttled"), "throttledTime": get(&st, "throttled_usec") * 1000}})
            }
            _ => json!({}),
        }
    }

    fn memory_stats(&self) -> Value {
        let Some(d) = self.dir_for("memory") else {
            return json!({});
        };
        if d.v2 {
            let usage = num(&d.path.join("memory.current")).unwrap_or(0);
            let limit = read_value(&d.path.join("memory.max"))
                .and_then(|v| v.parse().ok())
                .unwrap_or(u64::MAX);
            let ev = kv_file(&d.path.join("memory.events"));
            let st = kv_file(&d.path.join("memory.stat"));
            return json!({"usage": {"usage": usage, "limit": limit, "max": num(&d.path.join("memory.peak")).unwrap_or(0),
                "failcnt": get(&ev, "max")}, "cache": get(&st, "file"),
                "raw": st.into_iter().collect::<std::collections::BTreeMap<_, _>>()});
        }
        let p = |f: &str| num(&d.path.join(f)).unwrap_or(0);
        let st = kv_file(&d.path.join("memory.stat"));
        json!({"usage": {"usage": p("memory.usage_in_bytes"), "limit": p("memory.limit_in_bytes"),
            "max": p("memory.max_usage_in_bytes"), "failcnt": p("memory.failcnt")},
            "swap": {"usage": p("memory.memsw.usage_in_bytes"), "limit": p("memory.memsw.limit_in_bytes")},
            "cache": get(&st, "cache"),
            "raw": st.into_iter().collect::<std::collections::BTreeMap<_, _>>()})
    }

    fn pids_stats(&self) -> Value {
        let Some(cur) = self.file("pids", "pids.current", "pids.current") else {
            return json!({});
        };
        let max = self
            .file("pids", "pids.max", "pids.max")
            .and_then(|p| read_value(&p));
        let limit = max.and_then(|m| m.parse::<u64>().ok()).unwrap_or(0);
        json!({"current": num(&cur).unwrap_or(0), "limit": limit})
    }

    /// The number of OOM kills so far (v1 memory.oom_control, v2 memory.events).
    pub fn oom_kills(&self) -> u64 {
        let Some(d) = self.dir_for("memory") else {
            return 0;
        };
        let f = if d.v2 {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        get(&kv_file(&d.path.join(f)), "oom_kill")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_value_files() {
        let kv = super::kv("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n");
        assert_eq!(super::get(&kv, "oom_kill"), 1);
        assert_eq!(super::get(&kv, "max"), 12);
        assert_eq!(super::get(&kv, "nope"), 0);
    }
}
