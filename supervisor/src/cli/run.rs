//! `check-config`, `daemon`, `sim` and `heartbeat`: the commands that do not talk to a running
//! daemon.

use std::path::{Path, PathBuf};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tracing::{error, info};

use super::{HeartbeatArgs, RestoreArg, SimArgs, exit};
use crate::agent::{self, AgentOptions};
use crate::backend::Backend;
use crate::backend::linux::{LinuxBackend, LinuxOptions};
use crate::backend::rppal::{RppalBackend, RppalOptions};
use crate::backend::sim::{SimBackend, SimOptions};
use picluster_hal_mock::Scenario;

use crate::config::{self, Backend as BackendKind, Config, RestorePolicy};
use crate::daemon::{self, Control, DEFAULT_SAMPLE_INTERVAL, Settings};

/// Checks a configuration file and prints the result.
pub fn check_config(path: &Path) -> u8 {
    match config::load(path) {
        Ok(config) => {
            let workers = config.cluster.nodes.len().saturating_sub(1);
            let head = config
                .cluster
                .nodes
                .iter()
                .find(|node| node.role == picluster_firmware::config::Role::Head)
                .map_or_else(|| "none".to_string(), |node| node.name.to_string());
            outln!(
                "{}: valid; {} nodes ({workers} switched, head {head}), supply budget {} mA",
                path.display(),
                config.cluster.nodes.len(),
                config.cluster.supply.budget().0
            );
            exit::OK
        }
        Err(problems) => {
            eprintln!("{problems}");
            exit::FAILED
        }
    }
}

/// Builds the daemon's settings from a checked configuration.
fn settings_of(config: Config, speed: f64, metrics: bool) -> Settings {
    Settings {
        cluster: config.cluster,
        daemon: config.daemon,
        sample_interval: DEFAULT_SAMPLE_INTERVAL,
        speed,
        metrics,
    }
}

/// Runs the daemon with the backend the configuration names.
pub async fn daemon(path: &Path) -> u8 {
    let config = match config::load(path) {
        Ok(config) => config,
        Err(problems) => {
            eprintln!("{problems}");
            return exit::FAILED;
        }
    };
    // Real hardware runs in real time; only the simulated cluster has a speed.
    let speed = match config.daemon.backend {
        BackendKind::Sim => config.daemon.sim.speed,
        BackendKind::Linux | BackendKind::Rppal => 1.0,
    };
    let reload_path = path.to_path_buf();
    let reload = move || load_settings(&reload_path, speed);

    match config.daemon.backend {
        BackendKind::Sim if config.daemon.sim.scenario.is_some() => {
            eprintln!(
                "picluster: {}: a scenario is played by `picluster sim --scenario FILE`, not by \
                 `picluster daemon`; remove `scenario` from [daemon.sim]",
                path.display()
            );
            exit::FAILED
        }
        BackendKind::Sim => {
            let options =
                SimOptions::for_cluster(&config.cluster, &config.monitor, &config.daemon.state_dir);
            let Some(backend) = sim_backend(options) else {
                return exit::FAILED;
            };
            run_daemon(settings_of(config, speed, true), backend, reload, |_| {}).await
        }
        BackendKind::Linux => {
            let backend = LinuxBackend::new(LinuxOptions {
                gpio_chip: config.daemon.linux.gpio_chip.clone(),
                i2c_mode: config.daemon.linux.i2c_mode,
                monitor: config.monitor,
            });
            run_daemon(settings_of(config, speed, true), backend, reload, |_| {}).await
        }
        BackendKind::Rppal => {
            let backend = RppalBackend::new(RppalOptions {
                monitor: config.monitor,
            });
            run_daemon(settings_of(config, speed, true), backend, reload, |_| {}).await
        }
    }
}

/// Reads the configuration again for SIGHUP, keeping the speed of the running daemon.
fn load_settings(path: &Path, speed: f64) -> Result<Box<Settings>, String> {
    config::load(path)
        .map(|config| Box::new(settings_of(config, speed, true)))
        .map_err(|problems| problems.to_string())
}

