//! `--log FILE` / `--log-format text|json` / `--debug`: logrus-shaped lines,
//! because containerd's runc shim reads the last `"level":"error"` line of
//! log.json as the error of a failed call.

use std::io::Write;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

struct Logger {
    file: Option<std::fs::File>,
    format: Format,
    debug: bool,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Opens the log file (append). Called once, by `main`.
pub fn init(path: Option<&std::path::Path>, format: Format, debug: bool) -> std::io::Result<()> {
    let file = match path {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)?,
        ),
        None => None,
    };
    let _ = LOGGER.set(Logger {
        file,
        format,
        debug,
    });
    Ok(())
}

/// One log line in the configured format.
pub fn line(format: Format, level: &str, msg: &str, time: &str) -> String {
    match format {
        Format::Json => {
            let v = serde_json::json!({"level": level, "msg": msg, "time": time});
            format!("{v}\n")
        }
        Format::Text => format!("time={time:?} level={level} msg={msg:?}\n"),
    }
}

fn log(level: &str, msg: &str) {
    let Some(l) = LOGGER.get() else { return };
    if level == "debug" && !l.debug {
        return;
    }
    let text = line(l.format, level, msg, &crate::timefmt::now_rfc3339());
    match &l.file {
        Some(f) => {
            let _ = (&*f).write_all(text.as_bytes());
        }
        // Without --log, only debug lines go to stderr; errors are printed
        // by the CLI edge itself.
        None if level == "debug" || level == "warning" => eprint!("{text}"),
        None => {}
    }
}

pub fn error(msg: &str) {
    log("error", msg)
}

pub fn warn(msg: &str) {
    log("warning", msg)
}

pub fn debug(msg: &str) {
    log("debug", msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_are_logrus_shaped() {
        let l = line(
            Format::Json,
            "error",
            "container \"x\" does not exist",
            "2026-01-01T00:00:00Z",
        );
        let v: serde_json::Value = serde_json::from_str(l.trim_end()).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "container \"x\" does not exist");
        assert_eq!(v["time"], "2026-01-01T00:00:00Z");
    }

    #[test]
    fn text_lines_quote_the_message() {
        let l = line(Format::Text, "warning", "a b", "T");
        assert_eq!(l, "time=\"T\" level=warning msg=\"a b\"\n");
    }
}
