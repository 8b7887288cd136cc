//! Image config -> runtime spec, the way containerd and podman convert it
//! (OCI image-spec "conversion.md"): Entrypoint + Cmd become the args, Env
//! gets a default PATH, WorkingDir the cwd, User is resolved against the
//! image's own /etc/passwd and /etc/group, and Labels, ExposedPorts,
//! Volumes and StopSignal are recorded as annotations. The rest is runc's
//! default spec with containerd's default capability set.

use crate::image::import::oci::ImageConfig;
use crate::image::store::{MountError, Store};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
pub const STOP_SIGNAL: &str = "org.opencontainers.image.stopSignal";
pub const EXPOSED_PORTS: &str = "org.opencontainers.image.exposedPorts";
/// Not defined by the image spec, hence berth's own namespace.
pub const VOLUMES: &str = "org.berth.image.volumes";
pub const IMAGE_NAME: &str = "org.berth.image.name";

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("image {0} has no Entrypoint or Cmd: give the command after --")]
    NoCommand(String),
    #[error("unable to find user {0}: no matching entries in the image's /etc/passwd")]
    UnknownUser(String),
    #[error("unable to find group {0}: no matching entries in the image's /etc/group")]
    UnknownGroup(String),
    #[error("read {path} in the image: {source}")]
    ReadUserDb {
        path: String,
        source: std::io::Error,
    },
    #[error("the generated spec is invalid: {0}")]
    Invalid(serde_json::Error),
    #[error("{path}: file exists; remove it first")]
    Exists { path: PathBuf },
    #[error("write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::image::store::StoreError),
    #[error(transparent)]
    Mount(#[from] MountError),
}

pub type Result<T> = std::result::Result<T, SpecError>;

/// The process identity a `User` string resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct BundleOpts {
    /// Replaces the image's Cmd (the Entrypoint stays), like `docker run IMAGE ARGS`.
    pub args: Vec<String>,
    pub terminal: bool,
}

/// Resolves `user` (`name`, `uid`, `name:group`, `uid:gid`, ...) like runc's
/// `GetExecUser`: names must exist in the files; a numeric uid need not, and
/// then its group is 0. Supplementary groups come from /etc/group only when
/// no group was given.
pub fn resolve_user(user: &str, passwd: &str, group: &str) -> Result<User> {
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let pw: Vec<Vec<&str>> = entries(passwd, 7);
    let entry = if u.is_empty() {
        pw.iter().find(|f| f[2] == "0")
    } else {
        pw.iter()
            .find(|f| f[0] == u || (u.parse::<u32>().is_ok() && f[2] == u))
    };
    let (uid, mut gid, name, home) = match (entry, u.parse::<u32>()) {
        (Some(f), _) => (num(f[2]), num(f[3]), Some(f[0]), Some(f[5].to_string())),
        (None, Ok(uid)) => (uid, 0, None, None),
        (None, Err(_)) if u.is_empty() => (0, 0, None, None),
        (None, Err(_)) => return Err(SpecError::UnknownUser(u.into())),
    };
    let groups: Vec<Vec<&str>> = entries(group, 4);
    let mut additional = Vec::new();
    match g {
        Some(g) if !g.is_empty() => {
            gid = match (g.parse::<u32>(), groups.iter().find(|f| f[0] == g)) {
                (Ok(n), _) => n,
                (Err(_), Some(f)) => num(f[2]),
                (Err(_), None) => return Err(SpecError::UnknownGroup(g.into())),
            }
        }
        _ => {
            if let Some(name) = name {
                let member = |f: &&Vec<&str>| f[3].split(',').any(|m| m == name);
                additional = groups
                    .iter()
                    .filter(member)
                    .map(|f| num(f[2]))
                    .filter(|n| *n != gid)
                    .collect();
                additional.sort_unstable();
                additional.dedup();
            }
        }
    }
    Ok(User {
        uid,
        gid,
        additional_gids: additional,
        home,
    })
}

/// The `:`-separated lines with at least `min` fields, comments skipped.
fn entries(text: &str, min: usize) -> Vec<Vec<&str>> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= min && f[2].parse::<u32>().is_ok())
        .collect()
}

fn num(s: &str) -> u32 {
    s.parse().unwrap_or(0)
}

/// Entrypoint + Cmd (or Entrypoint + `args` when given).
pub fn process_args(cfg: &ImageConfig, args: &[String], image: &str) -> Result<Vec<String>> {
    let c = cfg.config.clone().unwrap_or_default();
    let mut out = c.entrypoint.unwrap_or_default();
    if args.is_empty() {
        out.extend(c.cmd.unwrap_or_default());
    } else {
        out.extend(args.iter().cloned());
    }
    if out.is_empty() {
        return Err(SpecError::NoCommand(image.into()));
    }
    Ok(out)
}

/// The image's Env, with PATH added when missing, HOME from the user's
/// passwd entry (as Docker does) and TERM for a terminal.
pub fn process_env(cfg: &ImageConfig, user: &User, terminal: bool) -> Vec<String> {
    let mut env = cfg
        .config
        .as_ref()
        .and_then(|c| c.env.clone())
        .unwrap_or_default();
    let has = |env: &[String], k: &str| env.iter().any(|e| e.split('=').next() == Some(k));
    if !has(&env, "PATH") {
        env.insert(0, DEFAULT_PATH.into());
    }
    if !has(&env, "HOME") {
        env.push(format!(
            "HOME={}",
            user.home
                .as_deref()
                .filter(|h| !h.is_empty())
                .unwrap_or("/")
        ));
    }
    if terminal && !has(&env, "TERM") {
        env.push("TERM=xterm".into());
    }
    env
}