/// Runs the daemon on the simulated cluster in its own folder.
pub async fn sim(args: SimArgs) -> u8 {
    let folder = match sim_folder(args.dir.as_deref()) {
        Ok(folder) => folder,
        Err(message) => {
            eprintln!("picluster: {message}");
            return exit::FAILED;
        }
    };
    let scenario = match &args.scenario {
        Some(path) => match Scenario::load(path) {
            Ok(scenario) => Some(scenario),
            Err(problems) => {
                eprintln!("picluster: {problems}");
                return exit::FAILED;
            }
        },
        None => None,
    };
    let loaded = match (&args.config, &scenario) {
        (Some(path), _) => config::load(path).map_err(|problems| problems.to_string()),
        (None, Some(scenario)) => {
            let mut config = crate::sim::reference_config();
            config.cluster = scenario.cluster.config.clone();
            Ok(config)
        }
        (None, None) => Ok(crate::sim::reference_config()),
    };
    let mut config = match loaded {
        Ok(config) => config,
        Err(problems) => {
            eprintln!("{problems}");
            return exit::FAILED;
        }
    };
    crate::sim::place_in(&mut config, &folder);
    config.daemon.restore_policy = match args.restore_policy {
        RestoreArg::AlwaysOn => RestorePolicy::AlwaysOn,
        RestoreArg::Previous => RestorePolicy::Previous,
        RestoreArg::AlwaysOff => RestorePolicy::AlwaysOff,
    };
    config.daemon.metrics_listen = args.metrics_listen;
    config.daemon.sim.speed = args.speed;
    config.daemon.sim.scenario = args.scenario.clone();

    if let Some(message) = running_sim(&folder, &config.daemon.socket_path).await {
        eprintln!("picluster: {message}");
        return exit::FAILED;
    }
    let options = match &scenario {
        Some(scenario) => SimOptions::for_scenario(scenario, &folder),
        None => SimOptions::for_cluster(&config.cluster, &config.monitor, &folder),
    };
    let reload_config = args.config.clone();
    let reload_folder = folder.clone();
    let speed = args.speed;
    let metrics = !args.no_metrics;
    let policy = config.daemon.restore_policy;
    let listen = args.metrics_listen;
    let reload = move || {
        let Some(path) = &reload_config else {
            return Err("the simulated reference cluster has no file to reload".to_string());
        };
        let mut config = config::load(path).map_err(|problems| problems.to_string())?;
        crate::sim::place_in(&mut config, &reload_folder);
        config.daemon.restore_policy = policy;
        config.daemon.metrics_listen = listen;
        Ok(Box::new(settings_of(config, speed, metrics)))
    };
    let Some(backend) = sim_backend(options) else {
        return exit::FAILED;
    };
    let banner = banner(&folder, &config, speed);
    let settings = settings_of(config, speed, metrics);
    let ready = move |_: &Path| {
        use std::io::Write as _;
        // A closed stdout must not stop the sim, so a failed write is ignored here.
        let _ = std::io::stdout().lock().write_all(banner.as_bytes());
    };
    run_daemon(settings, backend, reload, ready).await
}

/// Describes the sim that already accepts connections on `socket` in `folder`, or returns
/// `None` when nothing listens there. The process id comes from the socket's peer credentials.
async fn running_sim(folder: &Path, socket: &Path) -> Option<String> {
    let stream = tokio::net::UnixStream::connect(socket).await.ok()?;
    let pid = stream.peer_cred().ok().and_then(|peer| peer.pid());
    let (owner, stop) = match pid {
        Some(pid) => (format!(" (pid {pid})"), format!("stop it (kill {pid})")),
        None => (String::new(), "stop it (Ctrl-C in its terminal)".to_owned()),
    };
    Some(format!(
        "another picluster sim{owner} is already running in {}, on {}; {stop} or give this \
         one another --dir",
        folder.display(),
        socket.display()
    ))
}

