//! `berth container ...`: the engine's verbs, Docker-shaped.

use super::Global;
use crate::engine::create::{create, RunRequest};
use crate::engine::spec::RunConfig;
use crate::engine::{ops, Engine, EngineError};
use crate::lifecycle::{Error, Result};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Run a command in a new container from an image (name or archive path)
    Run(Box<RunArgs>),
    /// List containers
    #[command(alias = "ps")]
    Ls {
        #[arg(short, long)]
        all: bool,
        #[arg(long, value_parser = ["table", "json"], default_value = "table")]
        format: String,
    },
    /// Show a container's record as JSON
    Inspect { name: String },
    /// Print a container's logs
    Logs {
        #[arg(short, long)]
        follow: bool,
        #[arg(long)]
        tail: Option<usize>,
        name: String,
    },
    /// Stop: the stop signal, then SIGKILL after the timeout
    Stop {
        #[arg(short = 't', long = "time")]
        time: Option<u64>,
        names: Vec<String>,
    },
    /// Start stopped containers again (same writable layer)
    Start {
        /// Every container whose restart policy asks for it (for boot)
        #[arg(long)]
        all_restartable: bool,
        names: Vec<String>,
    },
    /// Stop then start
    Restart {
        #[arg(short = 't', long = "time")]
        time: Option<u64>,
        names: Vec<String>,
    },
    /// Send a signal (default SIGKILL)
    Kill {
        #[arg(short, long, default_value = "SIGKILL")]
        signal: String,
        names: Vec<String>,
    },
    /// Remove containers
    Rm {
        #[arg(short, long)]
        force: bool,
        names: Vec<String>,
    },
    /// Run a command in a running container
    Exec {
        #[arg(short, long)]
        tty: bool,
        #[arg(short, long)]
        interactive: bool,
        #[arg(short, long)]
        env: Vec<String>,
        #[arg(short, long)]
        user: Option<String>,
        #[arg(short, long)]
        workdir: Option<String>,
        name: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<String>,
    },
    /// Print a systemd unit that runs the container in the foreground
    GenerateSystemd { name: String },
    /// Run a container's supervisor in the foreground (systemd units use this)
    #[command(hide = true)]
    Supervise { name: String },
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[arg(long)]
    pub name: Option<String>,
    #[arg(short, long)]
    pub detach: bool,
    #[arg(long)]
    pub rm: bool,
    #[arg(short, long)]
    pub env: Vec<String>,
    #[arg(long)]
    pub env_file: Vec<std::path::PathBuf>,
    /// Inject a host file or dir at start: SRC:DEST[:ro]
    #[arg(long)]
    pub config: Vec<String>,
    /// Bind a host path or a named volume: SRC:DEST[:ro]
    #[arg(short, long)]
    pub volume: Vec<String>,
    #[arg(short, long)]
    pub workdir: Option<String>,
    #[arg(short, long)]
    pub user: Option<String>,
    #[arg(long)]
    pub entrypoint: Option<String>,
    #[arg(long)]
    pub hostname: Option<String>,
    #[arg(long)]
    pub read_only: bool,
    #[arg(short, long)]
    pub memory: Option<String>,
    #[arg(long)]
    pub cpus: Option<f64>,
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    #[arg(long)]
    pub cap_add: Vec<String>,
    #[arg(long)]
    pub cap_drop: Vec<String>,
    /// seccomp=FILE|unconfined
    #[arg(long)]
    pub security_opt: Vec<String>,
    #[arg(short, long)]
    pub label: Vec<String>,
    #[arg(long)]
    pub stop_signal: Option<String>,
    #[arg(long)]
    pub stop_timeout: Option<u64>,
    /// no | on-failure[:N] | always | unless-stopped
    #[arg(long, default_value = "no")]
    pub restart: String,
    #[arg(short, long)]
    pub tty: bool,
    #[arg(short, long)]
    pub interactive: bool,
    pub image: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

fn engine(g: &Global) -> Engine {
    Engine {
        image_root: g.image_root.clone(),
        run_root: g.root.clone(),
    }
}

/// Docker's exit codes: 125 when berth fails, 126 when the command cannot
/// be invoked, 127 when it is not found.
pub fn exit_code_for(msg: &str) -> i32 {
    if msg.contains("executable file not found")
        || msg.contains("No such file or directory") && msg.contains("exec")
    {
        127
    } else if msg.contains("exec")
        && (msg.contains("Permission denied")
            || msg.contains("EACCES")
            || msg.contains("Is a directory"))
    {
        126
    } else {
        125
    }
}

fn fail(e: EngineError) -> Error {
    Error::State(e.to_string())
}

