//! The daemon: the firmware's board loop on tokio, with the control socket, persistence and
//! metrics around it.
//!
//! [`run`] binds the control socket (refusing to start beside a live daemon), opens the
//! backend, adopts every line's present level, applies the restore policy only when the head
//! has just booted, and then loops: it samples the supply every sample period, feeds heartbeat
//! edges, wakes at the controller's next deadline, serves requests, and applies every action
//! through the firmware's [`Board`](picluster_firmware::board::Board). Every event is logged,
//! journalled and broadcast to subscribers. It returns on [`Control::Shutdown`] without
//! changing any line.

mod actions;
mod core;
mod report;
mod startup;
#[cfg(test)]
mod tests;

use std::io;
use std::path::{Path, PathBuf};

use picluster_firmware::config::ClusterConfig;
use picluster_firmware::reference::MAX_NODES;
use picluster_firmware::units::Duration;
use tokio::sync::{broadcast, mpsc};
use tracing::{info, warn};

use crate::backend::{Backend, BackendError};
use crate::config::DaemonSettings;
use crate::metrics;
use crate::socket::{self, ControlSocket, ServerContext, SocketError};

use self::core::Core;

pub use self::report::cause_name;

/// The monitor is read every 10 ms, or at its conversion time if that is longer. Estimate: one
/// read of three registers takes about 1.5 ms on a 100 kHz I2C bus, so reading every 532 us
/// conversion of an INA219 would keep the bus busy; 10 ms still gives five samples within the
/// reference 50 ms trip delay (one noisy sample cannot trip) and a hundred within the 1 s
/// switch verification window.
pub const DEFAULT_SAMPLE_INTERVAL: Duration = Duration::from_millis(10);

/// Subscribers may fall this many events behind before they miss some; far more than a
/// cluster raises between two reads of a live client.
const SUBSCRIBER_BACKLOG: usize = 1024;

/// Requests waiting for the control loop; connections wait when it is full.
const REQUEST_BACKLOG: usize = 64;

/// Everything the daemon runs with.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The cluster as the controller uses it.
    pub cluster: ClusterConfig<MAX_NODES>,
    /// Files, socket, metrics and start-up policy.
    pub daemon: DaemonSettings,
    /// Shortest time between two supply samples, on the daemon's clock; the monitor's
    /// conversion time is used instead when it is longer.
    pub sample_interval: Duration,
    /// How many times faster than real time the clock runs: 1 on hardware.
    pub speed: f64,
    /// Whether to serve the Prometheus endpoint at `daemon.metrics_listen`.
    pub metrics: bool,
}

impl Settings {
    /// Returns the folder of the boot marker: the control socket's folder, which lives under
    /// `/run` (a tmpfs cleared at boot) in every shipped configuration.
    pub fn run_dir(&self) -> PathBuf {
        crate::store::parent_of(&self.daemon.socket_path).to_path_buf()
    }
}

/// A request from outside the control socket: a signal, or a test.
#[derive(Debug)]
pub enum Control {
    /// Stop without changing any line (SIGTERM, SIGINT).
    Shutdown,
    /// Apply a newly read configuration (SIGHUP), or keep the running one and log why the new
    /// one was rejected.
    Reload(Result<Box<Settings>, String>),
}

/// The reason the daemon could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The control socket could not be set up, or another daemon owns it.
    #[error(transparent)]
    Socket(#[from] SocketError),
    /// The state folder or one of its files could not be used.
    #[error("state folder {path}: {source}")]
    Store {
        /// The file or folder.
        path: PathBuf,
        /// The failure.
        source: io::Error,
    },
    /// The backend could not open the hardware.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The configuration failed the controller's checks.
    #[error("the configuration is invalid: {0}")]
    Config(String),
    /// The metrics endpoint could not listen.
    #[error("metrics endpoint {address}: {source}; pick another `metrics_listen` in [daemon]")]
    Metrics {
        /// The configured address.
        address: std::net::SocketAddr,
        /// The failure.
        source: io::Error,
    },
}

/// Runs the daemon until `control` sends [`Control::Shutdown`] or closes.
///
/// The socket is bound before the backend is opened, so a second daemon is rejected before it
/// claims a single line.
pub async fn run<B: Backend>(
    settings: Settings,
    backend: B,
    control: mpsc::Receiver<Control>,
) -> Result<(), DaemonError> {
    run_and_report_ready(settings, backend, control, |_| {}).await
}

/// Runs the daemon like [`run`] and calls `ready` with the socket's path once the socket
/// accepts requests; `picluster sim` prints its banner there.
pub async fn run_and_report_ready<B: Backend>(
    settings: Settings,
    backend: B,
    control: mpsc::Receiver<Control>,
    ready: impl FnOnce(&Path),
) -> Result<(), DaemonError> {
    // A machine without the backend's hardware fails here, before any folder is created.
    backend.preflight()?;
    let socket = ControlSocket::bind(
        &settings.daemon.socket_path,
        settings.daemon.socket_group.as_deref(),
    )?;
    let path = socket.path.clone();
    let result = serve_and_run(settings, backend, control, socket, ready).await;
    if let Err(error) = std::fs::remove_file(&path) {
        warn!(socket = %path.display(), %error, "could not remove the control socket file");
    }
    result
}

async fn serve_and_run<B: Backend>(
    settings: Settings,
    backend: B,
    control: mpsc::Receiver<Control>,
    socket: ControlSocket,
    ready: impl FnOnce(&Path),
) -> Result<(), DaemonError> {
    let (requests, request_queue) = mpsc::channel(REQUEST_BACKLOG);
    let (events, _) = broadcast::channel(SUBSCRIBER_BACKLOG);
    let core = Core::start(settings.clone(), backend, events.clone())?;

    let metrics_task = if settings.metrics {
        let address = settings.daemon.metrics_listen;
        let listener = metrics::bind(address)
            .await
            .map_err(|source| DaemonError::Metrics { address, source })?;
        if let Ok(bound) = listener.local_addr() {
            info!(address = %bound, "metrics endpoint listening");
        }
        Some(tokio::spawn(metrics::serve(listener, requests.clone())))
    } else {
        None
    };

    let context = ServerContext {
        requests,
        events,
        journal_dir: settings.daemon.state_dir.clone(),
    };
    let server = tokio::spawn(socket::serve(socket.listener, context));
    info!(socket = %socket.path.display(), "control socket listening");
    ready(&socket.path);

    let result = core.run(request_queue, control).await;
    server.abort();
    if let Some(task) = metrics_task {
        task.abort();
    }
    result
}
