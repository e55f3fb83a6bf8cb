//! The control loop on the simulated reference cluster, with tokio's time paused: the runtime
//! jumps to the next timer whenever the loop sleeps, so minutes of cluster time take
//! milliseconds and nothing waits for real time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use picluster_firmware::config::{ClusterConfig, LineId};
use picluster_firmware::reference::MAX_NODES;
use picluster_firmware::units::Instant;
use picluster_hal_mock::{DeviceFault, World};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::core::Core;
use super::{Control, DEFAULT_SAMPLE_INTERVAL, DaemonError, Settings};
use crate::backend::sim::{SimBackend, SimOptions};
use crate::backend::{Backend, BackendError, Edge, OpenResult};
use crate::config::RestorePolicy;
use crate::protocol::{
    ActionKind, ErrorCode, EventDetail, EventRecord, Outcome, Reply, Request, StatusReport,
};
use crate::socket::Envelope;
use crate::store::{AdminFile, BootMarker, JournalFilter, NodeAdmin, read_journal};

/// The simulated backend, counting how often the loop advanced it.
#[derive(Debug)]
struct Counting {
    inner: SimBackend,
    advances: Arc<AtomicU64>,
}

impl Backend for Counting {
    type Switch = <SimBackend as Backend>::Switch;
    type Reset = <SimBackend as Backend>::Reset;
    type Monitor = <SimBackend as Backend>::Monitor;

    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn open(&mut self, cluster: &ClusterConfig<MAX_NODES>, now: Instant) -> OpenResult<Self> {
        self.inner.open(cluster, now)
    }

    fn advance(&mut self, now: Instant, edges: &mut Vec<Edge>) {
        self.advances.fetch_add(1, Ordering::Relaxed);
        self.inner.advance(now, edges);
    }

    fn simulated(&self) -> bool {
        true
    }

    fn observe(
        &mut self,
        now: Instant,
        controller: &picluster_firmware::controller::Controller<MAX_NODES>,
    ) {
        self.inner.observe(now, controller);
    }

    fn finish(&mut self) -> Result<(), BackendError> {
        self.inner.finish()
    }
}

/// A running control loop with its channels.
struct Harness {
    folder: tempfile::TempDir,
    settings: Settings,
    world: World,
    advances: Arc<AtomicU64>,
    requests: mpsc::Sender<Envelope>,
    control: mpsc::Sender<Control>,
    task: JoinHandle<Result<(), DaemonError>>,
}

fn settings_in(folder: &std::path::Path, policy: RestorePolicy) -> Settings {
    let mut config = crate::sim::reference_config();
    crate::sim::place_in(&mut config, folder);
    config.daemon.restore_policy = policy;
    Settings {
        cluster: config.cluster,
        daemon: config.daemon,
        sample_interval: DEFAULT_SAMPLE_INTERVAL,
        speed: 1.0,
        metrics: false,
    }
}

impl Harness {
    fn start(policy: RestorePolicy) -> Self {
        let folder = tempfile::tempdir().unwrap();
        Self::start_in(folder, policy)
    }

    fn start_in(folder: tempfile::TempDir, policy: RestorePolicy) -> Self {
        Self::start_with(folder, policy, |_| {})
    }

    /// Starts the loop after `prepare` has changed the simulated world.
    fn start_with(
        folder: tempfile::TempDir,
        policy: RestorePolicy,
        prepare: impl FnOnce(&World),
    ) -> Self {
        let settings = settings_in(folder.path(), policy);
        let monitor = crate::sim::reference_config().monitor;
        let options = SimOptions::for_cluster(&settings.cluster, &monitor, folder.path());
        let backend = SimBackend::new(options).unwrap();
        let world = backend.world().clone();
        prepare(&world);
        let advances = Arc::new(AtomicU64::new(0));
        let counting = Counting {
            inner: backend,
            advances: Arc::clone(&advances),
        };
        let (events, _) = broadcast::channel(1024);
        let core = Core::start(settings.clone(), counting, events).unwrap();
        let (requests, request_queue) = mpsc::channel(8);
        let (control, control_queue) = mpsc::channel(4);
        let task = tokio::spawn(core.run(request_queue, control_queue));
        Self {
            folder,
            settings,
            world,
            advances,
            requests,
            control,
            task,
        }
    }

