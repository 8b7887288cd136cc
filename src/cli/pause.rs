//! `pause`, `resume`, `ps`.

use super::Global;
use crate::lifecycle::{pause, Error, Result};

#[derive(Debug, clap::Args)]
pub struct IdArgs {
    pub id: String,
}

#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// Output format
    #[arg(short, long, value_parser = ["table", "json"], default_value = "table")]
    pub format: String,
    pub id: String,
    /// Options passed to ps(1) for the table format (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

pub fn run_pause(g: &Global, a: IdArgs) -> Result<i32> {
    pause::pause(&g.store(), &a.id)?;
    Ok(0)
}

pub fn run_resume(g: &Global, a: IdArgs) -> Result<i32> {
    pause::resume(&g.store(), &a.id)?;
    Ok(0)
}

/// `ps --format json` prints the pids; the table runs ps(1) and keeps the
/// header and the container's lines, as runc does.
pub fn run_ps(g: &Global, a: PsArgs) -> Result<i32> {
    let pids = pause::pids(&g.store(), &a.id)?;
    if a.format == "json" {
        println!("{}", serde_json::to_string(&pids).expect("pids serialise"));
        return Ok(0);
    }
    let args = if a.ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        a.ps_args
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| Error::io("run ps", e))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| Error::Usage("ps output has no PID column".into()))?;
    println!("{header}");
    for l in lines {
        if l.split_whitespace()
            .nth(col)
            .and_then(|p| p.parse().ok())
            .is_some_and(|p: i32| pids.contains(&p))
        {
            println!("{l}");
        }
    }
    Ok(0)
}