/// Labels, then the fields the conversion spec maps to annotations (they
/// win over a label of the same key).
pub fn annotations(cfg: &ImageConfig, image: &str) -> BTreeMap<String, String> {
    let c = cfg.config.clone().unwrap_or_default();
    let mut a = c.labels.unwrap_or_default();
    let keys =
        |m: Option<BTreeMap<String, Value>>| m.map(|m| m.into_keys().collect::<Vec<_>>().join(","));
    let fields = [
        (STOP_SIGNAL, c.stop_signal),
        (EXPOSED_PORTS, keys(c.exposed_ports)),
        (VOLUMES, keys(c.volumes)),
        ("org.opencontainers.image.os", Some(cfg.os.clone())),
        (
            "org.opencontainers.image.architecture",
            Some(cfg.architecture.clone()),
        ),
        ("org.opencontainers.image.author", cfg.author.clone()),
        ("org.opencontainers.image.created", cfg.created.clone()),
        (IMAGE_NAME, Some(image.to_string())),
    ];
    for (k, v) in fields {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            a.insert(k.into(), v);
        }
    }
    a
}

/// The spec for image `image` with config `cfg`, rooted at `rootfs`.
pub fn image_spec(
    cfg: &ImageConfig,
    user: &User,
    image: &str,
    rootfs: &Path,
    opts: &BundleOpts,
) -> Result<oci_spec::runtime::Spec> {
    let mut v = default_spec();
    let cwd = cfg
        .config
        .as_ref()
        .and_then(|c| c.working_dir.clone())
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "/".into());
    // Docker treats a relative WorkingDir as relative to /.
    let cwd = if cwd.starts_with('/') {
        cwd
    } else {
        format!("/{cwd}")
    };
    v["process"]["terminal"] = json!(opts.terminal);
    v["process"]["args"] = json!(process_args(cfg, &opts.args, image)?);
    v["process"]["env"] = json!(process_env(cfg, user, opts.terminal));
    v["process"]["cwd"] = json!(cwd);
    v["process"]["user"] = json!({"uid": user.uid, "gid": user.gid});
    if !user.additional_gids.is_empty() {
        v["process"]["user"]["additionalGids"] = json!(user.additional_gids);
    }
    v["root"] = json!({"path": rootfs, "readonly": false});
    v["annotations"] = json!(annotations(cfg, image));
    serde_json::from_value(v).map_err(SpecError::Invalid)
}

/// runc's default spec (`runc spec`), with containerd's default
/// capabilities so that images whose processes chown, setuid or bind low
/// ports work as they do under containerd and podman.
pub fn default_spec() -> Value {
    let caps = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FSETID",
        "CAP_FOWNER",
        "CAP_MKNOD",
        "CAP_NET_RAW",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETFCAP",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_KILL",
        "CAP_AUDIT_WRITE",
    ];
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": [],
            "env": [DEFAULT_PATH],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "berth",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// Reads `rel` (etc/passwd, etc/group) inside `rootfs` without following
/// a symlink out of it; a missing file reads as empty.
pub fn read_in_rootfs(rootfs: &Path, rel: &str) -> Result<String> {
    let err = |source| SpecError::ReadUserDb {
        path: format!("/{rel}"),
        source,
    };
    let root = std::fs::File::open(rootfs).map_err(err)?;
    let fd = match crate::sys::fs::open_in_root(
        std::os::fd::AsFd::as_fd(&root),
        Path::new(rel),
        libc::O_RDONLY,
    ) {
        Ok(fd) => fd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(e) => return Err(err(e)),
    };
    let mut buf = Vec::new();
    std::fs::File::from(fd)
        .take(4 << 20)
        .read_to_end(&mut buf)
        .map_err(err)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// `image bundle`: mounts the image at `dir/rootfs` and writes
/// `dir/config.json` for it (`dir` is created if missing). On failure the
/// mount is undone.
pub fn write_bundle(store: &Store, image: &str, dir: &Path, opts: &BundleOpts) -> Result<PathBuf> {
    let config_path = dir.join("config.json");
    if config_path.exists() {
        return Err(SpecError::Exists { path: config_path });
    }
    let (name, rec) = store.resolve(image)?;
    let cfg: ImageConfig =
        serde_json::from_slice(&store.read_blob(&rec.config)?).map_err(SpecError::Invalid)?;
    std::fs::create_dir_all(dir).map_err(|source| SpecError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let rootfs = dir.join("rootfs");
    let mounted = store.mount_image(&name, &rootfs)?;
    let res = (|| {
        let user_str = cfg
            .config
            .as_ref()
            .and_then(|c| c.user.clone())
            .unwrap_or_default();
        let passwd = read_in_rootfs(&mounted.target, "etc/passwd")?;
        let group = read_in_rootfs(&mounted.target, "etc/group")?;
        let user = resolve_user(&user_str, &passwd, &group)?;
        let spec = image_spec(&cfg, &user, &name, &mounted.target, opts)?;
        let text = serde_json::to_string_pretty(&spec).map_err(SpecError::Invalid)?;
        std::fs::write(&config_path, text + "\n").map_err(|source| SpecError::Write {
            path: config_path.clone(),
            source,
        })
    })();
    if let Err(e) = res {
        let _ = store.unmount(&mounted.target);
        return Err(e);
    }
    Ok(config_path)
}

#[cfg(test)]
mod tests;
