//! Streams one OCI/Docker layer (plain, gzip or zstd tar) into a fresh
//! directory, hashing the uncompressed bytes on the way for the diff_id.
//!
//! Whiteouts are translated to overlayfs form as they are met:
//! `dir/.wh.NAME` becomes a 0:0 character device `dir/NAME`, and
//! `dir/.wh..wh..opq` becomes `trusted.overlay.opaque=y` on `dir`.
//!
//! Hostile input is refused with an error naming the entry; the caller
//! removes `dest`. Every entry is created relative to a directory fd that was
//! reached component by component with `O_NOFOLLOW`, so neither `..` nor a
//! symlink planted by an earlier entry (CVE-2018-15664 class, the
//! "symlink then file through it" trick) can write outside `dest`.
//!
//! Choices, where Docker and the OCI spec leave room:
//! - leading `/` and `./` are stripped (as Docker does); any `..` is refused;
//! - a hardlink target is resolved inside `dest` the same way, a leading `/`
//!   included, and may not pass through a symlink; hardlinks get no metadata
//!   of their own (they share the target's inode);
//! - device nodes are refused unless `allow_devices`; whiteout devices are ours;
//! - entry types other than file, dir, symlink, hardlink, char, block, fifo
//!   (GNU sparse files are expanded by the tar crate and count as files) are
//!   an error, not skipped: a silently incomplete rootfs is worse;
//! - xattrs come from PAX `SCHILY.xattr.*`; `trusted.overlay.*` from the tar
//!   is dropped (overlayfs would act on it), and EPERM/ENOTSUP while setting
//!   one is ignored, as Docker does;
//! - a whiteout for a name this same layer already created is ignored: the
//!   spec says whiteouts only hide lower layers;
//! - a stream that ends cleanly on a header boundary without the end-of-archive
//!   blocks is accepted, as Go's archive/tar (Docker, containerd) accepts it,
//!   and so is one whose last entry lacks only its padding (umoci 0.4's
//!   `insert` writes those); the blob and diff-ID digests, checked by the
//!   store, are what guard truncation there.

mod fsops;
mod meta;

use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};
use tar::EntryType;

use fsops::At;
use meta::Meta;

/// What an unpack may do beyond the safe default.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnpackOpts {
    /// Create character and block devices found in the layer.
    pub allow_devices: bool,
}

/// What was unpacked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// `sha256:<hex>` of the uncompressed tar stream.
    pub diff_id: String,
    /// Uncompressed bytes.
    pub size: u64,
    /// Entries applied (whiteouts and opaque markers included).
    pub files: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("open layer destination {path}: {source}")]
    OpenDest { path: PathBuf, source: io::Error },
    #[error("read layer stream (after entry {after:?}): {source}")]
    Read { after: String, source: io::Error },
    #[error("layer entry {entry:?}: path contains '..'")]
    DotDot { entry: String },
    #[error("layer entry {entry:?}: malformed whiteout name")]
    BadWhiteout { entry: String },
    #[error("layer entry {entry:?}: the layer root can only be a directory")]
    RootNotDir { entry: String },
    #[error("layer entry {entry:?}: parent {parent:?} is a symlink")]
    ThroughSymlink { entry: String, parent: String },
    #[error("layer entry {entry:?}: parent {parent:?} is not a directory")]
    NotADirectory { entry: String, parent: String },
    #[error("layer entry {entry:?}: open parent {parent:?}: {source}")]
    OpenParent {
        entry: String,
        parent: String,
        source: io::Error,
    },
    #[error("layer entry {entry:?}: create directory {path:?}: {source}")]
    Mkdir {
        entry: String,
        path: String,
        source: io::Error,
    },
    #[error("layer entry {entry:?}: remove earlier {path:?}: {source}")]
    Remove {
        entry: String,
        path: String,
        source: io::Error,
    },
    #[error("layer entry {entry:?}: create file: {source}")]
    CreateFile { entry: String, source: io::Error },
    #[error("layer entry {entry:?}: read data: {source}")]
    ReadData { entry: String, source: io::Error },
    #[error("layer entry {entry:?}: write data: {source}")]
    WriteData { entry: String, source: io::Error },
    #[error("layer entry {entry:?}: truncated: {got} of {want} bytes")]
    Truncated { entry: String, got: u64, want: u64 },
    #[error("layer entry {entry:?}: create symlink: {source}")]
    Symlink { entry: String, source: io::Error },
    #[error("layer entry {entry:?}: hardlink to {target:?}: {source}")]
    Link {
        entry: String,
        target: String,
        source: io::Error,
    },
    #[error("layer entry {entry:?}: hardlink without a usable target")]
    LinkTarget { entry: String },
    #[error("layer entry {entry:?}: mknod: {source}")]
    Mknod { entry: String, source: io::Error },
    #[error("layer entry {entry:?}: device nodes are not allowed in this layer")]
    DeviceRefused { entry: String },
    #[error("layer entry {entry:?}: unsupported entry type {kind:?}")]
    Unsupported { entry: String, kind: char },
    #[error("layer entry {entry:?}: bad header field {field}: {source}")]
    Header {
        entry: String,
        field: &'static str,
        source: io::Error,
    },
    #[error("layer entry {entry:?}: chown: {source}")]
    Chown { entry: String, source: io::Error },
    #[error("layer entry {entry:?}: chmod: {source}")]
    Chmod { entry: String, source: io::Error },
    #[error("layer entry {entry:?}: set xattr {name}: {source}")]
    Xattr {
        entry: String,
        name: String,
        source: io::Error,
    },
    #[error("layer entry {entry:?}: set times: {source}")]
    Times { entry: String, source: io::Error },
}

