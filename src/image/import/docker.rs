//! A docker-archive (`docker save`, skopeo `docker-archive:`): manifest.json
//! lists each image's config file and layer tars. There are no
//! descriptors, so a file whose name is a digest (`<hex>.json`,
//! `<hex>.tar`, `blobs/sha256/<hex>`) is checked against it, and an OCI
//! manifest is written for the image so the store holds the same shape
//! whatever the source.

use super::oci::{self, Descriptor, DockerEntry, ImageConfig, Manifest};
use super::{Ctx, Found, ImportError, Result};
use crate::image::store::Digest;
use std::collections::BTreeMap;
use std::io::Read;

pub(crate) fn read(ctx: &mut Ctx<'_>, tag: Option<&str>) -> Result<Found> {
    let entries: Vec<DockerEntry> = ctx.read_json("manifest.json", "manifest.json")?;
    let (entry, name) = pick(ctx, &entries, tag)?;
    let (config_digest, config_size) = ctx.fetch(
        &entry.config,
        digest_in_name(&entry.config).as_ref(),
        None,
        "config",
    )?;
    let config_bytes = ctx.store.read_blob(&config_digest)?;
    let config: ImageConfig = ctx.parse(&config_bytes, "image config")?;
    ctx.check_platform(&config)?;
    let mut layers = Vec::new();
    for rel in &entry.layers {
        let (digest, size) = ctx.fetch(rel, digest_in_name(rel).as_ref(), None, "layer")?;
        let media_type = layer_media_type(ctx, &digest)?;
        layers.push(descriptor(media_type, digest, size));
    }
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(oci::MT_OCI_MANIFEST.into()),
        config: descriptor(oci::MT_OCI_CONFIG, config_digest.clone(), config_size),
        layers,
    };
    let bytes = serde_json::to_vec(&manifest).expect("manifest serialises");
    let (manifest_digest, _) =
        ctx.store
            .put_blob(&mut &bytes[..], None, None, "manifest", &mut |_| {})?;
    Ok(Found {
        name,
        manifest: manifest_digest,
        config_digest,
        config,
        layers: manifest.layers,
    })
}

fn descriptor(media_type: &str, digest: Digest, size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.into(),
        digest,
        size,
        platform: None,
        annotations: BTreeMap::new(),
    }
}

/// The entry tagged `tag` (whole name or the part after `:`), or the only
/// entry; with the name it carries.
fn pick<'e>(
    ctx: &Ctx<'_>,
    entries: &'e [DockerEntry],
    tag: Option<&str>,
) -> Result<(&'e DockerEntry, Option<String>)> {
    let tags_of = |e: &'e DockerEntry| e.repo_tags.iter().flatten();
    let all: Vec<String> = entries.iter().flat_map(tags_of).cloned().collect();
    let path = ctx.src.to_path_buf();
    match tag {
        Some(t) => {
            for e in entries {
                if let Some(n) =
                    tags_of(e).find(|n| *n == t || n.rsplit_once(':').is_some_and(|(_, x)| x == t))
                {
                    return Ok((e, Some(n.clone())));
                }
            }
            Err(ImportError::NoTag {
                path,
                tag: t.into(),
                tags: all.join(", "),
            })
        }
        None => match entries {
            [] => Err(ImportError::Empty(path)),
            [e] => Ok((e, tags_of(e).next().cloned())),
            _ => Err(ImportError::Ambiguous {
                path,
                tags: all.join(", "),
            }),
        },
    }
}

/// `<hex>.json`, `<hex>.tar`, `<hex>` or `blobs/sha256/<hex>`: the name
/// is the file's sha256. `<v1-id>/layer.tar` says nothing.
pub fn digest_in_name(rel: &str) -> Option<Digest> {
    if let Some(hex) = rel.strip_prefix("blobs/sha256/") {
        return Digest::from_hex(hex);
    }
    let file = rel.rsplit('/').next()?;
    let stem = file
        .strip_suffix(".tar")
        .or_else(|| file.strip_suffix(".json"))
        .unwrap_or(file);
    Digest::from_hex(stem)
}

/// Newer `docker save` may compress layers; the manifest says which.
fn layer_media_type(ctx: &Ctx<'_>, d: &Digest) -> Result<&'static str> {
    let mut magic = [0u8; 4];
    let mut f = ctx.store.open_blob(d)?;
    let n = f.read(&mut magic).unwrap_or(0);
    Ok(match &magic[..n] {
        [0x1f, 0x8b, ..] => "application/vnd.oci.image.layer.v1.tar+gzip",
        [0x28, 0xb5, 0x2f, 0xfd] => "application/vnd.oci.image.layer.v1.tar+zstd",
        _ => "application/vnd.oci.image.layer.v1.tar",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_in_names() {
        let hex = "ab".repeat(32);
        assert!(digest_in_name(&format!("{hex}.tar")).is_some());
        assert!(digest_in_name(&format!("{hex}.json")).is_some());
        assert!(digest_in_name(&format!("blobs/sha256/{hex}")).is_some());
        assert!(digest_in_name(&format!("{hex}/layer.tar")).is_none());
        assert!(digest_in_name("config.json").is_none());
    }
}
