//! `pause` and `trap`: signal behaviour of the containerised process.

use crate::errno;
use std::io::Write;
use std::sync::atomic::{AtomicI32, Ordering};

/// Standard signals by name (without the `SIG` prefix).
const SIGNALS: &[(&str, libc::c_int)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// Parses `TERM`, `SIGTERM`, `term` or a signal number.
pub fn parse(name: &str) -> Option<libc::c_int> {
    if let Ok(n) = name.parse::<libc::c_int>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let upper = name.to_ascii_uppercase();
    let short = upper.strip_prefix("SIG").unwrap_or(&upper);
    SIGNALS.iter().find(|(n, _)| *n == short).map(|(_, s)| *s)
}

/// `SIGTERM` for 15; `SIG<n>` for signals without a name in the table.
pub fn name(signo: libc::c_int) -> String {
    match SIGNALS.iter().find(|(_, s)| *s == signo) {
        Some((n, _)) => format!("SIG{n}"),
        None => format!("SIG{signo}"),
    }
}

/// Prints `ready` and flushes so a test can start sending signals.
fn ready() {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "ready");
    let _ = out.flush();
}

/// `pause`: print ready, then sleep forever.  No handlers are installed,
/// so whatever dispositions the process inherited apply.
pub fn pause() -> i32 {
    ready();
    loop {
        // SAFETY: pause() only suspends the calling thread.
        unsafe { libc::pause() };
    }
}

/// Last signal caught by `on_signal` (0 = none yet).
static CAUGHT: AtomicI32 = AtomicI32::new(0);

/// Signal handler: only records the signal (async-signal-safe).
extern "C" fn on_signal(signo: libc::c_int) {
    CAUGHT.store(signo, Ordering::SeqCst);
}

/// An empty signal set.
fn empty_set() -> libc::sigset_t {
    // SAFETY: sigset_t is a plain bit array; all-zero is a valid value and
    // sigemptyset() then initialises it properly.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable sigset_t.
    unsafe { libc::sigemptyset(&mut set) };
    set
}

/// `trap SIG...`: handle the given signals, print ready, wait for one of
/// them, print `got SIGNAME` and exit 0.
pub fn trap(signals: &[libc::c_int]) -> i32 {
    // Block the signals while installing the handlers so that none can
    // slip in between "ready" and the wait below.
    let mut block = empty_set();
    for &sig in signals {
        // SAFETY: `block` is an initialised sigset_t; `sig` is in 1..=64.
        unsafe { libc::sigaddset(&mut block, sig) };
    }
    let mut wait_mask = empty_set();
    // SAFETY: both pointers refer to valid sigset_t values.
    unsafe { libc::sigprocmask(libc::SIG_BLOCK, &block, &mut wait_mask) };
    for &sig in signals {
        // The mask used while waiting: the inherited mask minus our signals
        // (they might have been inherited blocked).
        // SAFETY: `wait_mask` is an initialised sigset_t.
        unsafe { libc::sigdelset(&mut wait_mask, sig) };

        // SAFETY: all-zero is a valid sigaction (no flags, empty mask);
        // the handler is set right after.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: `action` is fully initialised and `on_signal` only
        // performs an atomic store, which is async-signal-safe.
        let ret = unsafe { libc::sigaction(sig, &action, std::ptr::null_mut()) };
        if ret != 0 {
            let err = std::io::Error::last_os_error();
            eprintln!(
                "error: cannot trap {}: {}",
                name(sig),
                errno::describe(&err)
            );
            return errno::EXIT_FAIL;
        }
    }
    ready();
    loop {
        // SAFETY: `wait_mask` is an initialised sigset_t; sigsuspend
        // atomically installs it and waits for a handled signal.
        unsafe { libc::sigsuspend(&wait_mask) };
        let signo = CAUGHT.load(Ordering::SeqCst);
        if signo != 0 {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "got {}", name(signo));
            let _ = out.flush();
            return 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names() {
        assert_eq!(parse("TERM"), Some(libc::SIGTERM));
        assert_eq!(parse("SIGUSR1"), Some(libc::SIGUSR1));
        assert_eq!(parse("hup"), Some(libc::SIGHUP));
        assert_eq!(parse("2"), Some(libc::SIGINT));
        assert_eq!(parse("0"), None);
        assert_eq!(parse("NOPE"), None);
    }

    #[test]
    fn signal_names() {
        assert_eq!(name(libc::SIGUSR1), "SIGUSR1");
        assert_eq!(name(libc::SIGTERM), "SIGTERM");
        assert_eq!(name(40), "SIG40");
    }
}