/// How a layer blob is compressed, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    Gzip,
    Zstd,
    Plain,
}

fn detect(magic: &[u8]) -> Compression {
    if magic.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::Plain
    }
}

/// Counts and hashes the bytes read through it: the diff_id is over the
/// uncompressed stream, so this sits between the decompressor and tar.
struct Digesting<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
}

impl<R: Read> Read for Digesting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

fn read_err(after: &str) -> impl FnOnce(io::Error) -> UnpackError + '_ {
    move |source| UnpackError::Read {
        after: after.to_string(),
        source,
    }
}

/// Peeks at the magic bytes and wraps `input` in the matching decoder.
fn decompressor<'a, R: Read + 'a>(mut input: R) -> Result<Box<dyn Read + 'a>, UnpackError> {
    let mut magic = [0u8; 4];
    let mut n = 0;
    while n < magic.len() {
        match input.read(&mut magic[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_err("")(e)),
        }
    }
    let stream = io::Cursor::new(magic).take(n as u64).chain(input);
    Ok(match detect(&magic[..n]) {
        // Multi-member: Go's gzip reader, which wrote most layers, accepts it.
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(stream)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::new(stream).map_err(read_err(""))?)
        }
        Compression::Plain => Box::new(stream),
    })
}

/// Unpacks the layer read from `input` into `dest`, an existing empty
/// directory. On error `dest` is left half-written for the caller to remove.
pub fn unpack_layer(
    input: impl Read,
    dest: &Path,
    opts: &UnpackOpts,
) -> Result<LayerInfo, UnpackError> {
    let root = fsops::open_dest(dest)?;
    let mut stream = Digesting {
        inner: decompressor(input)?,
        hasher: Sha256::new(),
        size: 0,
    };
    let mut files = 0;
    let mut dirs = Vec::new();
    let mut last = String::new();
    {
        let mut archive = tar::Archive::new(&mut stream);
        for entry in archive.entries().map_err(read_err(&last))? {
            let mut entry = match entry {
                // The last entry's data is complete but its padding to 512
                // bytes is missing (umoci 0.4 `insert` writes such layers;
                // Go readers accept them). Its content was read in full.
                Err(e)
                    if !last.is_empty() && e.to_string().contains("unexpected EOF during skip") =>
                {
                    break
                }
                r => r.map_err(read_err(&last))?,
            };
            last = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            if apply_entry(&root, &mut entry, &last, opts, &mut dirs)? {
                files += 1;
            }
        }
    }
    fsops::set_dir_times(&root, &dirs)?;
    // The end-of-archive blocks and record padding are part of the diff_id;
    // draining also makes the decoders check their trailers (gzip CRC).
    io::copy(&mut stream, &mut io::sink()).map_err(read_err(&last))?;
    let hex: String = stream
        .hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(LayerInfo {
        diff_id: format!("sha256:{hex}"),
        size: stream.size,
        files,
    })
}

/// A directory whose times are set once everything inside it exists.
struct DirTimes {
    comps: Vec<OsString>,
    atime: meta::Time,
    mtime: meta::Time,
}