pub fn run(g: &Global, cmd: ContainerCommand) -> Result<i32> {
    let e = engine(g);
    match cmd {
        ContainerCommand::Run(a) => run_container(&e, *a),
        ContainerCommand::Ls { all, format } => super::container_view::ls(&e, all, &format),
        ContainerCommand::Inspect { name } => super::container_view::inspect(&e, &name),
        ContainerCommand::Logs { follow, tail, name } => {
            super::container_view::logs(&e, &name, follow, tail)
        }
        ContainerCommand::Stop { time, names } => {
            each(&names, |n| ops::stop(&e, n, time).map(drop))
        }
        ContainerCommand::Start {
            all_restartable: true,
            ..
        } => {
            for (name, r) in ops::start_restartable(&e) {
                match r {
                    Ok(_) => println!("{name}"),
                    Err(err) => eprintln!("berth: {name}: {err}"),
                }
            }
            Ok(0)
        }
        ContainerCommand::Start { names, .. } => each(&names, |n| ops::start(&e, n).map(drop)),
        ContainerCommand::Restart { time, names } => each(&names, |n| {
            ops::stop(&e, n, time)
                .and_then(|_| ops::start(&e, n))
                .map(drop)
        }),
        ContainerCommand::Kill { signal, names } => {
            let sig = crate::signal::parse(&signal)
                .ok_or_else(|| Error::Usage(format!("unknown signal {signal:?}")))?;
            each(&names, |n| ops::kill(&e, n, sig))
        }
        ContainerCommand::Rm { force, names } => each(&names, |n| ops::rm(&e, n, force)),
        ContainerCommand::Exec {
            tty,
            interactive,
            env,
            user,
            workdir,
            name,
            command,
        } => {
            let _ = interactive;
            match super::container_view::exec(&e, &name, tty, env, user, workdir, command) {
                Ok(code) => Ok(code),
                Err(err) => {
                    let m = err.to_string();
                    eprintln!("berth: {m}");
                    Ok(exit_code_for(&m))
                }
            }
        }
        ContainerCommand::GenerateSystemd { name } => {
            super::container_view::systemd_unit(g, &e, &name)
        }
        ContainerCommand::Supervise { name } => {
            let r = ops::start_foreground(&e, &name).map_err(fail)?;
            Ok(crate::supervisor::monitor::supervise(&e, &r.id, None))
        }
    }
}

/// Applies `f` to every name; prints each name done, fails on the first error.
fn each(names: &[String], f: impl Fn(&str) -> std::result::Result<(), EngineError>) -> Result<i32> {
    if names.is_empty() {
        return Err(Error::Usage("no container name given".into()));
    }
    for n in names {
        f(n).map_err(fail)?;
        println!("{n}");
    }
    Ok(0)
}

fn request(a: RunArgs) -> Result<(RunRequest, bool)> {
    let policy = a.restart.parse().map_err(Error::Usage)?;
    let mut seccomp = None;
    for o in &a.security_opt {
        match o.split_once('=') {
            Some(("seccomp", v)) => seccomp = Some(v.to_string()),
            _ => {
                return Err(Error::Usage(format!(
                    "unsupported --security-opt {o:?} (seccomp=FILE|unconfined)"
                )))
            }
        }
    }
    if a.rm && policy != crate::supervisor::policy::Policy::No {
        return Err(Error::Usage(
            "--rm cannot be combined with a restart policy".into(),
        ));
    }
    let cfg = RunConfig {
        image: a.image,
        args: a.command,
        name: a.name,
        env: a.env,
        env_files: a.env_file,
        configs: a.config,
        volumes: a.volume,
        workdir: a.workdir,
        user: a.user,
        entrypoint: a.entrypoint,
        hostname: a.hostname,
        read_only: a.read_only,
        memory: a.memory,
        cpus: a.cpus,
        pids_limit: a.pids_limit,
        cap_add: a.cap_add,
        cap_drop: a.cap_drop,
        seccomp,
        labels: a.label,
        tty: a.tty,
        interactive: a.interactive,
    };
    let req = RunRequest {
        cfg,
        policy,
        stop_signal: a.stop_signal,
        stop_timeout: a.stop_timeout,
        auto_remove: a.rm,
    };
    Ok((req, a.detach))
}

fn run_container(e: &Engine, a: RunArgs) -> Result<i32> {
    let (req, detach) = match request(a) {
        Ok(x) => x,
        Err(err) => {
            eprintln!("berth: {err}");
            return Ok(125);
        }
    };
    let code_err = |err: EngineError| {
        let m = err.to_string();
        eprintln!("berth: {m}");
        exit_code_for(&m)
    };
    let rec = match create(e, &req) {
        Ok(r) => r,
        Err(err) => return Ok(code_err(err)),
    };
    if detach {
        return match crate::supervisor::monitor::spawn(e, &rec.id) {
            Ok(()) => {
                println!("{}", rec.id);
                Ok(0)
            }
            Err(err) => {
                let _ = ops::rm(e, &rec.id, true);
                Ok(code_err(err))
            }
        };
    }
    match ops::run_foreground(e, &rec, req.cfg.interactive) {
        Ok(code) => Ok(code),
        Err(err) => Ok(code_err(err)),
    }
}
