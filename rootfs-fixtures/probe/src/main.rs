//! `probe`: a static test helper that runs inside containers and prints what
//! it observes (ids, capabilities, mounts, limits, signals, ...) in a format
//! that is trivial to parse: one item per line.
//!
//! The binary deliberately bypasses Rust's usual runtime start-up
//! (`#![no_main]` + a C `main`).  Rust's start-up code ignores SIGPIPE,
//! installs SIGSEGV/SIGBUS handlers for stack-overflow detection and reopens
//! closed stdio fds on /dev/null.  All of that would hide exactly the process
//! state that a container runtime is supposed to set up, so, like crun's
//! `tests/init.c`, probe starts from the raw state the runtime handed over.
#![cfg_attr(not(test), no_main)]

mod errno;
mod files;
mod info;
mod limits;
mod procfs;
mod signals;
mod syscalls;

use std::ffi::OsString;
use std::io::Write;

/// Exit code for a bad command line.
const EXIT_USAGE: i32 = 2;

const USAGE: &str = "\
usage: probe SUBCOMMAND [ARGS...]

  id                      uid=U gid=G groups=A,B,C
  caps                    CapInh/CapPrm/CapEff/CapBnd/CapAmb lines of /proc/self/status
  status FIELD            value of a /proc/self/status field
  cwd                     current directory
  isatty                  0:yes|no 1:yes|no 2:yes|no
  mounts                  MOUNTPOINT FSTYPE OPTIONS per mountinfo line
  limit NAME              SOFT HARD of an rlimit (nofile, nproc, RLIMIT_CORE, ...)
  exit N                  exit with code N
  pause                   print ready, then sleep forever (default signal dispositions)
  trap SIG...             print ready, wait for one of SIG..., print got SIGxxx, exit 0
  fds                     N -> TARGET for each open fd
  env                     K=V per line
  hostname | domainname   uname nodename / domainname
  pid | ppid              getpid() / getppid()
  cat PATH                print a file
  write PATH CONTENT      write (create/truncate) a file, print ok
  stat PATH               mode=OCTAL uid=U gid=G type=T rdev=MAJ:MIN (lstat)
  mknod PATH c|b MAJ MIN  create a device node, print ok
  open PATH [r|w|rw]      open a path, print ok
  oom                     /proc/self/oom_score_adj
  sysctl NAME             /proc/sys/NAME (dots become slashes)
  alloc MIB               allocate and touch MIB MiB, print allocated
  fork N                  forked=N, or forked=K error=ERRNO
  syscall NAME            ok | error: ERRNO (see README for the list)
  sleep SECS              sleep, exit 0
  echo ARGS...            print ARGS joined by spaces
  readlink PATH           print a symlink's target
  ls DIR                  entry names, sorted
";

/// C entry point (see the crate docs for why std's `main` is not used).
#[cfg(not(test))]
#[no_mangle]
pub extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    // std captures argc/argv itself on Linux/glibc, so env::args_os works.
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let code = run(&args);
    // Returning from a C main does not run std's stdout flush.
    let _ = std::io::stdout().flush();
    code
}

/// Prints the usage text on stderr and returns the usage exit code.
fn usage() -> i32 {
    eprint!("{USAGE}");
    EXIT_USAGE
}

/// Converts an argument to UTF-8 (`None` makes it a usage error).
fn text(arg: &OsString) -> Option<&str> {
    arg.to_str()
}

/// Parses a numeric argument.
fn number<T: std::str::FromStr>(arg: &OsString) -> Option<T> {
    text(arg)?.parse().ok()
}

/// Dispatches one command line; returns the process exit code.
fn run(args: &[OsString]) -> i32 {
    dispatch(args).unwrap_or_else(usage)
}

/// Runs the subcommand, or returns `None` when the command line does not
/// match any subcommand's syntax.
fn dispatch(args: &[OsString]) -> Option<i32> {
    let cmd = text(args.first()?)?;
    let rest = &args[1..];
    let code = match (cmd, rest) {
        ("id", []) => info::id(),
        ("caps", []) => procfs::caps(),
        ("status", [field]) => procfs::status(text(field)?),
        ("cwd", []) => info::cwd(),
        ("isatty", []) => info::isatty(),
        ("mounts", []) => procfs::mounts(),
        ("limit", [name]) => limits::limit(limits::parse_resource(text(name)?)?),
        ("exit", [n]) => number(n)?,
        ("pause", []) => signals::pause(),
        ("trap", names) if !names.is_empty() => {
            let signals = names.iter().map(|n| signals::parse(text(n)?));
            signals::trap(&signals.collect::<Option<Vec<_>>>()?)
        }
        ("fds", []) => files::fds(),
        ("env", []) => info::env(),
        ("hostname", []) => info::hostname(),
        ("domainname", []) => info::domainname(),
        ("pid", []) => info::pid(),
        ("ppid", []) => info::ppid(),
        ("cat", [path]) => files::cat(path),
        ("write", [path, content]) => files::write(path, content),
        ("stat", [path]) => files::stat(path),
        ("mknod", [path, kind, major, minor]) => {
            let kind = files::NodeKind::parse(text(kind)?)?;
            files::mknod(path, kind, number(major)?, number(minor)?)
        }
        ("open", [path]) => files::open(path, files::OpenMode::Read),
        ("open", [path, mode]) => files::open(path, files::OpenMode::parse(text(mode)?)?),
        ("oom", []) => procfs::oom(),
        ("sysctl", [name]) => procfs::sysctl(text(name)?),
        ("alloc", [mib]) => syscalls::alloc(number(mib)?),
        ("fork", [n]) => syscalls::fork(number(n)?),
        ("syscall", [name]) => syscalls::syscall(syscalls::Syscall::parse(text(name)?)?),
        ("sleep", [secs]) => info::sleep(info::parse_secs(text(secs)?)?),
        ("echo", words) => info::echo(words),
        ("readlink", [path]) => files::readlink(path),
        ("ls", [dir]) => files::ls(dir),
        _ => return None,
    };
    Some(code)
}

/// Writes raw bytes followed by a newline to stdout and flushes.
fn print_bytes(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn bad_command_lines_are_usage_errors() {
        assert_eq!(dispatch(&args(&[])), None);
        assert_eq!(dispatch(&args(&["nope"])), None);
        assert_eq!(dispatch(&args(&["exit"])), None);
        assert_eq!(dispatch(&args(&["exit", "x"])), None);
        assert_eq!(dispatch(&args(&["limit", "bogus"])), None);
        assert_eq!(dispatch(&args(&["trap"])), None);
        assert_eq!(dispatch(&args(&["trap", "TERM", "NOSUCH"])), None);
        assert_eq!(dispatch(&args(&["open", "/x", "z"])), None);
        assert_eq!(dispatch(&args(&["mknod", "/x", "p", "1", "3"])), None);
        assert_eq!(dispatch(&args(&["syscall", "execve"])), None);
        assert_eq!(run(&args(&["id", "extra"])), EXIT_USAGE);
    }

    #[test]
    fn exit_code_passes_through() {
        assert_eq!(dispatch(&args(&["exit", "7"])), Some(7));
        assert_eq!(dispatch(&args(&["limit", "nofile"])), Some(0));
        assert_eq!(dispatch(&args(&["status", "Umask"])), Some(0));
    }
}
