//! `container run` flags -> the OCI spec: the image's config (through
//! `image::spec`), then the flags on top, with safe defaults.

use super::{EngineError, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Everything `container run` was asked, kept in the record.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct RunConfig {
    pub image: String,
    pub args: Vec<String>,
    pub name: Option<String>,
    pub env: Vec<String>,
    pub env_files: Vec<PathBuf>,
    pub configs: Vec<String>,
    pub volumes: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub entrypoint: Option<String>,
    pub hostname: Option<String>,
    pub read_only: bool,
    pub memory: Option<String>,
    pub cpus: Option<f64>,
    pub pids_limit: Option<i64>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub seccomp: Option<String>,
    pub labels: Vec<String>,
    pub tty: bool,
    pub interactive: bool,
}

fn bad(msg: String) -> EngineError {
    EngineError::Msg(msg)
}

/// `64m`, `1g`, `512k`, `1048576` -> bytes.
pub fn parse_size(s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.trim_end_matches('b');
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    num.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .map(|n| n * mult)
        .ok_or_else(|| bad(format!("invalid size {s:?} (e.g. 64m, 1g)")))
}

/// `K=V` as given, or `K` taken from the caller's environment.
pub fn env_entries(cfg: &RunConfig) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for f in &cfg.env_files {
        let text = std::fs::read_to_string(f)
            .map_err(|e| bad(format!("--env-file {}: {e}", f.display())))?;
        out.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from),
        );
    }
    out.extend(cfg.env.iter().cloned());
    Ok(out
        .into_iter()
        .filter_map(|e| match e.split_once('=') {
            Some(_) => Some(e),
            None => std::env::var(&e).ok().map(|v| format!("{e}={v}")),
        })
        .collect())
}

fn set_env(spec: &mut Value, kv: &str) {
    let key = kv.split('=').next().unwrap_or("");
    let env = spec["process"]["env"].as_array_mut().expect("env array");
    env.retain(|e| e.as_str().and_then(|s| s.split('=').next()) != Some(key));
    env.push(json!(kv));
}

/// A named volume: letters, digits, `_.-`, not starting with `.`.
pub fn valid_volume_name(n: &str) -> bool {
    !n.is_empty()
        && !n.starts_with('.')
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// `SRC:DEST[:ro]` -> a bind mount; SRC is a host path, or for `-v` a
/// named volume kept under the store.
fn bind(spec: &mut Value, arg: &str, volumes: Option<&Path>) -> Result<()> {
    let parts: Vec<&str> = arg.split(':').collect();
    let (src, dest, ro) = match parts.as_slice() {
        [s, d] => (*s, *d, false),
        [s, d, "ro"] => (*s, *d, true),
        [s, d, "rw"] => (*s, *d, false),
        _ => return Err(bad(format!("invalid mount {arg:?}: want SRC:DEST[:ro]"))),
    };
    if !dest.starts_with('/') {
        return Err(bad(format!(
            "invalid mount {arg:?}: destination must be absolute"
        )));
    }
    let source = match volumes {
        Some(root) if !src.starts_with('/') => {
            if !valid_volume_name(src) {
                return Err(bad(format!(
                    "invalid volume name {src:?}: use letters, digits, '_', '.', '-'"
                )));
            }
            let p = root.join(src);
            std::fs::create_dir_all(&p).map_err(|e| super::io("create volume", &p, e))?;
            p
        }
        _ => {
            let p = PathBuf::from(src);
            if !p.exists() {
                return Err(bad(format!("mount source {src} does not exist")));
            }
            p
        }
    };
    let mut opts = vec!["rbind", "rprivate"];
    if ro {
        opts.push("ro");
    }
    spec["mounts"].as_array_mut().expect("mounts").push(json!({
        "destination": dest, "type": "bind", "source": source, "options": opts
    }));
    Ok(())
}

fn caps(spec: &mut Value, add: &[String], drop: &[String]) -> Result<()> {
    let norm = |c: &str| {
        let u = c.to_ascii_uppercase();
        if u.starts_with("CAP_") || u == "ALL" {
            u
        } else {
            format!("CAP_{u}")
        }
    };
    let all: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    for set in ["bounding", "effective", "permitted"] {
        let mut cur: Vec<String> = spec["process"]["capabilities"][set]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        // Drops first: `--cap-drop ALL --cap-add X` leaves exactly X (Docker).
        for c in drop.iter().map(|c| norm(c)) {
            if c == "ALL" {
                cur.clear();
            } else {
                cur.retain(|x| *x != c);
            }
        }
        for c in add.iter().map(|c| norm(c)) {
            if c == "ALL" {
                cur = all.clone();
            } else if crate::spec::caps::cap_number(&c).is_none() {
                return Err(bad(format!("unknown capability {c}")));
            } else if !cur.contains(&c) {
                cur.push(c);
            }
        }
        spec["process"]["capabilities"][set] = json!(cur);
    }
    Ok(())
}

fn resources(spec: &mut Value, cfg: &RunConfig) -> Result<()> {
    let r = &mut spec["linux"]["resources"];
    if let Some(m) = &cfg.memory {
        r["memory"] = json!({"limit": parse_size(m)?});
    }
    if let Some(c) = cfg.cpus {
        if c <= 0.0 {
            return Err(bad(format!("invalid --cpus {c}")));
        }
        r["cpu"] = json!({"quota": (c * 100_000.0) as i64, "period": 100_000});
    }
    if let Some(p) = cfg.pids_limit {
        r["pids"] = json!({"limit": p});
    }
    Ok(())
}

/// The container's seccomp profile: Docker's default, or the file given
/// (OCI or Docker format), resolved for its bounding capabilities as
/// Docker does (CAP_SYS_ADMIN unlocks mount, setns and namespace flags of
/// clone; CAP_SYS_PTRACE process_vm_*, ...). Call after `caps`.
fn seccomp(spec: &mut Value, choice: Option<&str>) -> Result<()> {
    use crate::seccomp::docker;
    let profile: Value = match choice {
        Some("unconfined") => return Ok(()),
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| bad(format!("seccomp profile {file}: {e}")))?;
            serde_json::from_str(&text).map_err(|e| bad(format!("seccomp profile {file}: {e}")))?
        }
        None => serde_json::from_str(docker::DOCKER_DEFAULT).expect("built-in profile parses"),
    };
    let profile = if docker::is_docker_format(&profile) {
        let caps: Vec<String> = spec["process"]["capabilities"]["bounding"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().map(String::from))
            .collect();
        docker::for_host(&profile, &caps).map_err(|e| {
            let file = choice.unwrap_or("(default)");
            bad(format!("seccomp profile {file}: {e}"))
        })?
    } else {
        profile
    };
    spec["linux"]["seccomp"] = profile;
    Ok(())
}

