//! `limit NAME`: soft and hard value of a resource limit.

use crate::errno;

/// Resource argument type of glibc's getrlimit().
pub type Resource = libc::__rlimit_resource_t;

/// Known limits: short name (as in `ulimit`/OCI `RLIMIT_*` without prefix).
const RESOURCES: &[(&str, Resource)] = &[
    ("cpu", libc::RLIMIT_CPU),
    ("fsize", libc::RLIMIT_FSIZE),
    ("data", libc::RLIMIT_DATA),
    ("stack", libc::RLIMIT_STACK),
    ("core", libc::RLIMIT_CORE),
    ("rss", libc::RLIMIT_RSS),
    ("nproc", libc::RLIMIT_NPROC),
    ("nofile", libc::RLIMIT_NOFILE),
    ("memlock", libc::RLIMIT_MEMLOCK),
    ("as", libc::RLIMIT_AS),
    ("locks", libc::RLIMIT_LOCKS),
    ("sigpending", libc::RLIMIT_SIGPENDING),
    ("msgqueue", libc::RLIMIT_MSGQUEUE),
    ("nice", libc::RLIMIT_NICE),
    ("rtprio", libc::RLIMIT_RTPRIO),
    ("rttime", libc::RLIMIT_RTTIME),
];

/// Parses `nofile`, `NOFILE` or `RLIMIT_NOFILE` (any case).
pub fn parse_resource(name: &str) -> Option<Resource> {
    let lower = name.to_ascii_lowercase();
    let short = lower.strip_prefix("rlimit_").unwrap_or(&lower);
    RESOURCES.iter().find(|(n, _)| *n == short).map(|(_, r)| *r)
}

/// Formats one limit value (`unlimited` for RLIM_INFINITY).
pub fn format_value(value: libc::rlim_t) -> String {
    if value == libc::RLIM_INFINITY {
        "unlimited".to_string()
    } else {
        value.to_string()
    }
}

/// `limit NAME`: prints `SOFT HARD`.
pub fn limit(resource: Resource) -> i32 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the duration of the call.
    let ret = unsafe { libc::getrlimit(resource, &mut lim) };
    if ret != 0 {
        return errno::report(&std::io::Error::last_os_error());
    }
    println!(
        "{} {}",
        format_value(lim.rlim_cur),
        format_value(lim.rlim_max)
    );
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse_resource("nofile"), Some(libc::RLIMIT_NOFILE));
        assert_eq!(parse_resource("RLIMIT_NOFILE"), Some(libc::RLIMIT_NOFILE));
        assert_eq!(parse_resource("Nproc"), Some(libc::RLIMIT_NPROC));
        assert_eq!(parse_resource("as"), Some(libc::RLIMIT_AS));
        assert_eq!(parse_resource("bogus"), None);
        assert_eq!(parse_resource("RLIMIT_"), None);
    }

    #[test]
    fn values() {
        assert_eq!(format_value(libc::RLIM_INFINITY), "unlimited");
        assert_eq!(format_value(1024), "1024");
    }
}
