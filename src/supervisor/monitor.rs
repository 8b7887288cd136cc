//! The per-container supervisor: a small process (no daemon) that is the
//! parent of the container's init. It starts the container, writes its
//! output to the log, reaps it, records the exit, and restarts it as the
//! policy says, with backoff. It forks only while single-threaded.

use super::logfile::{LogFile, Stream};
use super::policy::{decide, Decision, Outcome};
use crate::engine::record::{now_epoch, Phase, Record};
use crate::engine::{Engine, EngineError};
use crate::lifecycle::create::{create_with_console, CreateOpts};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// Log size before rotation.
pub const LOG_MAX: u64 = 10 << 20;

/// Output sources of one run: the pipes (or the pty master with a tty).
struct Outputs {
    out: OwnedFd,
    err: Option<OwnedFd>,
}

fn signals() -> SigSet {
    let mut s = SigSet::empty();
    for sig in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
    ] {
        s.add(sig);
    }
    s
}

/// Runs the supervision loop for container `id`. `report` gets one line,
/// `ok` or `error: ...`, once the first start succeeded or failed.
pub fn supervise(e: &Engine, id: &str, mut report: Option<std::fs::File>) -> i32 {
    let sigs = signals();
    let _ = sigs.thread_block();
    let sfd = match SignalFd::new(&sigs) {
        Ok(s) => s,
        Err(err) => return fail_report(&mut report, &format!("signalfd: {err}")),
    };
    let mut log = match LogFile::open(&e.dir(id).join("container.log"), LOG_MAX) {
        Ok(l) => l,
        Err(err) => return fail_report(&mut report, &format!("open log: {err}")),
    };
    let me = (
        nix::unistd::getpid().as_raw(),
        crate::state::status::start_time(nix::unistd::getpid().as_raw()),
    );
    let mut backoff = Duration::ZERO;
    loop {
        let started = Instant::now();
        let (pid, outputs) = match start_once(e, id, me) {
            Ok(x) => x,
            Err(err) => {
                let _ = log.write(Stream::Stderr, format!("berth: {err}\n").as_bytes());
                retire(e, id, &mut log, |r| {
                    r.state.phase = Phase::Exited;
                    r.state.exit_code = Some(125);
                });
                return fail_report(&mut report, &err.to_string());
            }
        };
        if let Some(mut r) = report.take() {
            let _ = writeln!(r, "ok");
        }
        // Starting parsed the spec and compiled the seccomp profile; none
        // of that heap is needed while the container runs.
        crate::sys::misc::release_free_memory();
        let code = pump(&sfd, pid, &outputs, &mut log);
        let _ = log.flush();
        finish_run(e, id, code);
        let rec = match e.load(id) {
            Ok(r) => r,
            Err(_) => return 0,
        };
        let outcome = Outcome {
            exit_code: code,
            ran_for: started.elapsed(),
            manually_stopped: rec.state.manually_stopped,
            restarts: rec.state.restarts,
            last_backoff: backoff,
        };
        match decide(rec.policy, outcome) {
            Decision::Stop => break,
            Decision::Restart { after } => {
                backoff = after;
                let _ = e.update(id, |r| r.state.phase = Phase::Restarting);
                if interrupted(&sfd, after)
                    || e.load(id).map(|r| r.state.manually_stopped).unwrap_or(true)
                {
                    break;
                }
                let _ = e.update(id, |r| r.state.restarts += 1);
            }
        }
    }
    retire(e, id, &mut log, |r| {
        if r.state.phase == Phase::Restarting {
            r.state.phase = Phase::Exited;
        }
    });
    if e.load(id).is_ok_and(|r| r.auto_remove) {
        let _ = crate::engine::ops::remove_files(e, id);
    }
    0
}

