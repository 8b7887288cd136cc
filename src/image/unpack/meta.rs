//! An entry's metadata: the ustar/GNU header, overridden by PAX records.

use std::io::Read;

use super::UnpackError;

/// Seconds and nanoseconds since the epoch.
pub(super) type Time = (i64, i64);

/// xattrs overlayfs itself interprets; a layer must not smuggle them in.
const OVERLAY_XATTR_PREFIX: &[u8] = b"trusted.overlay.";
const PAX_XATTR_PREFIX: &[u8] = b"SCHILY.xattr.";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Meta {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub atime: Time,
    pub mtime: Time,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Meta {
    /// Reads the header fields; PAX `uid`, `gid` and `size` the tar crate
    /// already applied, PAX times (with fractions) and xattrs are read here.
    pub fn read<R: Read>(entry: &mut tar::Entry<R>, name: &str) -> Result<Meta, UnpackError> {
        let bad = |field| {
            move |source| UnpackError::Header {
                entry: name.into(),
                field,
                source,
            }
        };
        let h = entry.header();
        let id = |v: u64, field| {
            u32::try_from(v).map_err(|_| UnpackError::Header {
                entry: name.into(),
                field,
                source: std::io::Error::other(format!("{v} does not fit in 32 bits")),
            })
        };
        let old = h.as_old();
        let mtime = (
            blank_or(&old.mtime, h.mtime()).map_err(bad("mtime"))? as i64,
            0,
        );
        // Docker sets atime from the GNU header when present, else mtime.
        let atime = h.as_gnu().and_then(|g| g.atime().ok()).filter(|&t| t != 0);
        let mut meta = Meta {
            mode: blank_or(&old.mode, h.mode().map(u64::from)).map_err(bad("mode"))? as u32,
            uid: id(blank_or(&old.uid, h.uid()).map_err(bad("uid"))?, "uid")?,
            gid: id(blank_or(&old.gid, h.gid()).map_err(bad("gid"))?, "gid")?,
            atime: atime.map_or(mtime, |t| (t as i64, 0)),
            mtime,
            xattrs: Vec::new(),
        };
        if let Some(exts) = entry.pax_extensions().map_err(bad("pax"))? {
            for ext in exts {
                let ext = ext.map_err(bad("pax"))?;
                meta.add_pax(ext.key_bytes(), ext.value_bytes());
            }
        }
        Ok(meta)
    }

    /// Applies one PAX record; unknown keys are ignored, as POSIX says.
    fn add_pax(&mut self, key: &[u8], value: &[u8]) {
        let time = || std::str::from_utf8(value).ok().and_then(parse_pax_time);
        match key {
            b"mtime" => {
                if let Some(t) = time() {
                    self.mtime = t;
                }
            }
            b"atime" => {
                if let Some(t) = time() {
                    self.atime = t;
                }
            }
            _ => {
                if let Some(name) = key.strip_prefix(PAX_XATTR_PREFIX) {
                    if !name.starts_with(OVERLAY_XATTR_PREFIX) && !name.is_empty() {
                        self.xattrs.push((name.to_vec(), value.to_vec()));
                    }
                }
            }
        }
    }
}

/// Go's archive/tar, which wrote most layers and reads them in Docker,
/// takes an all-blank numeric field as 0; the tar crate calls it an error.
fn blank_or(raw: &[u8], parsed: std::io::Result<u64>) -> std::io::Result<u64> {
    if raw.iter().all(|&b| b == 0 || b == b' ') {
        return Ok(0);
    }
    parsed
}

/// Parses a PAX time, `[-]SECONDS[.FRACTION]`, to (seconds, nanoseconds)
/// with nanoseconds in 0..1e9 (so -1.5 is (-2, 500000000)).
fn parse_pax_time(s: &str) -> Option<Time> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let secs: i64 = int.parse().ok()?;
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    let nanos: i64 = digits.parse().ok()?;
    Some(match (neg, nanos) {
        (false, n) => (secs, n),
        (true, 0) => (-secs, 0),
        (true, n) => (-secs - 1, 1_000_000_000 - n),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_numeric_fields_are_zero() {
        let err = || Err(std::io::Error::other("bad"));
        assert_eq!(blank_or(b"\0\0  \0", err()).unwrap(), 0);
        assert!(blank_or(b"12x", err()).is_err());
        assert_eq!(blank_or(b"0000755", Ok(0o755)).unwrap(), 0o755);
    }

    #[test]
    fn parses_pax_times() {
        assert_eq!(parse_pax_time("1700000000"), Some((1_700_000_000, 0)));
        assert_eq!(
            parse_pax_time("1700000000.5"),
            Some((1_700_000_000, 500_000_000))
        );
        assert_eq!(parse_pax_time("1.123456789123"), Some((1, 123_456_789)));
        assert_eq!(parse_pax_time("-1.5"), Some((-2, 500_000_000)));
        assert_eq!(parse_pax_time("-3"), Some((-3, 0)));
        assert_eq!(parse_pax_time(""), None);
        assert_eq!(parse_pax_time("1e9"), None);
        assert_eq!(parse_pax_time(".5"), None);
    }

    #[test]
    fn pax_records_override_times_and_collect_xattrs() {
        let mut m = Meta {
            mtime: (1, 0),
            atime: (1, 0),
            ..Meta::default()
        };
        m.add_pax(b"mtime", b"20.25");
        m.add_pax(b"atime", b"garbage");
        m.add_pax(b"SCHILY.xattr.security.capability", b"\x01\x02");
        m.add_pax(b"SCHILY.xattr.user.k", b"v");
        m.add_pax(b"SCHILY.xattr.trusted.overlay.redirect", b"/etc");
        m.add_pax(b"SCHILY.xattr.", b"nameless");
        m.add_pax(b"comment", b"ignored");
        assert_eq!(m.mtime, (20, 250_000_000));
        assert_eq!(m.atime, (1, 0));
        assert_eq!(
            m.xattrs,
            vec![
                (b"security.capability".to_vec(), b"\x01\x02".to_vec()),
                (b"user.k".to_vec(), b"v".to_vec()),
            ]
        );
    }
}
