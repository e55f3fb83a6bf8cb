//! The `picluster` daemon on hal-mock's simulated cluster, run in-process on tokio's paused
//! clock: the runtime jumps to the next timer whenever every task waits, so minutes of
//! cluster time take milliseconds and no test waits for real time.

use std::future::Future;
use std::path::{Path, PathBuf};

use picluster::backend::sim::{SimBackend, SimOptions};
use picluster::client::Client;
use picluster::config::{Config, RestorePolicy};
use picluster::daemon::{Control, DEFAULT_SAMPLE_INTERVAL, DaemonError, Settings};
use picluster::protocol::{
    ActionKind, EventDetail, EventRecord, NodeReport, Outcome, Reply, Request, StatusReport,
};
use picluster::store::{JournalFilter, read_journal};
use picluster_firmware::config::LineId;
use picluster_hal_mock::{Scenario, World};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Stack of the thread that runs a test. The daemon's future contains the controller's
/// fixed-size node tables, so an unoptimised build overflows the 2 MiB of a test thread. The
/// binary runs it on its main thread, which has 8 MiB under Linux's usual `ulimit -s`.
const TEST_STACK_BYTES: usize = 8 << 20;

/// Runs `test` on a current-thread runtime whose clock starts paused, on a thread with the
/// stack of a main thread, and passes its panic on.
pub fn run_paused<F, T>(test: F)
where
    F: FnOnce() -> T + Send + 'static,
    T: Future<Output = ()>,
{
    let thread = std::thread::Builder::new()
        .stack_size(TEST_STACK_BYTES)
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .start_paused(true)
                .build()
                .expect("a runtime starts");
            runtime.block_on(test());
        })
        .expect("the test thread starts");
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}

/// Time for the daemon to bind its socket and adopt the lines after it is spawned.
pub const START_UP: std::time::Duration = std::time::Duration::from_secs(1);

/// Longer than the reference cold start: three power-ons 3 s apart, then the slowest board
/// (the Pi 1 Model B) shows its heartbeat about 60 s after power-on.
pub const COLD_START: std::time::Duration = std::time::Duration::from_secs(120);

/// The cluster a test daemon runs: its configuration and its simulated world.
#[derive(Debug)]
pub struct Cluster {
    /// The daemon's configuration, with its socket and state in the test's folder.
    pub config: Config,
    /// The simulated world's setup.
    pub options: SimOptions,
}

impl Cluster {
    /// Builds the reference cluster in `folder`, with `policy` after a head boot.
    pub fn reference(folder: &Path, policy: RestorePolicy) -> Self {
        let mut config = picluster::sim::reference_config();
        picluster::sim::place_in(&mut config, folder);
        config.daemon.restore_policy = policy;
        let options = SimOptions::for_cluster(&config.cluster, &config.monitor, folder);
        Self { config, options }
    }

    /// Builds a hal-mock scenario's cluster in `folder`, as `picluster sim --scenario` does.
    pub fn scenario(folder: &Path, file: &str) -> Self {
        let path = scenario_path(file);
        let scenario = Scenario::load(&path).unwrap_or_else(|error| panic!("{error}"));
        let mut config = picluster::sim::reference_config();
        config.cluster = scenario.cluster.config.clone();
        picluster::sim::place_in(&mut config, folder);
        let options = SimOptions::for_scenario(&scenario, folder);
        Self { config, options }
    }
}

/// Returns the path of a scenario shipped with hal-mock.
fn scenario_path(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../hal-mock/scenarios")
        .join(file)
}

/// A running daemon and a handle on its simulated world, which outlives the daemon.
#[derive(Debug)]
pub struct Daemon {
    /// What the daemon runs with.
    pub settings: Settings,
    /// The simulated world.
    pub world: World,
    control: mpsc::Sender<Control>,
    task: JoinHandle<Result<(), DaemonError>>,
}

impl Daemon {
    /// Starts the daemon, continuing the world saved in the cluster's folder if there is one,
    /// and waits until it has started.
    pub async fn start(cluster: &Cluster) -> Self {
        let config = cluster.config.clone();
        let settings = Settings {
            cluster: config.cluster,
            daemon: config.daemon,
            sample_interval: DEFAULT_SAMPLE_INTERVAL,
            speed: 1.0,
            metrics: false,
        };
        let backend = SimBackend::new(cluster.options.clone()).expect("the sim backend opens");
        let world = backend.world().clone();
        let (control, control_queue) = mpsc::channel(4);
        let task = tokio::spawn(picluster::daemon::run(
            settings.clone(),
            backend,
            control_queue,
        ));
        tokio::time::sleep(START_UP).await;
        assert!(!task.is_finished(), "the daemon stopped during start-up");
        Self {
            settings,
            world,
            control,
            task,
        }
    }