/// The container will not run again under this supervisor: applies `f`
/// to the record, clears the supervisor and unmounts the overlay rootfs,
/// as docker and podman do for a stopped container (`upper/` and `work/`
/// stay; `start` mounts it again). The unmount happens under the record's
/// lock before the record says no supervisor, so a `start` that finds none
/// also finds the rootfs unmounted. The overlay was mounted by the berth
/// CLI (or by this process) in the mount namespace this supervisor still
/// shares, the one the host sees; the init's own namespace, which held a
/// copy of it, is gone once the init is reaped. An init left behind by a
/// failed start keeps it mounted until `rm`.
fn retire(e: &Engine, id: &str, log: &mut LogFile, f: impl FnOnce(&mut Record)) {
    let unmounted = e.update(id, |r| {
        f(r);
        r.state.supervisor = None;
        crate::engine::ops::release_stopped_rootfs(e, r)
    });
    if let Ok(Err(err)) = unmounted {
        let _ = log.write(Stream::Stderr, format!("berth: {err}\n").as_bytes());
    }
}

fn fail_report(report: &mut Option<std::fs::File>, msg: &str) -> i32 {
    if let Some(mut r) = report.take() {
        let _ = writeln!(r, "error: {msg}");
    }
    1
}

/// Creates and starts the OCI container with its stdio on pipes (or a pty).
fn start_once(e: &Engine, id: &str, me: (i32, u64)) -> Result<(i32, Outputs), EngineError> {
    let rec = e.load(id)?;
    crate::engine::create::ensure_rootfs(e, &rec)?;
    let rt = e.runtime();
    // A leftover OCI container of a previous run (a crashed supervisor).
    let _ = crate::lifecycle::delete::delete(&rt, id, true);
    let opts = CreateOpts {
        id: id.into(),
        bundle: e.dir(id).join("bundle"),
        ..Default::default()
    };
    let (created, outputs) = if rec.tty {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()
            .map_err(|err| crate::engine::io("socketpair", &opts.bundle, err))?;
        let c = create_with_console(&rt, &opts, Some(OwnedFd::from(theirs)))?;
        let master = crate::lifecycle::tty_relay::receive_master(&ours)?;
        (
            c,
            Outputs {
                out: master,
                err: None,
            },
        )
    } else {
        let (out_r, out_w) = nix::unistd::pipe()
            .map_err(|err| crate::engine::io("pipe", &opts.bundle, err.into()))?;
        let (err_r, err_w) = nix::unistd::pipe()
            .map_err(|err| crate::engine::io("pipe", &opts.bundle, err.into()))?;
        // The init inherits fds 1 and 2: point them at the pipes first.
        let _ = nix::unistd::dup2(out_w.as_raw_fd(), 1);
        let _ = nix::unistd::dup2(err_w.as_raw_fd(), 2);
        drop((out_w, err_w));
        let c = create_with_console(&rt, &opts, None)?;
        (
            c,
            Outputs {
                out: out_r,
                err: Some(err_r),
            },
        )
    };
    crate::lifecycle::start::start_locked(&created.dir, &created.container)?;
    let pid = created.container.pid;
    drop(created);
    e.update(id, |r| {
        r.state.phase = Phase::Running;
        r.state.init_pid = Some(pid);
        r.state.started_at = Some(crate::timefmt::now_rfc3339());
        r.state.started_epoch = Some(now_epoch());
        r.state.exit_code = None;
        r.state.supervisor = Some(me);
    })?;
    Ok((pid, outputs))
}

/// Copies output to the log until the init exits; returns its exit code.
fn pump(sfd: &SignalFd, pid: i32, o: &Outputs, log: &mut LogFile) -> i32 {
    let mut open = [true, o.err.is_some()];
    loop {
        if let Some(code) = reap(pid) {
            drain(o, log);
            return code;
        }
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if open[0] {
            fds.push(PollFd::new(o.out.as_fd(), PollFlags::POLLIN));
        }
        if let (true, Some(err)) = (open[1], &o.err) {
            fds.push(PollFd::new(err.as_fd(), PollFlags::POLLIN));
        }
        if poll(&mut fds, PollTimeout::from(1000u16)).is_err() {
            continue;
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if ready[0] {
            if let Ok(Some(s)) = sfd.read_signal() {
                let sig = s.ssi_signo as i32;
                if sig != libc::SIGCHLD {
                    let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::try_from(sig).ok());
                }
            }
        }
        let mut i = 1;
        for (k, stream) in [(0usize, Stream::Stdout), (1, Stream::Stderr)] {
            if !open[k] {
                continue;
            }
            if ready.get(i).copied().unwrap_or(false) {
                let fd = if k == 0 {
                    &o.out
                } else {
                    o.err.as_ref().expect("open")
                };
                open[k] = copy(fd, stream, log);
            }
            i += 1;
        }
    }
}

