//! The image store under the image root:
//!
//! ```text
//! <root>/lock                  flock: held while images.json is rewritten
//! <root>/gc.lock               flock: shared by imports and mounts, exclusive by prune
//! <root>/images.json           names -> manifest, config, layers (temp + rename)
//! <root>/blobs/sha256/<hex>    content-addressed blobs, verified before rename
//! <root>/layers/<hex>/         a layer unpacked once, keyed by its diff ID
//! <root>/layers/<hex>.json     its size and file count
//! <root>/layers/<hex>.lock     flock: held while that layer is unpacked
//! <root>/mounts/<key>/         upper/, work/ and mount.json of one overlay mount
//! <root>/tmp/                  archives being staged for import
//! ```
//!
//! Everything is written beside its final name and renamed into place once
//! complete, so a crash or a failed import never leaves a half-written blob,
//! layer or index behind: at worst a `.tmp-*` entry that `prune` removes.

mod digest;
mod mounts;
mod prune;

pub use digest::Digest;
pub use mounts::{mount_key, MountError, MountRecord};
pub use prune::{used_by_containers, PruneReport};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Manifests and configs are small; refuse to read a huge one into memory.
pub const MAX_METADATA: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("image store: create {path}: {source}")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("image store: lock {path}: {source}")]
    Lock { path: PathBuf, source: io::Error },
    #[error("image store: read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("image store: write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("image store: rename {from} to {to}: {source}")]
    Rename {
        from: PathBuf,
        to: PathBuf,
        source: io::Error,
    },
    #[error("image store: remove {path}: {source}")]
    Remove { path: PathBuf, source: io::Error },
    #[error("image store: {path} is corrupt: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{0}")]
    BadDigest(String),
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: Digest,
        actual: Digest,
    },
    #[error("{what}: size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },
    #[error("{what} is larger than {MAX_METADATA} bytes")]
    TooLarge { what: String },
    #[error("blob {0} is not in the image store")]
    MissingBlob(Digest),
    #[error("unpack layer {blob}: {source}")]
    Unpack {
        blob: Digest,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("layer {blob}: its content has diff ID {actual} but the image config says {expected}")]
    DiffIdMismatch {
        blob: Digest,
        expected: Digest,
        actual: Digest,
    },
    #[error("no such image: {0}")]
    UnknownImage(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// One layer of an image: the blob it came from and the diff ID that names
/// its unpacked directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRef {
    pub digest: Digest,
    pub diff_id: Digest,
    /// Size of the blob (compressed, as stored).
    pub size: u64,
}

/// One name in images.json.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    pub manifest: Digest,
    pub config: Digest,
    /// Bottom layer first, as in the manifest.
    pub layers: Vec<LayerRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    pub imported: String,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Images {
    pub images: BTreeMap<String, ImageRecord>,
}

/// What an unpacker reports; mirrors `unpack::LayerInfo` so the store does
/// not depend on how layers are unpacked (and tests can fake it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerMeta {
    pub diff_id: Digest,
    pub size: u64,
    pub files: u64,
}

pub type UnpackFn<'a> = dyn FnMut(File, &Path) -> std::result::Result<LayerMeta, Box<dyn std::error::Error + Send + Sync>>
    + 'a;

pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Opens (creating) the store at `root`.
    pub fn open(root: &Path) -> Result<Store> {
        let s = Store {
            root: root.to_path_buf(),
        };
        for d in [s.blob_dir(), s.layer_dir(), s.tmp_dir(), s.mounts_dir()] {
            fs::create_dir_all(&d).map_err(|source| StoreError::CreateDir { path: d, source })?;
        }
        Ok(s)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn blob_dir(&self) -> PathBuf {
        self.root.join("blobs/sha256")
    }
    pub fn layer_dir(&self) -> PathBuf {
        self.root.join("layers")
    }
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }
    pub fn mounts_dir(&self) -> PathBuf {
        self.root.join("mounts")
    }
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.blob_dir().join(d.hex())
    }
    /// The unpacked directory of the layer with diff ID `diff_id`.
    pub fn layer_path(&self, diff_id: &Digest) -> PathBuf {
        self.layer_dir().join(diff_id.hex())
    }

    /// Copies `input` into the store, hashing while it streams, and renames
    /// it into place only if its digest (and size, if given) match.
    /// With `expected == None` the blob is named by what it hashes to.
    pub fn put_blob(
        &self,
        input: &mut dyn Read,
        expected: Option<&Digest>,
        size: Option<u64>,
        what: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(Digest, u64)> {
        let tmp = TempPath::new(self.blob_dir().join(format!(".tmp-{}", unique_suffix())));
        let (actual, n) = copy_hashing(input, &tmp.0, progress)?;
        if let Some(want) = size.filter(|w| *w != n) {
            return Err(StoreError::SizeMismatch {
                what: what.into(),
                expected: want,
                actual: n,
            });
        }
        if let Some(want) = expected.filter(|w| **w != actual) {
            return Err(StoreError::DigestMismatch {
                what: what.into(),
                expected: want.clone(),
                actual,
            });
        }
        let dst = self.blob_path(&actual);
        rename(&tmp.0, &dst)?;
        tmp.disarm();
        Ok((actual, n))
    }

    pub fn has_blob(&self, d: &Digest) -> bool {
        self.blob_path(d).is_file()
    }

    pub fn open_blob(&self, d: &Digest) -> Result<File> {
        let p = self.blob_path(d);
        File::open(&p).map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => StoreError::MissingBlob(d.clone()),
            _ => StoreError::Read { path: p, source },
        })
    }

    /// Reads a small blob (manifest, config) whole.
    pub fn read_blob(&self, d: &Digest) -> Result<Vec<u8>> {
        let f = self.open_blob(d)?;
        read_limited(f, &self.blob_path(d), &format!("blob {d}"))
    }

    /// Makes sure the layer in blob `blob` is unpacked under
    /// `layers/<diff_id>/`, unpacking it at most once across processes:
    /// the per-layer lock serialises unpackers and the winner's rename is
    /// what the others find when they get the lock.
    pub fn ensure_layer(
        &self,
        blob: &Digest,
        diff_id: &Digest,
        unpack: &mut UnpackFn<'_>,
    ) -> Result<LayerMeta> {
        if let Some(meta) = self.layer_meta(diff_id)? {
            return Ok(meta);
        }
        let lock_path = self.layer_dir().join(format!("{}.lock", diff_id.hex()));
        let _lock = lock_file(&lock_path, FlockArg::LockExclusive)?;
        if let Some(meta) = self.layer_meta(diff_id)? {
            return Ok(meta);
        }
        let tmp = TempPath::new(self.layer_dir().join(format!(".tmp-{}", unique_suffix())));
        fs::create_dir(&tmp.0).map_err(|source| StoreError::CreateDir {
            path: tmp.0.clone(),
            source,
        })?;
        let input = self.open_blob(blob)?;
        let meta = unpack(input, &tmp.0).map_err(|source| StoreError::Unpack {
            blob: blob.clone(),
            source,
        })?;
        if meta.diff_id != *diff_id {
            return Err(StoreError::DiffIdMismatch {
                blob: blob.clone(),
                expected: diff_id.clone(),
                actual: meta.diff_id,
            });
        }
        // The meta file goes first: whoever sees the directory finds it.
        let meta_path = self.layer_dir().join(format!("{}.json", diff_id.hex()));
        write_atomic(
            &meta_path,
            &serde_json::to_vec(&meta).expect("meta serialises"),
        )?;
        rename(&tmp.0, &self.layer_path(diff_id))?;
        tmp.disarm();
        Ok(meta)
    }

    /// The layer's meta if it is unpacked; a layer dir whose meta file is
    /// missing (written by something else) still counts, with size 0.
    pub fn layer_meta(&self, diff_id: &Digest) -> Result<Option<LayerMeta>> {
        if !self.layer_path(diff_id).is_dir() {
            return Ok(None);
        }
        let p = self.layer_dir().join(format!("{}.json", diff_id.hex()));
        match fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|source| StoreError::Corrupt { path: p, source }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Some(LayerMeta {
                diff_id: diff_id.clone(),
                size: 0,
                files: 0,
            })),
            Err(source) => Err(StoreError::Read { path: p, source }),
        }
    }

    fn images_path(&self) -> PathBuf {
        self.root.join("images.json")
    }

    /// Reads images.json without locking: it is only ever replaced by rename.
    pub fn images(&self) -> Result<Images> {
        let p = self.images_path();
        match fs::read(&p) {
            Ok(b) => {
                serde_json::from_slice(&b).map_err(|source| StoreError::Corrupt { path: p, source })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Images::default()),
            Err(source) => Err(StoreError::Read { path: p, source }),
        }
    }

    /// Runs `f` on images.json under the exclusive `<root>/lock` and writes
    /// the result back atomically if `f` succeeds.
    pub fn update_images<T>(&self, f: impl FnOnce(&mut Images) -> Result<T>) -> Result<T> {
        let _lock = lock_file(&self.root.join("lock"), FlockArg::LockExclusive)?;
        let mut images = self.images()?;
        let out = f(&mut images)?;
        let text = serde_json::to_vec_pretty(&images).expect("images serialise");
        write_atomic(&self.images_path(), &text)?;
        Ok(out)
    }

    /// Looks a name up: exact, then with `:latest` added, then as a prefix
    /// of the config digest (the ID `image ls` shows).
    pub fn resolve(&self, name: &str) -> Result<(String, ImageRecord)> {
        lookup(&self.images()?, name)
    }

    /// Held (shared) by anything that adds blobs or layers it has not yet
    /// recorded, so `prune` (exclusive) cannot delete them midway.
    pub fn gc_shared(&self) -> Result<Flock<File>> {
        lock_file(&self.root.join("gc.lock"), FlockArg::LockShared)
    }

    pub fn gc_exclusive(&self) -> Result<Flock<File>> {
        lock_file(&self.root.join("gc.lock"), FlockArg::LockExclusive)
    }
}

