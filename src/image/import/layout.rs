//! An OCI image layout (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`),
//! from a directory or a staged oci-archive.

use super::oci::{self, Choice, Descriptor, ImageConfig, Index, Manifest};
use super::{Ctx, Found, ImportError, Result, MAX_DEPTH};

/// Picks the manifest (by tag, then platform, through nested indexes),
/// then stores and verifies the manifest, config and layer blobs.
pub(crate) fn read(ctx: &mut Ctx<'_>, tag: Option<&str>) -> Result<Found> {
    let index: Index = ctx.read_json("index.json", "index.json")?;
    let mut desc = pick(ctx, &index.manifests, tag)?;
    let name = desc.ref_name().map(String::from);
    let mut depth = 0;
    while desc.is_index() {
        depth += 1;
        if depth > MAX_DEPTH {
            return Err(ImportError::TooDeep {
                path: ctx.src.to_path_buf(),
            });
        }
        let bytes = fetch_small(ctx, &desc, "image index")?;
        let nested: Index = ctx.parse(&bytes, "image index")?;
        desc = pick(ctx, &nested.manifests, None)?;
    }
    if !desc.media_type.is_empty()
        && desc.media_type != oci::MT_OCI_MANIFEST
        && desc.media_type != "application/vnd.docker.distribution.manifest.v2+json"
    {
        return Err(media_type(ctx, "manifest", &desc.media_type));
    }
    let bytes = fetch_small(ctx, &desc, "manifest")?;
    let manifest: Manifest = ctx.parse(&bytes, "manifest")?;
    let config_bytes = fetch_small(ctx, &manifest.config, "config")?;
    let config: ImageConfig = ctx.parse(&config_bytes, "image config")?;
    ctx.check_platform(&config)?;
    for l in &manifest.layers {
        fetch(ctx, l, "layer")?;
    }
    Ok(Found {
        name,
        manifest: desc.digest,
        config_digest: manifest.config.digest,
        config,
        layers: manifest.layers,
    })
}

fn pick(ctx: &Ctx<'_>, entries: &[Descriptor], tag: Option<&str>) -> Result<Descriptor> {
    let path = ctx.src.to_path_buf();
    match oci::choose(entries, tag, &ctx.host) {
        Choice::Picked(d) => Ok(d),
        Choice::NoTag { tag, tags } => Err(ImportError::NoTag {
            path,
            tag,
            tags: list(&tags),
        }),
        Choice::Ambiguous { tags } => Err(ImportError::Ambiguous {
            path,
            tags: list(&tags),
        }),
        Choice::NoPlatform { host, available } => Err(ImportError::NoPlatform {
            path,
            host,
            available: available.join(", "),
        }),
        Choice::Empty => Err(ImportError::Empty(path)),
    }
}

fn list(tags: &[String]) -> String {
    if tags.is_empty() {
        "none".into()
    } else {
        tags.join(", ")
    }
}

fn media_type(ctx: &Ctx<'_>, what: &str, mt: &str) -> ImportError {
    ImportError::MediaType {
        path: ctx.src.to_path_buf(),
        what: what.into(),
        media_type: mt.into(),
    }
}

fn fetch(ctx: &mut Ctx<'_>, d: &Descriptor, what: &str) -> Result<()> {
    let rel = format!("blobs/sha256/{}", d.digest.hex());
    ctx.fetch(&rel, Some(&d.digest), Some(d.size), what)?;
    Ok(())
}

/// Stores a small blob, then reads it back from the store (verified).
fn fetch_small(ctx: &mut Ctx<'_>, d: &Descriptor, what: &str) -> Result<Vec<u8>> {
    if d.size > crate::image::store::MAX_METADATA {
        return Err(crate::image::store::StoreError::TooLarge {
            what: format!("{what} {}", d.digest),
        }
        .into());
    }
    fetch(ctx, d, what)?;
    Ok(ctx.store.read_blob(&d.digest)?)
}