/// Returns the sim's folder: the one given (created if missing) or a new temporary one, which
/// is kept after exit for its traces.
fn sim_folder(dir: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)
            .map_err(|error| format!("cannot create the sim folder {}: {error}", dir.display()))?;
        return Ok(dir.to_path_buf());
    }
    tempfile::Builder::new()
        .prefix("picluster-sim-")
        .tempdir()
        .map(|folder| folder.keep())
        .map_err(|error| format!("cannot create a temporary folder for the sim: {error}"))
}

/// Returns the text printed once the sim's socket accepts connections. The commands name the
/// running executable, since `picluster` is often not on PATH (a build in target/).
fn banner(folder: &Path, config: &Config, speed: f64) -> String {
    let socket = config.daemon.socket_path.display();
    let program = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("picluster"));
    let program = program.display();
    format!(
        "picluster sim: the simulated cluster runs at speed {speed}\n\
         \x20 folder:  {}\n\
         \x20 socket:  {socket}\n\
         \x20 try:     export PICLUSTER_SOCKET={socket}\n\
         \x20          {program} status; {program} watch; {program} off 1\n\
         \x20 on exit (Ctrl-C): trace.csv and trace.svg in the folder\n",
        folder.display()
    )
}

/// Builds the simulated world, or prints why it cannot be built (an invalid world file).
fn sim_backend(options: SimOptions) -> Option<SimBackend> {
    SimBackend::new(options)
        .map_err(|failure| eprintln!("picluster: {failure}"))
        .ok()
}

/// Runs the daemon on `backend` until SIGTERM or SIGINT; SIGHUP calls `reload`.
async fn run_daemon<B: Backend>(
    settings: Settings,
    backend: B,
    reload: impl Fn() -> Result<Box<Settings>, String> + Send + 'static,
    ready: impl FnOnce(&Path),
) -> u8 {
    let (control, control_queue) = mpsc::channel(4);
    let signals = match forward_signals(control, reload) {
        Ok(task) => task,
        Err(failure) => {
            eprintln!("picluster: cannot install signal handlers: {failure}");
            return exit::FAILED;
        }
    };
    let result = daemon::run_and_report_ready(settings, backend, control_queue, ready).await;
    signals.abort();
    match result {
        Ok(()) => exit::OK,
        Err(failure) => {
            error!(error = %failure, "the daemon failed");
            eprintln!("picluster: {failure}");
            exit::FAILED
        }
    }
}

/// Turns SIGTERM and SIGINT into a shutdown and SIGHUP into a reload.
fn forward_signals(
    control: mpsc::Sender<Control>,
    reload: impl Fn() -> Result<Box<Settings>, String> + Send + 'static,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut hangup = signal(SignalKind::hangup())?;
    Ok(tokio::spawn(async move {
        loop {
            let message = tokio::select! {
                _ = terminate.recv() => {
                    info!(signal = "SIGTERM", "stopping");
                    Control::Shutdown
                }
                _ = interrupt.recv() => {
                    info!(signal = "SIGINT", "stopping");
                    Control::Shutdown
                }
                _ = hangup.recv() => {
                    info!(signal = "SIGHUP", "reloading the configuration");
                    Control::Reload(reload())
                }
            };
            let stop = matches!(message, Control::Shutdown);
            if control.send(message).await.is_err() || stop {
                return;
            }
        }
    }))
}

/// Runs the heartbeat agent until SIGTERM or SIGINT.
pub async fn heartbeat(args: HeartbeatArgs) -> u8 {
    let options = AgentOptions {
        line: args.line,
        interval: args.interval,
        driver: args.driver,
        gpio_chip: args.gpio_chip,
    };
    match agent::serve(&options).await {
        Ok(()) => exit::OK,
        Err(failure) => {
            error!(error = %failure, "the heartbeat agent failed");
            eprintln!("picluster: {failure}");
            exit::FAILED
        }
    }
}