/// Name lookup, pure: exact, `NAME:latest`, then a unique ID prefix.
pub fn lookup(images: &Images, name: &str) -> Result<(String, ImageRecord)> {
    let found = |n: &str| images.images.get(n).map(|r| (n.to_string(), r.clone()));
    if let Some(hit) = found(name).or_else(|| found(&format!("{name}:latest"))) {
        return Ok(hit);
    }
    let id = name.strip_prefix("sha256:").unwrap_or(name);
    if id.len() >= 4 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut hits = images
            .images
            .iter()
            .filter(|(_, r)| r.config.hex().starts_with(id));
        if let (Some((n, r)), None) = (hits.next(), hits.next()) {
            return Ok((n.clone(), r.clone()));
        }
    }
    Err(StoreError::UnknownImage(name.to_string()))
}

/// A path removed (file or tree) on drop unless disarmed.
pub(crate) struct TempPath(pub PathBuf);

impl TempPath {
    pub fn new(p: PathBuf) -> TempPath {
        TempPath(p)
    }
    pub fn disarm(self) {
        std::mem::forget(self);
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if fs::remove_file(&self.0).is_err() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// A name no other process or thread will pick.
pub(crate) fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    format!("{}-{nanos:x}-{seq}", std::process::id())
}

fn copy_hashing(
    input: &mut dyn Read,
    dst: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<(Digest, u64)> {
    let werr = |source| StoreError::Write {
        path: dst.to_path_buf(),
        source,
    };
    let mut out = File::create(dst).map_err(werr)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(StoreError::Read {
                    path: dst.to_path_buf(),
                    source,
                })
            }
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(werr)?;
        total += n as u64;
        progress(total);
    }
    out.sync_all().map_err(werr)?;
    Ok((Digest::from_sha256(&hasher.finalize()), total))
}

pub(crate) fn read_limited(f: impl Read, path: &Path, what: &str) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    f.take(MAX_METADATA + 1)
        .read_to_end(&mut buf)
        .map_err(|source| StoreError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    if buf.len() as u64 > MAX_METADATA {
        return Err(StoreError::TooLarge { what: what.into() });
    }
    Ok(buf)
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to).map_err(|source| StoreError::Rename {
        from: from.to_path_buf(),
        to: to.to_path_buf(),
        source,
    })
}

/// Writes `data` beside `path` and renames it over `path`.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = TempPath::new(path.with_file_name(format!(".tmp-{name}-{}", unique_suffix())));
    let werr = |source| StoreError::Write {
        path: tmp.0.clone(),
        source,
    };
    let mut f = File::create(&tmp.0).map_err(werr)?;
    f.write_all(data).map_err(werr)?;
    f.sync_all().map_err(werr)?;
    rename(&tmp.0, path)?;
    tmp.disarm();
    Ok(())
}

pub(crate) fn lock_file(path: &Path, arg: FlockArg) -> Result<Flock<File>> {
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|source| StoreError::Lock {
            path: path.to_path_buf(),
            source,
        })?;
    Flock::lock(f, arg).map_err(|(_, errno)| StoreError::Lock {
        path: path.to_path_buf(),
        source: errno.into(),
    })
}

#[cfg(test)]
mod tests;
