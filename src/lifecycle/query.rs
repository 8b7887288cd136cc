//! `state` and `list`: read-only views of the store.

use super::Result;
use crate::state::store::{status_of, Store};
use crate::state::{Container, Status};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// runc's `state` / `list --format json` object.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StateView {
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

fn view(c: &Container, status: Status) -> StateView {
    StateView {
        oci_version: crate::state::OCI_VERSION.into(),
        id: c.id.clone(),
        pid: if status == Status::Stopped { 0 } else { c.pid },
        status,
        bundle: c.bundle.clone(),
        rootfs: c.rootfs.clone(),
        created: c.created.clone(),
        owner: c.owner.clone(),
        annotations: c.annotations.clone(),
    }
}

pub fn state(store: &Store, id: &str) -> Result<StateView> {
    let c = store.peek(id)?;
    let dir = store.root().join(id);
    match c {
        Some(c) => Ok(view(&c, status_of(&dir, Some(&c)))),
        None => Err(crate::state::store::StoreError::NotExist(id.into()).into()),
    }
}

pub fn list(store: &Store) -> Vec<StateView> {
    store
        .ids()
        .iter()
        .filter_map(|id| {
            let c = store.peek(id).ok()??;
            Some(view(&c, status_of(&store.root().join(id), Some(&c))))
        })
        .collect()
}

/// runc's `list` table: tab-aligned columns.
pub fn table(rows: &[StateView]) -> String {
    let head = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.id.clone(),
                r.pid.to_string(),
                r.status.to_string(),
                r.bundle.display().to_string(),
                r.created.clone(),
                r.owner.clone(),
            ]
        })
        .collect();
    let mut width = head.map(str::len);
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let fmt = |row: &[String]| {
        let mut s = String::new();
        for (i, c) in row.iter().enumerate() {
            if i + 1 == row.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}   ", w = width[i]));
            }
        }
        s.push('\n');
        s
    };
    let mut out = fmt(&head.map(String::from));
    for row in &cells {
        out.push_str(&fmt(row));
    }
    out
}
