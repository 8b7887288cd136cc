//! `create`: plan, fork the init, record the state. On failure nothing is
//! left: the init is killed (its mounts die with its mount namespace) and
//! the state directory removed.

use super::{Error, Result};
use crate::cgroups::Cgroup;
use crate::process::spawn::{spawn, ParentSteps, SpawnFds};
use crate::spec::plan::{plan, PlanOptions};
use crate::state::store::{ContainerDir, Store};
use crate::state::{status, Container, OciState, Status};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct CreateOpts {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
}

/// A created container, its directory still locked.
pub struct Created {
    pub dir: ContainerDir,
    pub container: Container,
    /// The relay socket given to `create_with_console` was used: the pty
    /// master is waiting on its other end.
    pub relayed: bool,
}

pub fn create(store: &Store, o: &CreateOpts) -> Result<Created> {
    create_with_console(store, o, None)
}

/// `create`, with a connected socket for relaying the terminal: used (and
/// `Created::relayed` set) only when process.terminal is set and no
/// `--console-socket` was given. Foreground `run` and the supervisor pass
/// one, so the config is read once, here.
pub fn create_with_console(
    store: &Store,
    o: &CreateOpts,
    relay: Option<OwnedFd>,
) -> Result<Created> {
    crate::state::store::validate_id(&o.id)?;
    let bundle = absolute(&o.bundle)?;
    let spec = crate::spec::load::load(&bundle)?;
    let opts = PlanOptions {
        bundle: bundle.clone(),
        no_pivot: o.no_pivot,
        no_new_keyring: o.no_new_keyring,
        preserve_fds: o.preserve_fds,
        seccomp_cache: Some(store.seccomp_cache()),
    };
    let plan = plan(&o.id, &spec, &opts)?;
    let console = relay.filter(|_| plan.process.terminal && o.console_socket.is_none());
    let relayed = console.is_some();
    check_console(plan.process.terminal, o.console_socket.is_some() || relayed)?;
    let mut cgroup = plan_cgroup(&spec, &o.id)?;
    let dir = store.create(&o.id)?;
    match create_in(&dir, o, &spec, &plan, console, &mut cgroup) {
        Ok(container) => Ok(Created {
            dir,
            container,
            relayed,
        }),
        Err(e) => {
            // The init is dead (spawn reaps it on failure): nothing holds the cgroup.
            let _ = cgroup.destroy();
            let _ = dir.remove();
            Err(e)
        }
    }
}

fn plan_cgroup(spec: &crate::spec::Spec, id: &str) -> Result<Cgroup> {
    let layout = crate::cgroups::host_layout()?;
    let path = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
    Ok(Cgroup::resolve(&layout, path.as_deref(), id)?)
}

fn check_console(terminal: bool, socket: bool) -> Result<()> {
    match (terminal, socket) {
        (true, false) => Err(Error::Usage(
            "cannot allocate tty if berth will detach without setting console socket".into(),
        )),
        (false, true) => Err(Error::Usage(
            "cannot use console socket if berth will not detach or allocate tty".into(),
        )),
        _ => Ok(()),
    }
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(|e| Error::io(format!("bundle {}", p.display()), e))
}

fn create_in(
    dir: &ContainerDir,
    o: &CreateOpts,
    spec: &crate::spec::Spec,
    plan: &crate::spec::plan::InitPlan,
    console: Option<OwnedFd>,
    cgroup: &mut Cgroup,
) -> Result<Container> {
    dir.save_cgroup(cgroup)?;
    let saved = dir.path.join(crate::state::store::CONFIG_FILE);
    std::fs::copy(plan.bundle.join("config.json"), &saved)
        .map_err(|e| Error::io(format!("copy config.json to {}", saved.display()), e))?;
    cgroup.create()?;
    let fifo = dir.fifo_path();
    nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o622))
        .map_err(|e| Error::io("create exec fifo", e))?;
    // Read-write: the child holds both ends, so it blocks in read until
    // `start` writes, and `start` can tell a dead child by ENXIO.
    let fifo_fd = nix::fcntl::open(&fifo, OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| Error::io("open exec fifo", e))?;
    let console_socket = match (&o.console_socket, console) {
        (_, Some(fd)) => Some(fd),
        (Some(p), None) => Some(connect_console(p)?),
        (None, None) => None,
    };
    let fds = SpawnFds {
        exec_fifo: crate::sys::fs::own(fifo_fd),
        console_socket,
        cgroup_v2: cgroup.open_v2(),
    };
    let hooks = spec.hooks().clone().unwrap_or_default();
    let mut run_create_runtime = |pid: i32| {
        let state = OciState::new(
            &o.id,
            Status::Creating,
            pid,
            &plan.bundle,
            &plan.annotations,
        )
        .to_json();
        crate::hooks::run_all(
            hooks.prestart().as_deref().unwrap_or_default(),
            &state,
            "prestart",
        )
        .and_then(|_| {
            crate::hooks::run_all(
                hooks.create_runtime().as_deref().unwrap_or_default(),
                &state,
                "createRuntime",
            )
        })
        .map_err(|e| e.to_string())
    };
    let placed = cgroup.clone();
    let mut place =
        |pid: i32, born_in_v2: bool| placed.add(pid, born_in_v2).map_err(|e| e.to_string());
    // Limits and device rules go on once the init is set up (as runc does
    // at procReady): the init's mknod of configured devices must not meet
    // the device filter, and set-up does not count against small limits.
    let resources = spec.linux().as_ref().and_then(|l| l.resources().clone());
    let mut ready = |_pid: i32| match &resources {
        Some(r) => placed
            .apply(&crate::cgroups::resources::writes(r))
            .and_then(|_| {
                let rules = crate::cgroups::resources::effective_device_rules(
                    r.devices().as_deref().unwrap_or_default(),
                );
                placed.apply_device_filter(&rules)
            })
            .map_err(|e| e.to_string()),
        None => Ok(()),
    };
    let steps = ParentSteps {
        place: &mut place,
        hooks: &mut run_create_runtime,
        ready: &mut ready,
    };
    let pid = spawn(plan, fds, steps)?;
    let container = Container {
        id: o.id.clone(),
        pid,
        start_time: status::start_time(pid),
        bundle: plan.bundle.clone(),
        rootfs: plan.rootfs.path.clone(),
        created: crate::timefmt::now_rfc3339(),
        owner: owner(),
        annotations: plan.annotations.iter().cloned().collect(),
        poststart: hooks.poststart().clone().unwrap_or_default(),
        poststop: hooks.poststop().clone().unwrap_or_default(),
        shared_pidns: crate::spec::validate::namespace(
            spec,
            oci_spec::runtime::LinuxNamespaceType::Pid,
        )
        .is_none(),
        cgroup: cgroup.clone(),
    };
    let written = dir
        .save(&container)
        .map_err(Error::from)
        .and_then(|_| match &o.pid_file {
            Some(p) => write_pid_file(p, pid),
            None => Ok(()),
        });
    if let Err(e) = written {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        return Err(e);
    }
    Ok(container)
}

fn connect_console(path: &Path) -> Result<OwnedFd> {
    let s = std::os::unix::net::UnixStream::connect(path)
        .map_err(|e| Error::io(format!("connect to console socket {}", path.display()), e))?;
    Ok(OwnedFd::from(s))
}

/// Written via a temp file and rename, so a reader never sees it half-done.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    std::fs::write(&tmp, pid.to_string())
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| Error::io(format!("write pid file {}", path.display()), e))
}

fn owner() -> String {
    match nix::unistd::getuid().as_raw() {
        0 => "root".into(),
        u => u.to_string(),
    }
}
