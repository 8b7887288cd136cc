use berth::cli::{Cli, LogFormat};
use clap::Parser;

fn main() {
    let cli = Cli::parse();
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