/// Applies one entry; returns whether it counts as a file of the layer.
fn apply_entry<R: Read>(
    root: &OwnedFd,
    entry: &mut tar::Entry<R>,
    name: &str,
    opts: &UnpackOpts,
    dirs: &mut Vec<DirTimes>,
) -> Result<bool, UnpackError> {
    let mut kind = entry.header().entry_type();
    if kind.is_pax_global_extensions() {
        return Ok(false);
    }
    // Pre-POSIX tars mark directories as regular files with a trailing slash.
    if kind == EntryType::Regular && entry.path_bytes().ends_with(b"/") {
        kind = EntryType::Directory;
    }
    let raw = entry.path().map_err(|source| UnpackError::Header {
        entry: name.into(),
        field: "path",
        source,
    })?;
    let comps = normalise(&raw).ok_or_else(|| UnpackError::DotDot { entry: name.into() })?;
    let meta = Meta::read(entry, name)?;
    let Some((last, parents)) = comps.split_last() else {
        if !kind.is_dir() {
            return Err(UnpackError::RootNotDir { entry: name.into() });
        }
        fsops::apply_meta(&At::new(root, OsStr::new("."), name), &meta, false)?;
        dirs.push(DirTimes {
            comps,
            atime: meta.atime,
            mtime: meta.mtime,
        });
        return Ok(true);
    };
    match whiteout(last, parents) {
        Whiteout::Ignored => return Ok(false),
        Whiteout::Malformed => return Err(UnpackError::BadWhiteout { entry: name.into() }),
        Whiteout::Opaque => {
            fsops::set_opaque(&fsops::walk(root, parents, true, name)?, name)?;
            return Ok(true);
        }
        Whiteout::Hide(hidden) => {
            let dir = fsops::walk(root, parents, true, name)?;
            fsops::whiteout(&At::new(&dir, hidden, name), &meta)?;
            return Ok(true);
        }
        Whiteout::No => {}
    }
    let dir = fsops::walk(root, parents, true, name)?;
    let at = At::new(&dir, last, name);
    create(root, &at, entry, kind, &meta, opts)?;
    if kind.is_dir() {
        dirs.push(DirTimes {
            comps: comps.clone(),
            atime: meta.atime,
            mtime: meta.mtime,
        });
    }
    Ok(true)
}

/// Creates the entry's object at `at` with its metadata.
fn create<R: Read>(
    root: &OwnedFd,
    at: &At<'_>,
    entry: &mut tar::Entry<R>,
    kind: EntryType,
    meta: &Meta,
    opts: &UnpackOpts,
) -> Result<(), UnpackError> {
    let entry_name = || at.entry.to_string();
    match kind {
        EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
            fsops::replace(at, false)?;
            let size = entry.size();
            fsops::create_file(at, entry, size)?;
        }
        EntryType::Directory => {
            if !fsops::replace(at, true)? {
                fsops::mkdir(at)?;
            }
        }
        EntryType::Symlink => {
            let target = link_name(entry, at.entry)?;
            fsops::replace(at, false)?;
            fsops::symlink(at, &target)?;
        }
        EntryType::Link => {
            let target = link_name(entry, at.entry)?;
            let comps = normalise(&target).ok_or_else(|| UnpackError::DotDot {
                entry: entry_name(),
            })?;
            fsops::replace(at, false)?;
            return fsops::hardlink(root, at, &comps, &target);
        }
        EntryType::Char | EntryType::Block if !opts.allow_devices => {
            return Err(UnpackError::DeviceRefused {
                entry: entry_name(),
            });
        }
        EntryType::Char | EntryType::Block | EntryType::Fifo => {
            fsops::replace(at, false)?;
            fsops::mknod(at, kind, entry.header(), meta)?;
        }
        other => {
            return Err(UnpackError::Unsupported {
                entry: entry_name(),
                kind: other.as_byte() as char,
            });
        }
    }
    fsops::apply_meta(at, meta, kind == EntryType::Symlink)?;
    if !kind.is_dir() {
        fsops::set_times(at, meta)?;
    }
    Ok(())
}

fn link_name<R: Read>(entry: &tar::Entry<R>, name: &str) -> Result<PathBuf, UnpackError> {
    match entry.link_name() {
        Ok(Some(target)) if !target.as_os_str().is_empty() => Ok(target.into_owned()),
        Ok(_) => Err(UnpackError::LinkTarget { entry: name.into() }),
        Err(source) => Err(UnpackError::Header {
            entry: name.into(),
            field: "linkname",
            source,
        }),
    }
}

