//! A container's log: stdout and stderr lines appended to one file, each
//! line tagged with its stream and a timestamp, rotated at a size limit
//! (the current file becomes `.1`, the previous `.1` is dropped).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct LogFile {
    path: PathBuf,
    file: File,
    size: u64,
    max: u64,
    /// Partial lines per stream, waiting for their newline.
    pending: [Vec<u8>; 2],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout = 0,
    Stderr = 1,
}

impl Stream {
    fn tag(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One record: `<rfc3339> <stream> <line>`.
pub fn record(time: &str, stream: Stream, line: &[u8]) -> Vec<u8> {
    let mut r = Vec::with_capacity(line.len() + 48);
    r.extend_from_slice(time.as_bytes());
    r.push(b' ');
    r.extend_from_slice(stream.tag().as_bytes());
    r.push(b' ');
    r.extend_from_slice(line);
    r.push(b'\n');
    r
}

/// Splits a record back into (stream, line); `None` for a malformed one.
pub fn parse(record: &str) -> Option<(Stream, &str)> {
    let (_, rest) = record.split_once(' ')?;
    let (stream, line) = rest.split_once(' ').unwrap_or((rest, ""));
    let s = match stream {
        "stdout" => Stream::Stdout,
        "stderr" => Stream::Stderr,
        _ => return None,
    };
    Some((s, line))
}

impl LogFile {
    pub fn open(path: &Path, max: u64) -> std::io::Result<LogFile> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
            size,
            max: max.max(1024),
            pending: [Vec::new(), Vec::new()],
        })
    }

    /// Adds output of `stream`; complete lines are written at once.
    pub fn write(&mut self, stream: Stream, data: &[u8]) -> std::io::Result<()> {
        let buf = &mut self.pending[stream as usize];
        buf.extend_from_slice(data);
        let mut lines = Vec::new();
        while let Some(i) = buf.iter().position(|b| *b == b'\n') {
            lines.push(buf.drain(..=i).collect::<Vec<u8>>());
        }
        // A line longer than the limit is cut rather than held forever.
        if buf.len() as u64 > self.max {
            lines.push(std::mem::take(buf));
        }
        for mut l in lines {
            if l.last() == Some(&b'\n') {
                l.pop();
            }
            self.append(stream, &l)?;
        }
        Ok(())
    }

    /// Writes whatever partial lines are left (at the end of a run).
    pub fn flush(&mut self) -> std::io::Result<()> {
        for s in [Stream::Stdout, Stream::Stderr] {
            let rest = std::mem::take(&mut self.pending[s as usize]);
            if !rest.is_empty() {
                self.append(s, &rest)?;
            }
        }
        Ok(())
    }

    fn append(&mut self, stream: Stream, line: &[u8]) -> std::io::Result<()> {
        let rec = record(&crate::timefmt::now_rfc3339(), stream, line);
        if self.size + rec.len() as u64 > self.max && self.size > 0 {
            self.rotate()?;
        }
        self.file.write_all(&rec)?;
        self.size += rec.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let old = self.path.with_extension("log.1");
        std::fs::rename(&self.path, &old)?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_tagged_split_and_rotated() {
        let dir = std::env::temp_dir().join(format!("berth-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c.log");
        let mut log = LogFile::open(&p, 1024).unwrap();
        log.write(Stream::Stdout, b"hel").unwrap();
        log.write(Stream::Stderr, b"oops\n").unwrap();
        log.write(Stream::Stdout, b"lo\nwor").unwrap();
        log.flush().unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<_> = text.lines().filter_map(parse).collect();
        assert_eq!(
            lines,
            [
                (Stream::Stderr, "oops"),
                (Stream::Stdout, "hello"),
                (Stream::Stdout, "wor")
            ]
        );
        for _ in 0..40 {
            log.write(
                Stream::Stdout,
                b"0123456789012345678901234567890123456789\n",
            )
            .unwrap();
        }
        assert!(std::fs::metadata(&p).unwrap().len() <= 1024);
        assert!(p.with_extension("log.1").exists());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
