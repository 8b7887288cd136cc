use berth::cli::{Cli, LogFormat};
use clap::Parser;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if e.use_stderr() && is_engine_verb() => {
            // Docker's convention for the engine: a bad flag is berth's
            // failure, 125, on one line.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("berth: {}", first.trim_start_matches("error: "));
            std::process::exit(125);
        }
        Err(e) => e.exit(),
    };
    let format = match cli.global.log_format {
        LogFormat::Text => berth::logging::Format::Text,
        LogFormat::Json => berth::logging::Format::Json,
    };
    if let Err(e) = berth::logging::init(cli.global.log.as_deref(), format, cli.global.debug) {
        eprintln!("berth: open log file: {e}");
        std::process::exit(1);
    }
    match berth::cli::dispatch(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let msg = e.to_string();
            berth::logging::error(&msg);
            eprintln!("berth: {msg}");
            std::process::exit(1);
        }
    }
}

/// The first non-flag word is `container`.
fn is_engine_verb() -> bool {
    std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-') && !a.contains('/'))
        .is_some_and(|a| a == "container")
}
