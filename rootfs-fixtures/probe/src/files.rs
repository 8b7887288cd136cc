//! File subcommands: `cat`, `write`, `stat`, `mknod`, `open`, `readlink`,
//! `ls`, `fds`.

use crate::{errno, print_bytes};
use std::ffi::{CString, OsStr, OsString};
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};

/// `cat PATH`: copy a file to stdout.
pub fn cat(path: &OsStr) -> i32 {
    match fs::read(path) {
        Ok(data) => {
            let mut out = io::stdout().lock();
            let _ = out.write_all(&data);
            let _ = out.flush();
            0
        }
        Err(e) => errno::report(&e),
    }
}

/// `write PATH CONTENT`: create/truncate PATH with CONTENT, print `ok`.
pub fn write(path: &OsStr, content: &OsStr) -> i32 {
    match fs::write(path, content.as_bytes()) {
        Ok(()) => {
            println!("ok");
            0
        }
        Err(e) => errno::report(&e),
    }
}

/// Name of a file type as printed by `stat`.
pub fn type_name(ft: fs::FileType) -> &'static str {
    if ft.is_symlink() {
        "symlink"
    } else if ft.is_dir() {
        "dir"
    } else if ft.is_file() {
        "file"
    } else if ft.is_char_device() {
        "char"
    } else if ft.is_block_device() {
        "block"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else {
        "unknown"
    }
}

/// The `stat` line for an lstat() result.
pub fn format_stat(mode: u32, uid: u32, gid: u32, kind: &str, rdev: u64) -> String {
    format!(
        "mode={:04o} uid={uid} gid={gid} type={kind} rdev={}:{}",
        mode & 0o7777,
        libc::major(rdev),
        libc::minor(rdev)
    )
}

/// `stat PATH` (does not follow a final symlink).
pub fn stat(path: &OsStr) -> i32 {
    match fs::symlink_metadata(path) {
        Ok(md) => {
            let kind = type_name(md.file_type());
            println!(
                "{}",
                format_stat(md.mode(), md.uid(), md.gid(), kind, md.rdev())
            );
            0
        }
        Err(e) => errno::report(&e),
    }
}

/// Device node type for `mknod`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NodeKind {
    Char,
    Block,
}

impl NodeKind {
    /// Parses `c` or `b`.
    pub fn parse(s: &str) -> Option<NodeKind> {
        match s {
            "c" => Some(NodeKind::Char),
            "b" => Some(NodeKind::Block),
            _ => None,
        }
    }
}

/// Converts a path argument to a C string (an interior NUL gives EINVAL).
fn c_path(path: &OsStr) -> Result<CString, i32> {
    CString::new(path.as_bytes()).map_err(|_| libc::EINVAL)
}

/// `mknod PATH c|b MAJOR MINOR`: prints `ok` or `error: ERRNO`.
pub fn mknod(path: &OsStr, kind: NodeKind, major: u32, minor: u32) -> i32 {
    let result = c_path(path).and_then(|cpath| {
        let type_bits = match kind {
            NodeKind::Char => libc::S_IFCHR,
            NodeKind::Block => libc::S_IFBLK,
        };
        let dev = libc::makedev(major, minor);
        // SAFETY: `cpath` is a valid NUL-terminated string.
        let ret = unsafe { libc::mknod(cpath.as_ptr(), type_bits | 0o666, dev) };
        errno::check(ret.into()).map(drop)
    });
    errno::outcome(result)
}

/// Access mode for `open`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OpenMode {
    Read,
    Write,
    ReadWrite,
}

impl OpenMode {
    /// Parses `r`, `w` or `rw`.
    pub fn parse(s: &str) -> Option<OpenMode> {
        match s {
            "r" => Some(OpenMode::Read),
            "w" => Some(OpenMode::Write),
            "rw" => Some(OpenMode::ReadWrite),
            _ => None,
        }
    }
}

/// `open PATH [r|w|rw]`: opens (never creates) PATH; prints `ok` or
/// `error: ERRNO`.
pub fn open(path: &OsStr, mode: OpenMode) -> i32 {
    let mut options = fs::OpenOptions::new();
    match mode {
        OpenMode::Read => options.read(true),
        OpenMode::Write => options.write(true),
        OpenMode::ReadWrite => options.read(true).write(true),
    };
    options.custom_flags(libc::O_NOCTTY);
    errno::outcome(options.open(path).map(drop).map_err(|e| errno::of(&e)))
}

/// `readlink PATH`: prints the link target.
pub fn readlink(path: &OsStr) -> i32 {
    match fs::read_link(path) {
        Ok(target) => {
            print_bytes(target.as_os_str().as_bytes());
            0
        }
        Err(e) => errno::report(&e),
    }
}

/// Entry names of a directory, sorted bytewise.
fn sorted_names(dir: &OsStr) -> io::Result<Vec<OsString>> {
    let mut names = fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<io::Result<Vec<_>>>()?;
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// `ls DIR`: entry names, sorted, one per line.
pub fn ls(dir: &OsStr) -> i32 {
    match sorted_names(dir) {
        Ok(names) => {
            for name in names {
                print_bytes(name.as_bytes());
            }
            0
        }
        Err(e) => errno::report(&e),
    }
}

/// `fds`: `N -> TARGET` for every open fd, sorted by number.
///
/// The directory listing is finished (and its fd closed) before the links
/// are read; the fd that was used for the listing then no longer exists,
/// and its readlink fails with ENOENT, which is how it gets excluded.
pub fn fds() -> i32 {
    let names = match sorted_names(OsStr::new("/proc/self/fd")) {
        Ok(names) => names,
        Err(e) => return errno::report(&e),
    };
    let mut fds: Vec<u32> = names
        .iter()
        .filter_map(|n| n.to_str()?.parse().ok())
        .collect();
    fds.sort_unstable();
    for fd in fds {
        match fs::read_link(format!("/proc/self/fd/{fd}")) {
            Ok(target) => {
                let mut line = format!("{fd} -> ").into_bytes();
                line.extend_from_slice(target.as_os_str().as_bytes());
                print_bytes(&line);
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return errno::report(&e),
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_line() {
        let rdev = libc::makedev(1, 3);
        assert_eq!(
            format_stat(0o20666, 0, 0, "char", rdev),
            "mode=0666 uid=0 gid=0 type=char rdev=1:3"
        );
        assert_eq!(
            format_stat(0o41777, 0, 0, "dir", 0),
            "mode=1777 uid=0 gid=0 type=dir rdev=0:0"
        );
    }

    #[test]
    fn parse_modes() {
        assert_eq!(OpenMode::parse("rw"), Some(OpenMode::ReadWrite));
        assert_eq!(OpenMode::parse("x"), None);
        assert_eq!(NodeKind::parse("b"), Some(NodeKind::Block));
        assert_eq!(NodeKind::parse("p"), None);
    }
}
