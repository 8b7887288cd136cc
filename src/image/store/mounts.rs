//! Overlay mounts of images: each mount gets its own upper and work
//! directories under `<root>/mounts/<key>/`, where `<key>` hashes the mount
//! target, and a `mount.json` naming the layers it stacks so that `prune`
//! leaves them alone while it is mounted.

use super::{Digest, Result, Store, StoreError};
use crate::image::overlay::{self, OverlayError};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountRecord {
    pub target: PathBuf,
    pub image: String,
    /// Diff IDs, bottom layer first.
    pub layers: Vec<Digest>,
}

#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("mount target {path}: {source}")]
    Target { path: PathBuf, source: io::Error },
    #[error("{0} is already mounted by berth; unmount it first")]
    Busy(PathBuf),
    #[error("{0} is not an image mounted by berth")]
    NotMounted(PathBuf),
    #[error("image {image}: layer {diff_id} is missing from the store; import the image again")]
    MissingLayer { image: String, diff_id: Digest },
    /// Its messages name the target already.
    #[error(transparent)]
    Overlay(#[from] OverlayError),
}

/// The directory holding a mount's upper, work and record: a hash of the
/// canonical target, so any spelling of the same path finds it.
pub fn mount_key(target: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    Digest::of(target.as_os_str().as_bytes()).hex()[..32].to_string()
}

fn canonical(p: &Path) -> std::result::Result<PathBuf, MountError> {
    fs::canonicalize(p).map_err(|source| MountError::Target {
        path: p.to_path_buf(),
        source,
    })
}

impl Store {
    fn mount_dir(&self, target: &Path) -> PathBuf {
        self.mounts_dir().join(mount_key(target))
    }

    /// Diff-ID hex of every layer some recorded mount stacks.
    pub fn layers_in_mounts(&self) -> Result<HashSet<String>> {
        let mut used = HashSet::new();
        let dir = self.mounts_dir();
        let rd = fs::read_dir(&dir).map_err(|source| StoreError::Read { path: dir, source })?;
        for e in rd.filter_map(|e| e.ok()) {
            let Ok(text) = fs::read(e.path().join("mount.json")) else {
                continue;
            };
            if let Ok(rec) = serde_json::from_slice::<MountRecord>(&text) {
                used.extend(rec.layers.iter().map(|d| d.hex().to_string()));
            }
        }
        Ok(used)
    }

    /// Mounts image `name` at `target` (created if missing): the image's
    /// layers as read-only lowers, a fresh upper for the writes.
    pub fn mount_image(
        &self,
        name: &str,
        target: &Path,
    ) -> std::result::Result<MountRecord, MountError> {
        fs::create_dir_all(target).map_err(|source| MountError::Target {
            path: target.to_path_buf(),
            source,
        })?;
        let target = canonical(target)?;
        // Shared gc lock: prune must not take the layers between the lookup
        // and the record that protects them.
        let _gc = self.gc_shared()?;
        let (image, rec) = self.resolve(name)?;
        let dir = self.mount_dir(&target);
        if dir.exists() {
            return Err(MountError::Busy(target));
        }
        let mut lowers = Vec::new();
        for l in rec.layers.iter().rev() {
            if self.layer_meta(&l.diff_id)?.is_none() {
                return Err(MountError::MissingLayer {
                    image,
                    diff_id: l.diff_id.clone(),
                });
            }
            lowers.push(self.layer_path(&l.diff_id));
        }
        let record = MountRecord {
            target: target.clone(),
            image,
            layers: rec.layers.iter().map(|l| l.diff_id.clone()).collect(),
        };
        let (upper, work) = (dir.join("upper"), dir.join("work"));
        for d in [&upper, &work] {
            fs::create_dir_all(d).map_err(|source| StoreError::CreateDir {
                path: d.clone(),
                source,
            })?;
        }
        let text = serde_json::to_vec_pretty(&record).expect("record serialises");
        if let Err(e) = super::write_atomic(&dir.join("mount.json"), &text)
            .map_err(MountError::from)
            .and_then(|_| overlay(&lowers, &dir, &target))
        {
            let _ = fs::remove_dir_all(&dir);
            return Err(e);
        }
        Ok(record)
    }

    /// Finds the mount at `path`, or at `path/rootfs` (a bundle made by
    /// `image bundle`).
    pub fn find_mount(&self, path: &Path) -> std::result::Result<MountRecord, MountError> {
        let path = canonical(path)?;
        for t in [path.clone(), path.join("rootfs")] {
            if let Ok(text) = fs::read(self.mount_dir(&t).join("mount.json")) {
                if let Ok(rec) = serde_json::from_slice(&text) {
                    return Ok(rec);
                }
            }
        }
        Err(MountError::NotMounted(path))
    }

    /// Unmounts and discards the upper layer (the mount's writes), like
    /// removing a container. A target that is no longer mounted (after a
    /// reboot) just has its record cleaned up.
    pub fn unmount(&self, path: &Path) -> std::result::Result<MountRecord, MountError> {
        let rec = self.find_mount(path)?;
        match overlay::unmount(&rec.target) {
            Err(OverlayError::Unmount { source, .. })
                if matches!(
                    source.raw_os_error(),
                    Some(libc::EINVAL) | Some(libc::ENOENT)
                ) => {}
            Err(e) => return Err(e.into()),
            Ok(()) => {}
        }
        let dir = self.mount_dir(&rec.target);
        fs::remove_dir_all(&dir).map_err(|source| StoreError::Remove { path: dir, source })?;
        Ok(rec)
    }
}

/// `lowers` top layer first, as overlayfs lists them. An image without
/// layers gets an empty lower: overlayfs needs at least one.
fn overlay(lowers: &[PathBuf], dir: &Path, target: &Path) -> std::result::Result<(), MountError> {
    let (upper, work) = (dir.join("upper"), dir.join("work"));
    let mut lowers = lowers.to_vec();
    if lowers.is_empty() {
        let empty = dir.join("empty");
        fs::create_dir_all(&empty).map_err(|source| StoreError::CreateDir {
            path: empty.clone(),
            source,
        })?;
        lowers.push(empty);
    }
    Ok(overlay::mount_overlay(
        &lowers,
        Some(&upper),
        Some(&work),
        target,
    )?)
}