/// Applies the flags to the spec the image gave (as JSON).
pub fn apply(spec: &mut Value, cfg: &RunConfig, volumes: &Path) -> Result<()> {
    for kv in env_entries(cfg)? {
        set_env(spec, &kv);
    }
    if let Some(w) = &cfg.workdir {
        spec["process"]["cwd"] = json!(w);
    }
    if let Some(h) = &cfg.hostname {
        spec["hostname"] = json!(h);
    }
    spec["root"]["readonly"] = json!(cfg.read_only);
    spec["process"]["terminal"] = json!(cfg.tty);
    for c in &cfg.configs {
        bind(spec, c, None)?;
    }
    for v in &cfg.volumes {
        bind(spec, v, Some(volumes))?;
    }
    caps(spec, &cfg.cap_add, &cfg.cap_drop)?;
    resources(spec, cfg)?;
    seccomp(spec, cfg.seccomp.as_deref())?;
    for l in &cfg.labels {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        spec["annotations"][k] = json!(v);
    }
    // Its own cgroup namespace too: /sys/fs/cgroup shows the container's.
    let ns = spec["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces");
    if !ns.iter().any(|n| n["type"] == "cgroup") {
        ns.push(json!({"type": "cgroup"}));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64m").unwrap(), 64 << 20);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        assert_eq!(parse_size("512K").unwrap(), 512 << 10);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("-1m").is_err());
    }

    #[test]
    fn volume_names() {
        assert!(valid_volume_name("data"));
        assert!(valid_volume_name("db_1.v2-x"));
        for bad in ["", "a/b", "..", ".hidden", "x y"] {
            assert!(!valid_volume_name(bad), "{bad}");
        }
    }

    fn allowed(spec: &Value) -> Vec<String> {
        spec["linux"]["seccomp"]["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["action"] == "SCMP_ACT_ALLOW" && r.get("args").is_none())
            .flat_map(|r| r["names"].as_array().unwrap().clone())
            .map(|n| n.as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn default_seccomp_is_dockers_allowlist_for_the_final_caps() {
        let run = |cfg: RunConfig| {
            let mut spec = crate::image::spec::default_spec();
            apply(&mut spec, &cfg, Path::new("/nonexistent")).unwrap();
            spec
        };
        let plain = run(RunConfig::default());
        assert_eq!(plain["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
        assert!(plain["linux"]["seccomp"].get("archMap").is_none());
        let a = allowed(&plain);
        assert!(a.contains(&"read".into()) && !a.contains(&"mount".into()));
        let admin = run(RunConfig {
            cap_add: vec!["SYS_ADMIN".into()],
            ..Default::default()
        });
        assert!(allowed(&admin).contains(&"mount".into()));
        let none = run(RunConfig {
            seccomp: Some("unconfined".into()),
            ..Default::default()
        });
        assert!(none["linux"]["seccomp"].is_null());
    }

    #[test]
    fn flags_apply_on_top_of_the_image() {
        let mut spec = crate::image::spec::default_spec();
        spec["process"]["env"] = json!(["PATH=/bin", "A=1"]);
        let cfg = RunConfig {
            env: vec!["A=2".into(), "B=3".into()],
            memory: Some("32m".into()),
            cpus: Some(0.5),
            cap_drop: vec!["ALL".into()],
            cap_add: vec!["net_bind_service".into()],
            labels: vec!["k=v".into()],
            ..Default::default()
        };
        apply(&mut spec, &cfg, Path::new("/nonexistent")).unwrap();
        assert_eq!(spec["process"]["env"], json!(["PATH=/bin", "A=2", "B=3"]));
        assert_eq!(spec["linux"]["resources"]["memory"]["limit"], 32 << 20);
        assert_eq!(spec["linux"]["resources"]["cpu"]["quota"], 50_000);
        assert_eq!(
            spec["process"]["capabilities"]["bounding"],
            json!(["CAP_NET_BIND_SERVICE"])
        );
        assert_eq!(spec["annotations"]["k"], "v");
        assert!(spec["linux"]["seccomp"]["syscalls"].is_array());
        let bad_vol = RunConfig {
            volumes: vec!["../x:/data".into()],
            ..Default::default()
        };
        assert!(apply(&mut spec, &bad_vol, Path::new("/tmp")).is_err());
    }
}
