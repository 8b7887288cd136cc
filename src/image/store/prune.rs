//! `image prune`: delete blobs and unpacked layers that no image, overlay
//! mount or container uses, plus leftovers of interrupted imports.

use super::{Result, Store, StoreError};
use std::collections::HashSet;
use std::fs;
use std::path::Path;

#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PruneReport {
    pub blobs: usize,
    pub layers: usize,
}

/// Diff-ID hex of the layers that containers are built on.
///
/// Layers (diff-ID hex) that engine containers under `root` still need:
/// a stopped container mounts its image's layers again on `start`.
pub fn used_by_containers(root: &Path) -> HashSet<String> {
    let mut used = HashSet::new();
    for entry in std::fs::read_dir(root.join("containers"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let Ok(data) = std::fs::read(entry.path().join("record.json")) else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&data) else {
            continue;
        };
        for l in v["layers"].as_array().into_iter().flatten() {
            if let Some(hex) = l.as_str() {
                used.insert(hex.to_string());
            }
        }
    }
    used
}

impl Store {
    /// Deletes what nothing refers to. The exclusive gc lock waits out every
    /// import in flight (they hold it shared until their name is recorded).
    pub fn prune(&self) -> Result<PruneReport> {
        let _gc = self.gc_exclusive()?;
        let images = self.images()?;
        let mut blobs = HashSet::new();
        let mut layers = used_by_containers(self.root());
        for r in images.images.values() {
            blobs.insert(r.manifest.hex().to_string());
            blobs.insert(r.config.hex().to_string());
            for l in &r.layers {
                blobs.insert(l.digest.hex().to_string());
                layers.insert(l.diff_id.hex().to_string());
            }
        }
        layers.extend(self.layers_in_mounts()?);
        let mut report = PruneReport::default();
        for name in list(&self.blob_dir())? {
            if !blobs.contains(&name) {
                remove(&self.blob_dir().join(&name))?;
                if !name.starts_with(".tmp-") {
                    report.blobs += 1;
                }
            }
        }
        for name in list(&self.layer_dir())? {
            let key = name.split('.').next().unwrap_or_default();
            if !layers.contains(key) {
                let p = self.layer_dir().join(&name);
                if p.is_dir() && !name.starts_with(".tmp-") {
                    report.layers += 1;
                }
                remove(&p)?;
            }
        }
        for name in list(&self.tmp_dir())? {
            remove(&self.tmp_dir().join(name))?;
        }
        Ok(report)
    }
}

fn list(dir: &Path) -> Result<Vec<String>> {
    let rd = fs::read_dir(dir).map_err(|source| StoreError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(rd
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect())
}

/// Removes a file or a whole tree; a layer tree may hold read-only
/// directories, which root removes regardless.
fn remove(p: &Path) -> Result<()> {
    let res = match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    res.map_err(|source| StoreError::Remove {
        path: p.to_path_buf(),
        source,
    })
}
