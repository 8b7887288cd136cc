//! Process identity and environment: `id`, `cwd`, `isatty`, `env`,
//! `hostname`, `domainname`, `pid`, `ppid`, `sleep`, `echo`.

use crate::{errno, print_bytes};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

/// The `id` line; `groups` are sorted and deduplicated.
pub fn format_id(uid: u32, gid: u32, mut groups: Vec<u32>) -> String {
    groups.sort_unstable();
    groups.dedup();
    let list: Vec<String> = groups.iter().map(u32::to_string).collect();
    format!("uid={uid} gid={gid} groups={}", list.join(","))
}

/// Supplementary groups of the process.
fn groups() -> Result<Vec<libc::gid_t>, i32> {
    // SAFETY: with size 0 getgroups() only returns the count.
    let ret = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    let count = errno::check(ret.into())?;
    let mut list: Vec<libc::gid_t> = vec![0; count as usize];
    // SAFETY: `list` has room for exactly `count` entries.
    let ret = unsafe { libc::getgroups(count as libc::c_int, list.as_mut_ptr()) };
    let got = errno::check(ret.into())?;
    list.truncate(got as usize);
    Ok(list)
}

/// `id`: real uid, real gid and supplementary groups.
pub fn id() -> i32 {
    // SAFETY: getuid()/getgid() cannot fail and have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    match groups() {
        Ok(list) => {
            println!("{}", format_id(uid, gid, list));
            0
        }
        Err(e) => {
            eprintln!("error: getgroups: {}", errno::name(e));
            errno::EXIT_FAIL
        }
    }
}

/// `cwd`: current working directory.
pub fn cwd() -> i32 {
    match std::env::current_dir() {
        Ok(dir) => {
            print_bytes(dir.as_os_str().as_bytes());
            0
        }
        Err(e) => errno::report(&e),
    }
}

/// `isatty`: whether fds 0, 1, 2 are terminals.
pub fn isatty() -> i32 {
    let answers: Vec<String> = (0..3)
        .map(|fd| {
            // SAFETY: isatty() only inspects the fd; an invalid fd gives 0.
            let tty = unsafe { libc::isatty(fd) } == 1;
            format!("{fd}:{}", if tty { "yes" } else { "no" })
        })
        .collect();
    println!("{}", answers.join(" "));
    0
}

/// `env`: the environment as `K=V` lines, in order.
pub fn env() -> i32 {
    for (key, value) in std::env::vars_os() {
        let mut line = key.as_bytes().to_vec();
        line.push(b'=');
        line.extend_from_slice(value.as_bytes());
        print_bytes(&line);
    }
    0
}

/// Bytes of a NUL-terminated `utsname` field.
pub fn uts_field(field: &[libc::c_char]) -> Vec<u8> {
    field
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect()
}

/// Calls uname(2).
fn uname() -> Result<libc::utsname, i32> {
    // SAFETY: utsname is plain character arrays; all-zero is valid.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is a valid, writable utsname.
    errno::check(unsafe { libc::uname(&mut uts) }.into())?;
    Ok(uts)
}

/// Prints one field of uname(2).
fn print_uts(pick: fn(&libc::utsname) -> &[libc::c_char]) -> i32 {
    match uname() {
        Ok(uts) => {
            print_bytes(&uts_field(pick(&uts)));
            0
        }
        Err(e) => {
            eprintln!("error: uname: {}", errno::name(e));
            errno::EXIT_FAIL
        }
    }
}

/// `hostname`: uname nodename.
pub fn hostname() -> i32 {
    print_uts(|u| &u.nodename)
}

/// `domainname`: uname domainname (NIS domain).
pub fn domainname() -> i32 {
    print_uts(|u| &u.domainname)
}

/// `pid`: getpid().
pub fn pid() -> i32 {
    println!("{}", std::process::id());
    0
}

/// `ppid`: getppid().
pub fn ppid() -> i32 {
    println!("{}", std::os::unix::process::parent_id());
    0
}

/// Parses a non-negative number of seconds (fractions allowed).
pub fn parse_secs(s: &str) -> Option<Duration> {
    let secs: f64 = s.parse().ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

/// `sleep SECS`.
pub fn sleep(duration: Duration) -> i32 {
    std::thread::sleep(duration);
    0
}

/// `echo ARGS...`: the arguments joined by single spaces.
pub fn echo(words: &[OsString]) -> i32 {
    let parts: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
    print_bytes(&parts.join(&b' '));
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_line() {
        assert_eq!(format_id(0, 0, vec![]), "uid=0 gid=0 groups=");
        assert_eq!(
            format_id(1000, 1000, vec![2000, 100, 1000, 100]),
            "uid=1000 gid=1000 groups=100,1000,2000"
        );
    }

    #[test]
    fn uts_bytes() {
        let field: Vec<libc::c_char> = b"box\0junk".iter().map(|&b| b as libc::c_char).collect();
        assert_eq!(uts_field(&field), b"box");
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_secs("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_secs("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_secs("-1"), None);
        assert_eq!(parse_secs("x"), None);
    }
}