fn copy(fd: &OwnedFd, stream: Stream, log: &mut LogFile) -> bool {
    let mut buf = [0u8; 16 * 1024];
    match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
        Ok(n) if n > 0 => {
            let _ = log.write(stream, &buf[..n]);
            true
        }
        Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => true,
        _ => false,
    }
}

/// What is still buffered once the init is gone.
fn drain(o: &Outputs, log: &mut LogFile) {
    for (fd, stream) in [
        (Some(&o.out), Stream::Stdout),
        (o.err.as_ref(), Stream::Stderr),
    ] {
        let Some(fd) = fd else { continue };
        let _ = nix::fcntl::fcntl(
            fd.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
        while copy(fd, stream, log) {
            let mut probe = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
            if !matches!(poll(&mut probe, PollTimeout::ZERO), Ok(n) if n > 0) {
                break;
            }
        }
    }
}

fn reap(pid: i32) -> Option<i32> {
    match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Exited(_, c)) => Some(c),
        Ok(WaitStatus::Signaled(_, s, _)) => Some(128 + s as i32),
        Ok(_) => None,
        Err(_) => Some(255),
    }
}

/// Removes the OCI container of the finished run and records the exit.
fn finish_run(e: &Engine, id: &str, code: i32) {
    let rt = e.runtime();
    let _ = crate::lifecycle::delete::delete(&rt, id, true);
    let _ = e.update(id, |r| {
        r.state.phase = Phase::Exited;
        r.state.exit_code = Some(code);
        r.state.init_pid = None;
        r.state.finished_at = Some(crate::timefmt::now_rfc3339());
        r.state.finished_epoch = Some(now_epoch());
    });
}

/// Sleeps `d`, unless a stop signal arrives first (then true).
fn interrupted(sfd: &SignalFd, d: Duration) -> bool {
    let end = Instant::now() + d;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let ms =
            PollTimeout::try_from(left.as_millis().min(60_000) as i32).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if matches!(poll(&mut fds, ms), Ok(n) if n > 0) {
            if let Ok(Some(s)) = sfd.read_signal() {
                if s.ssi_signo as i32 != libc::SIGCHLD {
                    return true;
                }
            }
        }
    }
}

/// Forks a detached supervisor (double fork, new session, stdio on
/// /dev/null) and waits for its first start's report.
pub fn spawn(e: &Engine, id: &str) -> Result<(), EngineError> {
    use crate::sys::clone::{fork, Forked};
    let (r, w) =
        nix::unistd::pipe().map_err(|err| crate::engine::io("pipe", &e.dir(id), err.into()))?;
    match fork().map_err(|err| crate::engine::io("fork supervisor", &e.dir(id), err))? {
        Forked::Child => {
            drop(r);
            let _ = nix::unistd::setsid();
            match fork() {
                Ok(Forked::Child) => {
                    detach_stdio();
                    let code = supervise(e, id, Some(std::fs::File::from(w)));
                    std::process::exit(code)
                }
                _ => std::process::exit(0),
            }
        }
        Forked::Parent(pid) => {
            drop(w);
            let _ = waitpid(Pid::from_raw(pid), None);
            let mut line = String::new();
            let _ = std::io::Read::read_to_string(&mut std::fs::File::from(r), &mut line);
            match line.trim() {
                "ok" => Ok(()),
                "" => Err(EngineError::Msg(
                    "the supervisor exited before starting the container".into(),
                )),
                other => Err(EngineError::Msg(
                    other.trim_start_matches("error: ").to_string(),
                )),
            }
        }
    }
}

fn detach_stdio() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        for fd in 0..3 {
            let _ = nix::unistd::dup2(null.as_raw_fd(), fd);
        }
    }
}