/// Splits an entry name into components below the layer root: leading `/`
/// and `.` components are dropped (Docker strips them too); `None` when
/// any component is `..`.
fn normalise(name: &Path) -> Option<Vec<OsString>> {
    let mut comps = Vec::new();
    for c in name.components() {
        match c {
            Component::Normal(c) => comps.push(c.to_os_string()),
            Component::ParentDir => return None,
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Some(comps)
}

/// What an entry's last component means under the OCI whiteout rules.
#[derive(Debug, PartialEq, Eq)]
enum Whiteout<'a> {
    No,
    /// `.wh.NAME`: hide NAME of the lower layers.
    Hide(&'a OsStr),
    /// `.wh..wh..opq`: hide everything below the directory in lower layers.
    Opaque,
    /// Other `.wh..wh.` names are AUFS bookkeeping (e.g. `.wh..wh.plnk`).
    Ignored,
    /// `.wh.`, `.wh..` or `.wh...`: no name, or one that escapes.
    Malformed,
}

fn whiteout<'a>(last: &'a OsStr, parents: &[OsString]) -> Whiteout<'a> {
    use std::os::unix::ffi::OsStrExt;
    let meta = |c: &OsStr| c.as_bytes().starts_with(b".wh..wh.");
    // Also the contents of AUFS metadata dirs, as Docker skips them.
    if parents.iter().any(|p| meta(p)) {
        return Whiteout::Ignored;
    }
    let bytes = last.as_bytes();
    if bytes == b".wh..wh..opq" {
        return Whiteout::Opaque;
    }
    if meta(last) {
        return Whiteout::Ignored;
    }
    match bytes.strip_prefix(b".wh.") {
        None => Whiteout::No,
        Some(b"" | b"." | b"..") => Whiteout::Malformed,
        Some(hidden) => Whiteout::Hide(OsStr::from_bytes(hidden)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comps(s: &str) -> Option<Vec<String>> {
        normalise(Path::new(s)).map(|v| v.into_iter().map(|c| c.into_string().unwrap()).collect())
    }

    #[test]
    fn detects_compression_from_magic() {
        assert_eq!(detect(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
        assert_eq!(detect(&[0x28, 0xb5, 0x2f, 0xfd]), Compression::Zstd);
        assert_eq!(detect(b"etc/"), Compression::Plain);
        assert_eq!(detect(&[0x28, 0xb5]), Compression::Plain);
        assert_eq!(detect(&[]), Compression::Plain);
    }

    #[test]
    fn normalises_leading_slash_and_dot() {
        assert_eq!(
            comps("/etc/passwd"),
            Some(vec!["etc".into(), "passwd".into()])
        );
        assert_eq!(comps("./usr/bin/"), Some(vec!["usr".into(), "bin".into()]));
        assert_eq!(comps("a/./b"), Some(vec!["a".into(), "b".into()]));
        assert_eq!(comps("./"), Some(vec![]));
        assert_eq!(comps("/"), Some(vec![]));
    }

    #[test]
    fn refuses_dotdot_anywhere() {
        assert_eq!(comps("../evil"), None);
        assert_eq!(comps("a/../../evil"), None);
        assert_eq!(comps("a/b/.."), None);
        assert_eq!(comps("/../x"), None);
        assert!(comps("a/..b/c..").is_some());
    }

    #[test]
    fn classifies_whiteouts() {
        let w = |s: &'static str| whiteout(OsStr::new(s), &[]);
        assert_eq!(w("passwd"), Whiteout::No);
        assert_eq!(w(".wh.passwd"), Whiteout::Hide(OsStr::new("passwd")));
        assert_eq!(w(".wh..hidden"), Whiteout::Hide(OsStr::new(".hidden")));
        assert_eq!(w(".wh..wh..opq"), Whiteout::Opaque);
        assert_eq!(w(".wh..wh.plnk"), Whiteout::Ignored);
        assert_eq!(w(".wh."), Whiteout::Malformed);
        assert_eq!(w(".wh.."), Whiteout::Malformed);
        assert_eq!(w(".wh..."), Whiteout::Malformed);
        assert_eq!(w(".whx"), Whiteout::No);
        let aufs = [OsString::from(".wh..wh.plnk")];
        assert_eq!(whiteout(OsStr::new("123.456"), &aufs), Whiteout::Ignored);
    }
}
