//! The few OCI image-spec (and Docker archive) documents an import reads,
//! and the pure choice of which manifest in an index to import: by tag,
//! then by the host's platform.

use crate::image::store::Digest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MT_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MT_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    pub fn ref_name(&self) -> Option<&str> {
        self.annotations.get(REF_NAME).map(String::as_str)
    }
    pub fn is_index(&self) -> bool {
        self.media_type == MT_OCI_INDEX || self.media_type == MT_DOCKER_LIST
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    #[serde(default)]
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// The parts of an image config that an import checks and a bundle uses;
/// the full JSON is kept as a blob.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(default)]
    pub config: Option<ContainerConfig>,
    pub rootfs: RootFs,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default)]
    pub env: Option<Vec<String>>,
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default)]
    pub working_dir: Option<String>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub stop_signal: Option<String>,
}

/// One entry of a docker-archive's manifest.json.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DockerEntry {
    pub config: String,
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    pub layers: Vec<String>,
}

/// The platform this binary runs on, in GOARCH terms as images name it.
pub fn host_platform() -> Platform {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    };
    Platform {
        architecture: arch.into(),
        os: std::env::consts::OS.into(),
        variant: None,
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        match &self.variant {
            Some(v) => write!(f, "/{v}"),
            None => Ok(()),
        }
    }
}

/// Whether an image built for `p` runs on `host`: os and architecture must
/// match; the variant is not compared (arm64's v8 is the only one in use).
pub fn platform_matches(p: &Platform, host: &Platform) -> bool {
    p.os == host.os && p.architecture == host.architecture
}

#[derive(Debug, PartialEq, Eq)]
pub enum Choice {
    Picked(Descriptor),
    NoTag {
        tag: String,
        tags: Vec<String>,
    },
    Ambiguous {
        tags: Vec<String>,
    },
    NoPlatform {
        host: String,
        available: Vec<String>,
    },
    Empty,
}

/// Chooses among an index's entries: those tagged `tag` (matched against
/// the whole ref name or the part after its last `:`), then the one for
/// `host` when several remain and they carry platforms.
pub fn choose(entries: &[Descriptor], tag: Option<&str>, host: &Platform) -> Choice {
    if entries.is_empty() {
        return Choice::Empty;
    }
    let tags: Vec<String> = dedup(
        entries
            .iter()
            .filter_map(|d| d.ref_name().map(String::from)),
    );
    let cands: Vec<&Descriptor> = match tag {
        Some(t) => entries
            .iter()
            .filter(|d| d.ref_name().is_some_and(|r| tag_matches(r, t)))
            .collect(),
        None => entries.iter().collect(),
    };
    if cands.is_empty() {
        let tag = tag.unwrap_or_default().to_string();
        return Choice::NoTag { tag, tags };
    }
    if cands.len() == 1 {
        return Choice::Picked(cands[0].clone());
    }
    // Several names: the user must say which; one name on several
    // platforms: the host decides.
    let names = dedup(cands.iter().filter_map(|d| d.ref_name().map(String::from)));
    if names.len() > 1 || cands.iter().all(|d| d.platform.is_none()) {
        return Choice::Ambiguous { tags };
    }
    let fits: Vec<&&Descriptor> = cands
        .iter()
        .filter(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| platform_matches(p, host))
        })
        .collect();
    match fits.first() {
        Some(d) => Choice::Picked((**d).clone()),
        None => Choice::NoPlatform {
            host: host.to_string(),
            available: dedup(
                cands
                    .iter()
                    .filter_map(|d| d.platform.as_ref().map(|p| p.to_string())),
            ),
        },
    }
}

fn tag_matches(ref_name: &str, tag: &str) -> bool {
    ref_name == tag
        || ref_name
            .rsplit_once(':')
            .is_some_and(|(_, t)| t == tag && !t.contains('/'))
}

fn dedup(it: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = it.collect();
    v.sort();
    v.dedup();
    v
}

/// Normalises an image name the way `docker tag` does for the parts berth
/// cares about: a missing tag means `latest`. Refuses names that could not
/// be typed back on a command line.
pub fn normalize_name(name: &str) -> Result<String, String> {
    let bad = name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control());
    if bad || name.starts_with(':') || name.ends_with(':') {
        return Err(format!("invalid image name {name:?}"));
    }
    let last = name.rsplit('/').next().unwrap_or(name);
    Ok(if last.contains(':') || name.contains('@') {
        name.to_string()
    } else {
        format!("{name}:latest")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(n: u8, tag: Option<&str>, plat: Option<(&str, &str)>) -> Descriptor {
        Descriptor {
            media_type: MT_OCI_MANIFEST.into(),
            digest: Digest::of(&[n]),
            size: 1,
            platform: plat.map(|(os, arch)| Platform {
                os: os.into(),
                architecture: arch.into(),
                variant: None,
            }),
            annotations: tag
                .map(|t| BTreeMap::from([(REF_NAME.to_string(), t.to_string())]))
                .unwrap_or_default(),
        }
    }

    fn amd64() -> Platform {
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }

    #[test]
    fn picks_by_tag() {
        let e = [
            desc(1, Some("latest"), None),
            desc(2, Some("localhost/x:v2"), None),
        ];
        assert_eq!(
            choose(&e, Some("latest"), &amd64()),
            Choice::Picked(e[0].clone())
        );
        assert_eq!(
            choose(&e, Some("v2"), &amd64()),
            Choice::Picked(e[1].clone())
        );
        assert_eq!(
            choose(&e, Some("localhost/x:v2"), &amd64()),
            Choice::Picked(e[1].clone())
        );
        assert!(matches!(
            choose(&e, Some("v3"), &amd64()),
            Choice::NoTag { .. }
        ));
        assert!(matches!(
            choose(&e, None, &amd64()),
            Choice::Ambiguous { .. }
        ));
        assert_eq!(
            choose(&e[..1], None, &amd64()),
            Choice::Picked(e[0].clone())
        );
        let p = [
            desc(1, Some("a"), Some(("linux", "amd64"))),
            desc(2, Some("b"), Some(("linux", "amd64"))),
        ];
        assert!(matches!(
            choose(&p, None, &amd64()),
            Choice::Ambiguous { .. }
        ));
        assert_eq!(choose(&[], None, &amd64()), Choice::Empty);
    }

    #[test]
    fn picks_host_platform() {
        let e = [
            desc(1, None, Some(("linux", "arm64"))),
            desc(2, None, Some(("linux", "amd64"))),
            desc(3, None, Some(("windows", "amd64"))),
        ];
        assert_eq!(choose(&e, None, &amd64()), Choice::Picked(e[1].clone()));
        let only_arm = [e[0].clone(), e[2].clone()];
        match choose(&only_arm, None, &amd64()) {
            Choice::NoPlatform { host, available } => {
                assert_eq!(host, "linux/amd64");
                assert_eq!(available, vec!["linux/arm64", "windows/amd64"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn host_is_linux() {
        assert_eq!(host_platform().os, "linux");
    }

    #[test]
    fn names_get_latest() {
        assert_eq!(normalize_name("busybox").unwrap(), "busybox:latest");
        assert_eq!(
            normalize_name("localhost:5000/busybox").unwrap(),
            "localhost:5000/busybox:latest"
        );
        assert_eq!(normalize_name("a/b:v1").unwrap(), "a/b:v1");
        assert!(normalize_name("").is_err());
        assert!(normalize_name("a b").is_err());
        assert!(normalize_name("a:").is_err());
    }
}