    async fn ask(&self, request: Request) -> Reply {
        let (reply, answer) = oneshot::channel();
        let envelope = Envelope {
            request,
            peer: None,
            reply,
        };
        self.requests.send(envelope).await.unwrap();
        answer.await.unwrap()
    }

    async fn status(&self) -> StatusReport {
        match self.ask(Request::Status {}).await {
            Reply::Status(report) => report,
            other => panic!("unexpected reply {other:?}"),
        }
    }

    async fn act(&self, action: ActionKind, nodes: &str) -> Reply {
        let request = Request::Action {
            action,
            nodes: nodes.to_string(),
        };
        self.ask(request).await
    }

    fn journal(&self) -> Vec<EventRecord> {
        let folder = &self.settings.daemon.state_dir;
        read_journal(folder, &JournalFilter::default())
            .unwrap()
            .events
    }

    /// Returns the level changes of every switch line so far.
    fn switch_changes(&self) -> Vec<(u64, bool)> {
        self.settings
            .cluster
            .nodes
            .iter()
            .filter_map(|node| node.switch)
            .map(|switch| {
                (
                    self.world.line_changes(switch.line),
                    self.world.line_level(switch.line),
                )
            })
            .collect()
    }

    async fn stop(self) -> tempfile::TempDir {
        self.control.send(Control::Shutdown).await.unwrap();
        self.task.await.unwrap().unwrap();
        self.folder
    }
}

/// The address of the reference cluster's monitor on the simulated bus.
const MONITOR_ADDRESS: u8 = crate::config::DEFAULT_MONITOR_ADDRESS;

/// Starts the loop on a world whose monitor does not acknowledge its address.
fn start_without_monitor() -> Harness {
    let folder = tempfile::tempdir().unwrap();
    Harness::start_with(folder, RestorePolicy::AlwaysOn, |world| {
        world.inject_device_fault(MONITOR_ADDRESS, DeviceFault::NoAcknowledge);
    })
}

fn admitted_count(journal: &[EventRecord]) -> usize {
    journal
        .iter()
        .filter(|event| {
            matches!(&event.detail, EventDetail::StateChanged { cause, .. } if cause == "admitted")
        })
        .count()
}

fn powered(status: &StatusReport) -> Vec<bool> {
    status.nodes.iter().map(|node| node.powered).collect()
}

fn all_running(status: &StatusReport) -> bool {
    status.nodes.iter().all(|node| node.state == "running")
}

/// Lets `seconds` of cluster time pass; paused time makes it instant.
async fn pass(seconds: u64) {
    tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
}

