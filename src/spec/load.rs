//! Reading config.json from a bundle.

use oci_spec::runtime::Spec;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("bundle {0}: no such directory")]
    NoBundle(PathBuf),
    #[error("{0}: no config.json in the bundle (create one with `berth spec`)")]
    NoConfig(PathBuf),
    #[error("read {path}: {err}")]
    Read { path: PathBuf, err: std::io::Error },
    #[error("{path}: malformed config.json: {err}")]
    Parse {
        path: PathBuf,
        err: serde_json::Error,
    },
}

/// Loads `<bundle>/config.json`.
pub fn load(bundle: &Path) -> Result<Spec, LoadError> {
    if !bundle.is_dir() {
        return Err(LoadError::NoBundle(bundle.to_path_buf()));
    }
    load_file(&bundle.join("config.json"))
}

/// Loads a config.json from `path`.
pub fn load_file(path: &Path) -> Result<Spec, LoadError> {
    let path = path.to_path_buf();
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LoadError::NoConfig(path));
        }
        Err(err) => return Err(LoadError::Read { path, err }),
    };
    serde_json::from_slice(&data).map_err(|err| LoadError::Parse { path, err })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("berth-load-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn missing_bundle_and_config_are_named() {
        let e = load(Path::new("/nonexistent/bundle")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/bundle"), "{e}");
        let d = tmpdir("noconf");
        let e = load(&d).unwrap_err();
        assert!(matches!(e, LoadError::NoConfig(_)), "{e}");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn malformed_json_reports_line() {
        let d = tmpdir("bad");
        std::fs::write(d.join("config.json"), "{\n \"ociVersion\": 1,\n}").unwrap();
        let e = load(&d).unwrap_err().to_string();
        assert!(
            e.contains("malformed config.json") && e.contains("line"),
            "{e}"
        );
        std::fs::remove_dir_all(d).unwrap();
    }
}
