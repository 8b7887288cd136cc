//! OCI capability lists -> bitmasks.

use super::plan::{CapPlan, PlanError};
use oci_spec::runtime::{Capabilities, LinuxCapabilities};
use std::str::FromStr;

/// "CAP_SYS_ADMIN" -> its number, as the caps crate knows the names.
pub fn cap_number(name: &str) -> Option<u8> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    caps::Capability::from_str(&full).ok().map(|c| c.index())
}

fn mask(set: &Option<Capabilities>) -> Result<u64, PlanError> {
    let mut m = 0u64;
    for cap in set.iter().flatten() {
        let name = serde_json::to_value(cap)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let n = cap_number(&name)
            .ok_or_else(|| PlanError::Bad(format!("unknown capability {name}")))?;
        m |= 1 << n;
    }
    Ok(m)
}

pub fn plan_caps(c: &LinuxCapabilities) -> Result<CapPlan, PlanError> {
    Ok(CapPlan {
        bounding: mask(c.bounding())?,
        effective: mask(c.effective())?,
        permitted: mask(c.permitted())?,
        inheritable: mask(c.inheritable())?,
        ambient: mask(c.ambient())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_kernel_numbers() {
        assert_eq!(cap_number("CAP_CHOWN"), Some(0));
        assert_eq!(cap_number("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(cap_number("net_raw"), Some(13));
        assert_eq!(cap_number("CAP_BOGUS"), None);
    }

    #[test]
    fn sets_become_masks() {
        let c: LinuxCapabilities = serde_json::from_value(serde_json::json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL"],
            "effective": ["CAP_KILL"]
        }))
        .unwrap();
        let p = plan_caps(&c).unwrap();
        assert_eq!(p.bounding, 1 | 1 << 5);
        assert_eq!(p.effective, 1 << 5);
        assert_eq!(p.ambient, 0);
    }
}