#[tokio::test(start_paused = true)]
async fn cold_start_powers_workers_staggered() {
    let harness = Harness::start(RestorePolicy::AlwaysOn);
    // The Pi 1 Model B boots in about 60 s after the others' two 3 s inrush windows.
    pass(90).await;
    assert!(all_running(&harness.status().await));

    let admitted: Vec<u64> = harness
        .journal()
        .into_iter()
        .filter(|event| {
            matches!(&event.detail, EventDetail::StateChanged { cause, .. } if cause == "admitted")
        })
        .map(|event| event.unix_ms)
        .collect();
    assert_eq!(admitted.len(), 3);
    for pair in admitted.windows(2) {
        assert!(pair[1] - pair[0] >= 3_000, "{admitted:?}");
    }
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn idle_loop_wakes_only_for_samples_and_deadlines() {
    let harness = Harness::start(RestorePolicy::AlwaysOn);
    pass(90).await;
    let before = harness.advances.load(Ordering::Relaxed);
    pass(10).await;
    let woken = harness.advances.load(Ordering::Relaxed) - before;

    // 10 s of 10 ms samples is 1000 wake-ups; heartbeat timers add a few.
    assert!(woken >= 1_000, "woken {woken} times");
    assert!(woken <= 1_100, "woken {woken} times: the loop polls");
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_changes_no_line() {
    let harness = Harness::start(RestorePolicy::AlwaysOn);
    pass(90).await;
    let world = harness.world.clone();
    let switches = harness.switch_changes();
    let reset_lines: Vec<LineId> = harness
        .settings
        .cluster
        .nodes
        .iter()
        .filter_map(|node| node.reset.map(|reset| reset.line))
        .collect();
    let resets: Vec<u64> = reset_lines.iter().map(|&l| world.line_changes(l)).collect();

    let settings = harness.settings.clone();
    let folder = harness.stop().await;

    let after: Vec<(u64, bool)> = settings
        .cluster
        .nodes
        .iter()
        .filter_map(|node| node.switch)
        .map(|switch| {
            (
                world.line_changes(switch.line),
                world.line_level(switch.line),
            )
        })
        .collect();
    assert_eq!(after, switches);
    let resets_after: Vec<u64> = reset_lines.iter().map(|&l| world.line_changes(l)).collect();
    assert_eq!(resets_after, resets);
    drop(folder);
}

#[tokio::test(start_paused = true)]
async fn restart_skips_restore_policy() {
    let folder = tempfile::tempdir().unwrap();
    let settings = settings_in(folder.path(), RestorePolicy::AlwaysOn);
    BootMarker::new(&settings.run_dir()).write().unwrap();

    let harness = Harness::start_in(folder, RestorePolicy::AlwaysOn);
    pass(30).await;
    assert_eq!(
        powered(&harness.status().await),
        [false, false, true, false]
    );
    let started = harness
        .journal()
        .into_iter()
        .find_map(|event| match event.detail {
            EventDetail::DaemonStarted { head_booted, .. } => Some(head_booted),
            _ => None,
        });
    assert_eq!(started, Some(false));
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn previous_policy_restores_last_commanded_power() {
    let folder = tempfile::tempdir().unwrap();
    let settings = settings_in(folder.path(), RestorePolicy::Previous);
    std::fs::create_dir_all(&settings.daemon.state_dir).unwrap();
    let mut admin = AdminFile::default();
    let on = NodeAdmin {
        powered: true,
        ..NodeAdmin::default()
    };
    admin.nodes.insert("raspberrypi1.lan".to_string(), on);
    admin
        .nodes
        .insert("raspberrypi3.lan".to_string(), NodeAdmin::default());
    admin
        .save(&settings.daemon.state_dir.join("state.json"))
        .unwrap();

    let harness = Harness::start_in(folder, RestorePolicy::Previous);
    pass(30).await;
    assert_eq!(powered(&harness.status().await), [false, true, true, false]);
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn head_action_is_rejected() {
    let harness = Harness::start(RestorePolicy::AlwaysOn);
    pass(5).await;
    let Reply::Error { code, message } = harness.act(ActionKind::Off, "raspberrypi2").await else {
        panic!("off of the head must fail the whole request");
    };
    assert_eq!(code, ErrorCode::InvalidSelector);
    assert!(
        message.contains("raspberrypi2.lan is the head node"),
        "{message}"
    );
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn selection_with_head_touches_no_node() {
    let harness = Harness::start(RestorePolicy::AlwaysOn);
    pass(90).await;
    let before = powered(&harness.status().await);
    assert!(before[0], "node 0 runs before the action");

    let Reply::Error { code, message } = harness.act(ActionKind::Off, "0,2").await else {
        panic!("a selection with the head must fail as a whole");
    };

    assert_eq!(code, ErrorCode::InvalidSelector);
    assert!(
        message.contains("raspberrypi2.lan is the head node"),
        "{message}"
    );
    assert!(message.contains("leave the head out"), "{message}");
    assert!(message.contains("`all` never includes it"), "{message}");
    pass(10).await;
    assert_eq!(powered(&harness.status().await), before);
    let operator_actions = harness
        .journal()
        .iter()
        .filter(|event| matches!(event.detail, EventDetail::OperatorAction { .. }))
        .count();
    assert_eq!(operator_actions, 0);
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn action_events_are_journalled_before_reply() {
    let harness = Harness::start(RestorePolicy::AlwaysOn);
    pass(90).await;
    let reply = harness.act(ActionKind::Off, "1").await;
    let Reply::Action { results } = reply else {
        panic!("an action gets an action reply");
    };
    assert!(matches!(results[0].outcome, Outcome::Accepted { .. }));

    let journal = harness.journal();
    let operator = journal.iter().any(|event| {
        matches!(
            event.detail,
            EventDetail::OperatorAction {
                action: ActionKind::Off,
                ..
            }
        )
    });
    assert!(operator, "the operator's action is journalled");
    let state_change = journal.iter().any(|event| {
        matches!(&event.detail, EventDetail::StateChanged { to, cause, .. }
            if to == "off" && cause == "operator")
    });
    assert!(state_change, "the state change is journalled");
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn invalid_reload_keeps_running_configuration() {
    let harness = Harness::start(RestorePolicy::AlwaysOn);
    pass(90).await;
    let switches = harness.switch_changes();
    let why = "picluster.toml:3:1: unknown key `monitr`".to_string();
    harness
        .control
        .send(Control::Reload(Err(why)))
        .await
        .unwrap();
    pass(1).await;

    let rejected = harness
        .journal()
        .into_iter()
        .find_map(|event| match event.detail {
            EventDetail::ConfigRejected { message } => Some(message),
            _ => None,
        });
    assert_eq!(
        rejected.as_deref(),
        Some("picluster.toml:3:1: unknown key `monitr`")
    );
    assert!(all_running(&harness.status().await));
    assert_eq!(harness.switch_changes(), switches);
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn reload_changing_lines_is_rejected() {
    let harness = Harness::start(RestorePolicy::AlwaysOn);
    pass(90).await;
    let mut changed = harness.settings.clone();
    if let Some(switch) = changed.cluster.nodes[0].switch.as_mut() {
        switch.line = LineId(26);
    }
    let reload = Control::Reload(Ok(Box::new(changed)));
    harness.control.send(reload).await.unwrap();
    pass(1).await;

    let rejected = harness
        .journal()
        .into_iter()
        .find_map(|event| match event.detail {
            EventDetail::ConfigRejected { message } => Some(message),
            _ => None,
        });
    let message = rejected.expect("the reload is rejected");
    assert!(message.contains("raspberrypi0.lan"), "{message}");
    assert!(message.contains("restart the daemon"), "{message}");
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn valid_reload_adopts_present_power_without_line_change() {
    let harness = Harness::start(RestorePolicy::AlwaysOn);
    pass(90).await;
    assert!(harness.act(ActionKind::Off, "3").await != Reply::Subscribed);
    pass(2).await;
    let switches = harness.switch_changes();
    let before = powered(&harness.status().await);

    let mut reloaded = harness.settings.clone();
    reloaded.cluster.timings.heartbeat_timeout = picluster_firmware::units::Duration::from_secs(20);
    harness
        .control
        .send(Control::Reload(Ok(Box::new(reloaded))))
        .await
        .unwrap();
    pass(90).await;

    let reloaded = harness
        .journal()
        .iter()
        .any(|event| event.detail == EventDetail::ConfigReloaded);
    assert!(reloaded);
    let status = harness.status().await;
    assert_eq!(powered(&status), before);
    assert_eq!(harness.switch_changes(), switches);
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn silent_monitor_starts_daemon_without_power_on() {
    let harness = start_without_monitor();
    pass(30).await;

    let status = harness.status().await;
    assert_eq!(powered(&status), [false, false, true, false]);
    assert!(!status.supply.telemetry_ok);
    assert!(status.supply.dropped_samples > 0);
    let journal = harness.journal();
    let lost = journal
        .iter()
        .filter(|event| event.detail == EventDetail::TelemetryLost)
        .count();
    assert_eq!(lost, 1);
    assert_eq!(admitted_count(&journal), 0);
    assert_eq!(harness.switch_changes(), [(0, true), (0, true), (0, true)]);
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn monitor_answering_later_resumes_power_on() {
    let harness = start_without_monitor();
    pass(30).await;

    harness
        .world
        .inject_device_fault(MONITOR_ADDRESS, DeviceFault::Acknowledge);
    pass(90).await;

    let status = harness.status().await;
    assert!(status.supply.telemetry_ok);
    assert!(all_running(&status), "{status:?}");
    let journal = harness.journal();
    let restored = journal
        .iter()
        .any(|event| event.detail == EventDetail::TelemetryRestored);
    assert!(restored);
    assert_eq!(admitted_count(&journal), 3);
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn monitor_loss_switches_nothing_off() {
    let harness = Harness::start(RestorePolicy::AlwaysOn);
    pass(90).await;
    let switches = harness.switch_changes();

    harness
        .world
        .inject_device_fault(MONITOR_ADDRESS, DeviceFault::NoAcknowledge);
    pass(60).await;

    let status = harness.status().await;
    assert!(!status.supply.telemetry_ok);
    assert_eq!(powered(&status), [true, true, true, true]);
    assert_eq!(harness.switch_changes(), switches);
    let lost = harness
        .journal()
        .iter()
        .any(|event| event.detail == EventDetail::TelemetryLost);
    assert!(lost);
    harness.stop().await;
}
