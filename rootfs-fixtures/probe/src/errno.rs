//! errno names and the shared error-reporting conventions.
//!
//! Two conventions are used by the subcommands:
//! * file operations (`cat`, `write`, `stat`, ...) print
//!   `error: ENAME message` on stderr and exit 1;
//! * probing operations (`open`, `mknod`, `syscall`) print `ok` or
//!   `error: ENAME` on stdout (exit 0 / 1), because the errno *is* the result.

use std::io;

/// Exit code when an operation failed.
pub const EXIT_FAIL: i32 = 1;

/// Returns the symbolic name of an errno value (`EACCES`, ...), or
/// `errnoN` for values without a name in the table.
pub fn name(errno: i32) -> String {
    let known = match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::ENOEXEC => "ENOEXEC",
        libc::EBADF => "EBADF",
        libc::ECHILD => "ECHILD",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::ENOTBLK => "ENOTBLK",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOTTY => "ENOTTY",
        libc::ETXTBSY => "ETXTBSY",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::ESPIPE => "ESPIPE",
        libc::EROFS => "EROFS",
        libc::EMLINK => "EMLINK",
        libc::EPIPE => "EPIPE",
        libc::EDOM => "EDOM",
        libc::ERANGE => "ERANGE",
        libc::EDEADLK => "EDEADLK",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENOLCK => "ENOLCK",
        libc::ENOSYS => "ENOSYS",
        libc::ENOTEMPTY => "ENOTEMPTY",
        libc::ELOOP => "ELOOP",
        libc::ENOMSG => "ENOMSG",
        libc::ENODATA => "ENODATA",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ENOTCONN => "ENOTCONN",
        libc::ESTALE => "ESTALE",
        libc::EDQUOT => "EDQUOT",
        libc::ECANCELED => "ECANCELED",
        libc::ENOKEY => "ENOKEY",
        libc::EKEYEXPIRED => "EKEYEXPIRED",
        libc::EKEYREVOKED => "EKEYREVOKED",
        libc::EKEYREJECTED => "EKEYREJECTED",
        libc::ENOMEDIUM => "ENOMEDIUM",
        libc::EOWNERDEAD => "EOWNERDEAD",
        _ => return format!("errno{errno}"),
    };
    known.to_string()
}

/// errno of the last failed libc call.
pub fn last() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// errno carried by an `io::Error` (0 when it has none).
pub fn of(err: &io::Error) -> i32 {
    err.raw_os_error().unwrap_or(0)
}

/// Human-readable message for an `io::Error`, without std's
/// ` (os error N)` suffix.
pub fn message(err: &io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error ") {
        Some(pos) => text[..pos].to_string(),
        None => text,
    }
}

/// `ENAME message` for an `io::Error`.
pub fn describe(err: &io::Error) -> String {
    format!("{} {}", name(of(err)), message(err))
}

/// Reports a failed file operation on stderr; returns the exit code.
pub fn report(err: &io::Error) -> i32 {
    eprintln!("error: {}", describe(err));
    EXIT_FAIL
}

/// Reports the outcome of a probing operation on stdout (`ok` or
/// `error: ENAME`); returns the exit code.
pub fn outcome(result: Result<(), i32>) -> i32 {
    match result {
        Ok(()) => {
            println!("ok");
            0
        }
        Err(errno) => {
            println!("error: {}", name(errno));
            EXIT_FAIL
        }
    }
}

/// Turns a raw libc return value (`-1` on failure) into a `Result`.
pub fn check(ret: i64) -> Result<i64, i32> {
    if ret == -1 {
        Err(last())
    } else {
        Ok(ret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_names() {
        assert_eq!(name(libc::EACCES), "EACCES");
        assert_eq!(name(libc::EROFS), "EROFS");
        assert_eq!(name(libc::ENOENT), "ENOENT");
        assert_eq!(name(libc::EPERM), "EPERM");
        assert_eq!(name(libc::EAGAIN), "EAGAIN");
    }

    #[test]
    fn unknown_number() {
        assert_eq!(name(4242), "errno4242");
    }

    #[test]
    fn message_strips_os_error_suffix() {
        let err = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(message(&err), "No such file or directory");
        assert_eq!(describe(&err), "ENOENT No such file or directory");
    }

    #[test]
    fn check_maps_minus_one() {
        assert_eq!(check(3), Ok(3));
        assert!(check(-1).is_err());
    }
}
