//! `container ls`, `inspect`, `logs`, `exec`, `generate-systemd`.

use super::Global;
use crate::engine::record::Record;
use crate::engine::{ops, Engine};
use crate::lifecycle::{Error, Result};
use crate::supervisor::logfile::{parse, Stream};
use std::io::Write;

fn find(e: &Engine, name: &str) -> Result<Record> {
    e.find(name).map_err(|err| Error::State(err.to_string()))
}

fn command_of(e: &Engine, r: &Record) -> String {
    let cfg = std::fs::read(e.dir(&r.id).join("bundle/config.json")).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_slice(&cfg).unwrap_or_default();
    let args: Vec<String> = v["process"]["args"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    args.join(" ")
}

pub fn ls(e: &Engine, all: bool, format: &str) -> Result<i32> {
    let rows: Vec<(Record, String)> = e
        .list()
        .into_iter()
        .map(|r| {
            let s = ops::status_line(e, &r);
            (r, s)
        })
        .filter(|(r, s)| all || s.starts_with("Up") || ops::is_running(e, r))
        .collect();
    if format == "json" {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|(r, s)| {
                serde_json::json!({"id": r.id, "name": r.name, "image": r.image, "command": command_of(e, r),
                    "created": r.created, "status": s, "restarts": r.state.restarts,
                    "exitCode": r.state.exit_code, "policy": r.policy})
            })
            .collect();
        println!("{}", serde_json::Value::from(v));
        return Ok(0);
    }
    let mut out = format!(
        "{:<14}{:<32}{:<24}{:<38}{:<10}{}\n",
        "CONTAINER ID", "IMAGE", "COMMAND", "STATUS", "RESTARTS", "NAMES"
    );
    for (r, s) in &rows {
        let mut cmd = command_of(e, r);
        cmd.truncate(20);
        out.push_str(&format!(
            "{:<14}{:<32}{:<24}{:<38}{:<10}{}\n",
            r.id,
            r.image,
            format!("\"{cmd}\""),
            s,
            r.state.restarts,
            r.name
        ));
    }
    print!("{out}");
    Ok(0)
}

pub fn inspect(e: &Engine, name: &str) -> Result<i32> {
    let r = find(e, name)?;
    let mut v = serde_json::to_value(&r).map_err(|err| Error::State(err.to_string()))?;
    v["status"] = serde_json::json!(ops::status_line(e, &r));
    v["bundle"] = serde_json::json!(e.dir(&r.id).join("bundle"));
    v["logPath"] = serde_json::json!(e.dir(&r.id).join("container.log"));
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    Ok(0)
}

fn emit(lines: &[String]) {
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    for l in lines {
        match parse(l) {
            Some((Stream::Stdout, text)) => {
                let _ = writeln!(out, "{text}");
            }
            Some((Stream::Stderr, text)) => {
                let _ = writeln!(err, "{text}");
            }
            None => {}
        }
    }
    let _ = out.flush();
}

pub fn logs(e: &Engine, name: &str, follow: bool, tail: Option<usize>) -> Result<i32> {
    let r = find(e, name)?;
    let path = e.dir(&r.id).join("container.log");
    let old = std::fs::read_to_string(path.with_extension("log.1")).unwrap_or_default();
    let cur = std::fs::read_to_string(&path).unwrap_or_default();
    let mut lines: Vec<String> = old.lines().chain(cur.lines()).map(String::from).collect();
    if let Some(n) = tail {
        lines = lines.split_off(lines.len().saturating_sub(n));
    }
    emit(&lines);
    if !follow {
        return Ok(0);
    }
    let mut seen = cur.len();
    loop {
        let running = ops::is_running(e, &e.load(&r.id).unwrap_or(r.clone()));
        let now = std::fs::read_to_string(&path).unwrap_or_default();
        if now.len() < seen {
            seen = 0; // rotated
        }
        if now.len() > seen {
            let fresh: Vec<String> = now[seen..].lines().map(String::from).collect();
            emit(&fresh);
            seen = now.len();
        }
        if !running {
            return Ok(0);
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

pub fn exec(
    e: &Engine,
    name: &str,
    tty: bool,
    env: Vec<String>,
    user: Option<String>,
    cwd: Option<String>,
    command: Vec<String>,
) -> Result<i32> {
    let r = find(e, name)?;
    let req = crate::lifecycle::exec::ExecRequest {
        opts: crate::spec::exec_plan::ExecOpts {
            args: command,
            tty,
            env,
            user,
            cwd,
            ..Default::default()
        },
        detach: false,
        pid_file: None,
        console_socket: None,
        ignore_paused: false,
    };
    crate::lifecycle::exec::exec(&e.runtime(), &r.id, &req)
}

/// A unit whose service is the container's supervisor in the foreground.
pub fn systemd_unit(g: &Global, e: &Engine, name: &str) -> Result<i32> {
    use crate::supervisor::policy::Policy;
    let r = find(e, name)?;
    let exe = std::env::current_exe().map_err(|err| Error::io("current exe", err))?;
    let base = format!(
        "{} --root {} --image-root {}",
        exe.display(),
        g.root.display(),
        g.image_root.display()
    );
    let restart = match r.policy {
        Policy::No => "no",
        Policy::OnFailure { .. } => "on-failure",
        Policy::Always | Policy::UnlessStopped => "always",
    };
    print!(
        "# berth container {name}, generated by `berth container generate-systemd`\n\
         [Unit]\nDescription=berth container {name}\nAfter=local-fs.target\n\n\
         [Service]\nType=simple\n\
         ExecStart={base} container supervise {id}\n\
         ExecStop={base} container stop -t {t} {id}\n\
         Restart={restart}\nTimeoutStopSec={stop}\nKillMode=mixed\n\n\
         [Install]\nWantedBy=multi-user.target\n",
        id = r.id,
        t = r.stop_timeout,
        stop = r.stop_timeout + 10,
    );
    Ok(0)
}
