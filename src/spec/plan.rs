//! Spec -> InitPlan: every decision the container's init needs, made in the
//! parent before anything forks (runc's `specconv`). The child only executes.

use super::mounts::{plan_mount, propagation, MountKind, MountPlan, MountSpecError};
use super::validate::{namespace, validate, ValidateError};
use nix::mount::MsFlags;
use nix::sys::resource::Resource;
use oci_spec::runtime::{Hook, LinuxDeviceType, LinuxNamespaceType, Spec};
use std::ffi::CString;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Invalid(#[from] ValidateError),
    #[error(transparent)]
    Mount(#[from] MountSpecError),
    #[error("rootfs {0}: no such directory")]
    NoRootfs(PathBuf),
    #[error("config.json: {0}")]
    Bad(String),
    #[error("config.json: linux.{0}")]
    Seccomp(#[from] crate::seccomp::SeccompError),
}

/// Options from the command line that shape the plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    pub bundle: PathBuf,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// Where compiled seccomp filters are kept (`seccomp::cache`).
    pub seccomp_cache: Option<PathBuf>,
}

#[derive(Debug, Clone, Default)]
pub struct NamespacePlan {
    /// CLONE_NEW* flags passed to clone3.
    pub clone_flags: u64,
    /// Namespaces the child joins with setns, user namespace first.
    pub join: Vec<(LinuxNamespaceType, PathBuf)>,
    /// pid and time namespaces joined by the parent (they apply to children).
    pub parent_join: Vec<(LinuxNamespaceType, PathBuf)>,
    /// The child unshares a cgroup namespace once it is in its cgroup.
    pub new_cgroup_ns: bool,
    /// The parent unshares a time namespace and writes these offsets.
    pub new_time_ns: Option<String>,
    pub uid_map: Option<String>,
    pub gid_map: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePlan {
    pub path: PathBuf,
    /// S_IFCHR, S_IFBLK or S_IFIFO.
    pub kind: u32,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Clone)]
pub struct RootfsPlan {
    pub path: PathBuf,
    pub readonly: bool,
    /// Propagation of the container's `/` (runc's default: rslave).
    pub propagation: MsFlags,
    pub mounts: Vec<MountPlan>,
    /// /dev is a fresh tmpfs: create the default devices and symlinks in it.
    pub setup_dev: bool,
    pub devices: Vec<DevicePlan>,
    pub masked: Vec<PathBuf>,
    pub readonly_paths: Vec<PathBuf>,
    pub no_pivot: bool,
    /// Bind the devices from the host instead of mknod (user namespaces).
    pub bind_devices: bool,
    /// The container gets a cgroup namespace (else cgroup mounts are binds).
    pub cgroupns: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rlimit {
    pub name: String,
    pub resource: Resource,
    pub soft: u64,
    pub hard: u64,
}

/// Capability sets as bitmasks (bit n = capability n).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapPlan {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

#[derive(Debug, Clone, Default)]
pub struct ProcessPlan {
    pub args: Vec<CString>,
    pub env: Vec<CString>,
    pub cwd: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub umask: Option<u32>,
    pub rlimits: Vec<Rlimit>,
    /// None: leave the capabilities as they are (runc does the same).
    pub caps: Option<CapPlan>,
    pub no_new_privs: bool,
    pub oom_score_adj: Option<i32>,
    pub terminal: bool,
    pub console_size: Option<(u16, u16)>,
    pub preserve_fds: u32,
    /// The compiled `linux.seccomp` filter.
    pub seccomp: Option<crate::seccomp::Program>,
}

#[derive(Debug, Clone)]
pub struct InitPlan {
    pub id: String,
    pub namespaces: NamespacePlan,
    pub rootfs: RootfsPlan,
    pub process: ProcessPlan,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub sysctl: Vec<(String, String)>,
    pub new_keyring: bool,
    pub has_create_runtime_hooks: bool,
    pub create_container_hooks: Vec<Hook>,
    pub start_container_hooks: Vec<Hook>,
    /// The OCI state fields the child's hooks need besides the pid.
    pub bundle: PathBuf,
    pub annotations: Vec<(String, String)>,
}

pub fn plan(id: &str, spec: &Spec, opts: &PlanOptions) -> Result<InitPlan, PlanError> {
    validate(spec)?;
    let hooks = spec.hooks().clone().unwrap_or_default();
    let has_create_runtime_hooks = hooks.prestart().as_ref().is_some_and(|h| !h.is_empty())
        || hooks
            .create_runtime()
            .as_ref()
            .is_some_and(|h| !h.is_empty());
    let linux = spec.linux().clone().unwrap_or_default();
    let mut sysctl: Vec<_> = linux
        .sysctl()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    sysctl.sort();
    let mut annotations: Vec<_> = spec
        .annotations()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    annotations.sort();
    let namespaces = plan_namespaces(spec)?;
    let rootfs = plan_rootfs(
        spec,
        opts,
        namespaces.clone_flags & libc::CLONE_NEWUSER as u64 != 0,
    )?;
    Ok(InitPlan {
        id: id.to_string(),
        namespaces,
        rootfs,
        process: plan_process(spec, opts)?,
        hostname: spec.hostname().clone().filter(|h| !h.is_empty()),
        domainname: spec.domainname().clone().filter(|h| !h.is_empty()),
        sysctl,
        new_keyring: !opts.no_new_keyring,
        has_create_runtime_hooks,
        create_container_hooks: hooks.create_container().clone().unwrap_or_default(),
        start_container_hooks: hooks.start_container().clone().unwrap_or_default(),
        bundle: opts.bundle.clone(),
        annotations,
    })
}

fn plan_namespaces(spec: &Spec) -> Result<NamespacePlan, PlanError> {
    use LinuxNamespaceType as T;
    let mut p = NamespacePlan::default();
    let order = [
        T::User,
        T::Mount,
        T::Uts,
        T::Ipc,
        T::Network,
        T::Pid,
        T::Cgroup,
        T::Time,
    ];
    for typ in order {
        match namespace(spec, typ) {
            None => {}
            Some(Some(path)) if matches!(typ, T::Pid | T::Time) => p.parent_join.push((typ, path)),
            Some(Some(path)) => p.join.push((typ, path)),
            Some(None) if typ == T::Cgroup => p.new_cgroup_ns = true,
            Some(None) if typ == T::Time => p.new_time_ns = Some(time_offsets(spec)),
            Some(None) => p.clone_flags |= typ as u64,
        }
    }
    let linux = spec.linux().as_ref();
    let map = |m: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| {
        m.filter(|m| !m.is_empty()).map(|m| {
            m.iter()
                .map(|e| format!("{} {} {}\n", e.container_id(), e.host_id(), e.size()))
                .collect::<String>()
        })
    };
    if p.clone_flags & libc::CLONE_NEWUSER as u64 != 0 {
        p.uid_map = map(linux.and_then(|l| l.uid_mappings().as_ref()));
        p.gid_map = map(linux.and_then(|l| l.gid_mappings().as_ref()));
    }
    Ok(p)
}

/// The content of /proc/self/timens_offsets for the spec's timeOffsets.
fn time_offsets(spec: &Spec) -> String {
    let offsets = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().clone())
        .unwrap_or_default();
    let mut out = String::new();
    for (clock, off) in offsets {
        out.push_str(&format!(
            "{} {} {}\n",
            clock,
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        ));
    }
    out
}

fn plan_rootfs(spec: &Spec, opts: &PlanOptions, userns: bool) -> Result<RootfsPlan, PlanError> {
    let root = spec.root().as_ref().expect("validated");
    let path = opts.bundle.join(root.path());
    let path = path
        .canonicalize()
        .ok()
        .filter(|p| p.is_dir())
        .ok_or_else(|| PlanError::NoRootfs(path.clone()))?;
    let linux = spec.linux().clone().unwrap_or_default();
    let propagation = match linux.rootfs_propagation().as_deref() {
        None | Some("") => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        Some(name) => propagation(name)
            .ok_or_else(|| PlanError::Bad(format!("unknown rootfsPropagation {name:?}")))?,
    };
    let mounts = spec
        .mounts()
        .iter()
        .flatten()
        .map(plan_mount)
        .collect::<Result<Vec<_>, _>>()?;
    let setup_dev = !mounts
        .iter()
        .any(|m| m.dest == Path::new("/dev") && matches!(m.kind, MountKind::Bind { .. }));
    Ok(RootfsPlan {
        path,
        readonly: root.readonly().unwrap_or(false),
        propagation,
        setup_dev,
        devices: plan_devices(spec, setup_dev)?,
        masked: linux
            .masked_paths()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(PathBuf::from)
            .collect(),
        readonly_paths: linux
            .readonly_paths()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(PathBuf::from)
            .collect(),
        mounts,
        no_pivot: opts.no_pivot,
        bind_devices: userns,
        cgroupns: namespace(spec, LinuxNamespaceType::Cgroup).is_some(),
    })
}

/// The default devices every container gets (runtime-spec "Default Devices").
const DEFAULT_DEVICES: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

fn plan_devices(spec: &Spec, setup_dev: bool) -> Result<Vec<DevicePlan>, PlanError> {
    let mut out = Vec::new();
    let listed = spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().clone())
        .unwrap_or_default();
    for d in &listed {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
            LinuxDeviceType::B => libc::S_IFBLK,
            LinuxDeviceType::P => libc::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(PlanError::Bad(format!(
                    "device {}: type 'a' cannot be created",
                    d.path().display()
                )))
            }
        };
        if !d.path().starts_with("/dev") {
            return Err(PlanError::Bad(format!(
                "device {}: must be under /dev",
                d.path().display()
            )));
        }
        out.push(DevicePlan {
            path: d.path().clone(),
            kind,
            major: d.major() as u64,
            minor: d.minor() as u64,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    if setup_dev {
        for (path, major, minor) in DEFAULT_DEVICES {
            if !out.iter().any(|d| d.path == Path::new(path)) {
                out.push(DevicePlan {
                    path: PathBuf::from(path),
                    kind: libc::S_IFCHR,
                    major: *major,
                    minor: *minor,
                    mode: 0o666,
                    uid: 0,
                    gid: 0,
                });
            }
        }
    }
    Ok(out)
}

fn cstrings(v: &[String], what: &str) -> Result<Vec<CString>, PlanError> {
    v.iter()
        .map(|s| {
            CString::new(s.as_str())
                .map_err(|_| PlanError::Bad(format!("{what} contains a NUL byte")))
        })
        .collect()
}

pub(crate) fn plan_process(spec: &Spec, opts: &PlanOptions) -> Result<ProcessPlan, PlanError> {
    let p = spec.process().as_ref().expect("validated");
    let user = p.user();
    let rlimits = p
        .rlimits()
        .iter()
        .flatten()
        .map(|r| {
            let name = serde_json::to_value(r.typ())
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            let resource = rlimit_resource(&name)
                .ok_or_else(|| PlanError::Bad(format!("unknown rlimit {name}")))?;
            Ok(Rlimit {
                name,
                resource,
                soft: r.soft(),
                hard: r.hard(),
            })
        })
        .collect::<Result<Vec<_>, PlanError>>()?;
    let console_size = p
        .console_size()
        .map(|b| (b.height() as u16, b.width() as u16));
    Ok(ProcessPlan {
        args: cstrings(p.args().as_deref().unwrap_or_default(), "process.args")?,
        env: cstrings(p.env().as_deref().unwrap_or_default(), "process.env")?,
        cwd: p.cwd().clone(),
        uid: user.uid(),
        gid: user.gid(),
        additional_gids: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask(),
        rlimits,
        caps: p
            .capabilities()
            .as_ref()
            .map(super::caps::plan_caps)
            .transpose()?,
        no_new_privs: p.no_new_privileges().unwrap_or(false),
        oom_score_adj: p.oom_score_adj(),
        terminal: p.terminal().unwrap_or(false),
        console_size,
        preserve_fds: opts.preserve_fds,
        seccomp: spec
            .linux()
            .as_ref()
            .and_then(|l| l.seccomp().as_ref())
            .map(|s| crate::seccomp::cache::compile_cached(s, opts.seccomp_cache.as_deref()))
            .transpose()?,
    })
}

/// RLIMIT_* name -> resource.
pub fn rlimit_resource(name: &str) -> Option<Resource> {
    use Resource::*;
    let r = match name {
        "RLIMIT_CPU" => RLIMIT_CPU,
        "RLIMIT_FSIZE" => RLIMIT_FSIZE,
        "RLIMIT_DATA" => RLIMIT_DATA,
        "RLIMIT_STACK" => RLIMIT_STACK,
        "RLIMIT_CORE" => RLIMIT_CORE,
        "RLIMIT_RSS" => RLIMIT_RSS,
        "RLIMIT_NPROC" => RLIMIT_NPROC,
        "RLIMIT_NOFILE" => RLIMIT_NOFILE,
        "RLIMIT_MEMLOCK" => RLIMIT_MEMLOCK,
        "RLIMIT_AS" => RLIMIT_AS,
        "RLIMIT_LOCKS" => RLIMIT_LOCKS,
        "RLIMIT_SIGPENDING" => RLIMIT_SIGPENDING,
        "RLIMIT_MSGQUEUE" => RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => RLIMIT_NICE,
        "RLIMIT_RTPRIO" => RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => RLIMIT_RTTIME,
        _ => return None,
    };
    Some(r)
}