    /// Sends one request through the control socket and returns the reply.
    pub async fn ask(&self, request: Request) -> Reply {
        let mut client = Client::connect(&self.settings.daemon.socket_path)
            .await
            .expect("the daemon accepts connections");
        client.request(&request).await.expect("the daemon replies")
    }

    /// Asks for an action on `nodes` and asserts that it is accepted for every node.
    pub async fn act(&self, action: ActionKind, nodes: &str) {
        let request = Request::Action {
            action,
            nodes: nodes.to_string(),
        };
        let Reply::Action { results } = self.ask(request).await else {
            panic!("an action gets an action reply");
        };
        for result in results {
            assert!(
                matches!(result.outcome, Outcome::Accepted { .. }),
                "{action:?} {nodes}: {result:?}"
            );
        }
    }

    /// Returns the daemon's status.
    pub async fn status(&self) -> StatusReport {
        match self.ask(Request::Status {}).await {
            Reply::Status(report) => report,
            other => panic!("a status request got {other:?}"),
        }
    }

    /// Returns every event in the journal, oldest first.
    pub fn journal(&self) -> Vec<EventRecord> {
        journal_in(&self.settings.daemon.state_dir)
    }

    /// Applies a newly read configuration, as SIGHUP does.
    pub async fn reload(&self, settings: Settings) {
        let reload = Control::Reload(Ok(Box::new(settings)));
        self.control.send(reload).await.expect("the daemon runs");
    }

    /// Stops the daemon as SIGTERM does and waits until it has returned and dropped its
    /// backend, with every claimed line.
    pub async fn stop(self) -> World {
        self.control
            .send(Control::Shutdown)
            .await
            .expect("the daemon runs");
        let result = self.task.await.expect("the daemon task does not panic");
        assert!(result.is_ok(), "the daemon failed: {result:?}");
        self.world
    }
}

/// Returns every event journalled in `state_dir`, oldest first.
pub fn journal_in(state_dir: &Path) -> Vec<EventRecord> {
    read_journal(state_dir, &JournalFilter::default())
        .expect("the journal is readable")
        .events
}

/// Returns the node called `name` in a status.
pub fn node<'a>(status: &'a StatusReport, name: &str) -> &'a NodeReport {
    status
        .nodes
        .iter()
        .find(|node| node.name == name)
        .unwrap_or_else(|| panic!("{name} is in the status"))
}

/// Returns every output line (switch and RUN) of the cluster, with its node's name.
pub fn output_lines(settings: &Settings) -> Vec<(String, LineId)> {
    let mut lines = Vec::new();
    for node in &settings.cluster.nodes {
        let name = node.name.to_string();
        if let Some(switch) = node.switch {
            lines.push((format!("{name} switch"), switch.line));
        }
        if let Some(reset) = node.reset {
            lines.push((format!("{name} reset"), reset.line));
        }
    }
    lines
}

/// A line's level and the number of level changes since its world was built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineRecord {
    /// The node and the line's role.
    pub name: String,
    /// `true` = high.
    pub high: bool,
    /// Level changes so far.
    pub changes: u64,
}

/// Returns the level and the change count of every output line.
pub fn record_lines(world: &World, lines: &[(String, LineId)]) -> Vec<LineRecord> {
    lines
        .iter()
        .map(|(name, line)| LineRecord {
            name: name.clone(),
            high: world.line_level(*line),
            changes: world.line_changes(*line),
        })
        .collect()
}

/// Returns the state changes of `node` into `to`, as (time, cause).
pub fn entered(journal: &[EventRecord], node: &str, to: &str) -> Vec<(u64, String)> {
    journal
        .iter()
        .filter(|event| event.node.as_deref() == Some(node))
        .filter_map(|event| match &event.detail {
            EventDetail::StateChanged {
                to: entered, cause, ..
            } if entered == to => Some((event.unix_ms, cause.clone())),
            _ => None,
        })
        .collect()
}
