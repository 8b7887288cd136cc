//! Import progress on stderr: one rewritten line per blob while it copies,
//! one line per finished step. Silent when stderr is not a terminal, so
//! scripts and logs see only the result.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct Progress {
    on: bool,
    last: Option<Instant>,
    dirty: bool,
}

impl Progress {
    pub fn new(on: bool) -> Progress {
        Progress {
            on,
            last: None,
            dirty: false,
        }
    }

    /// On exactly when stderr is a terminal.
    pub fn for_stderr() -> Progress {
        Progress::new(std::io::stderr().is_terminal())
    }

    /// Bytes copied so far of one blob; redrawn at most ten times a second.
    pub fn bytes(&mut self, label: &str, done: u64, total: Option<u64>) {
        if !self.on {
            return;
        }
        let now = Instant::now();
        let finished = total == Some(done);
        if !finished
            && self
                .last
                .is_some_and(|t| now - t < Duration::from_millis(100))
        {
            return;
        }
        self.last = Some(now);
        let total = total
            .map(|t| format!(" / {}", human(t)))
            .unwrap_or_default();
        self.draw(&format!("{label}: {}{total}", human(done)));
    }

    /// A finished step, on a line of its own.
    pub fn step(&mut self, msg: &str) {
        if self.on {
            self.draw(msg);
            let _ = writeln!(std::io::stderr());
            self.dirty = false;
        }
    }

    fn draw(&mut self, text: &str) {
        // \r + "erase line": the same line is rewritten as bytes arrive.
        let _ = write!(std::io::stderr(), "\r\x1b[K{text}");
        let _ = std::io::stderr().flush();
        self.dirty = true;
    }

    /// Ends a line left half-drawn (before an error is printed).
    pub fn finish(&mut self) {
        if self.on && self.dirty {
            let _ = writeln!(std::io::stderr());
            self.dirty = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Sizes as `docker images` prints them (decimal units).
pub fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < UNITS.len() {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{n}B")
    } else if v < 10.0 {
        format!("{v:.2}{}", UNITS[i])
    } else {
        format!("{v:.1}{}", UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_sizes() {
        assert_eq!(super::human(0), "0B");
        assert_eq!(super::human(999), "999B");
        assert_eq!(super::human(1_234), "1.23kB");
        assert_eq!(super::human(4_400_000), "4.40MB");
        assert_eq!(super::human(123_400_000), "123.4MB");
    }
}
