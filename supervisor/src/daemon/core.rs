//! The control loop: time, samples, edges, requests and the commit of events.

use std::path::PathBuf;

use picluster_firmware::board::Board;
use picluster_firmware::config::NodeId;
use picluster_firmware::event::{Event, EventKind};
use picluster_firmware::reference::MAX_NODES;
use picluster_firmware::units::Instant;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{broadcast, mpsc};
use tracing::{error, info, warn};

use super::{Control, DaemonError, Settings};
use crate::backend::{Backend, Edge};
use crate::clock::Clock;
use crate::protocol::{EventDetail, EventRecord, Reply, Request};
use crate::socket::Envelope;
use crate::store::{AdminFile, Journal};

/// The firmware board with a backend's pins and monitor.
pub(super) type BoardOf<B> =
    Board<MAX_NODES, <B as Backend>::Switch, <B as Backend>::Reset, <B as Backend>::Monitor>;

/// While a simulated backend catches up with real time, the loop yields to the socket tasks
/// after this many steps, so status requests are served within a millisecond or so.
const STEPS_BETWEEN_YIELDS: u32 = 64;

/// Uncommitted events kept while the journal cannot be written; beyond it the oldest are
/// dropped with an error in the log. About 2 MB of memory.
const MAX_PENDING_EVENTS: usize = 10_000;

/// The evidence behind a node's reported power.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PowerProof {
    /// Read from the line at start or reload, not switched since.
    Adopted,
    /// Switched; the controller records whether the measured step is awaited or confirmed.
    Switched,
    /// Switched, but no valid sample arrived within the verification window.
    NoSample,
}

/// The restore policy, waiting for the first supply sample after a head boot.
pub(super) struct PendingRestore {
    /// The persisted state, whose last commanded power the `previous` policy uses.
    pub(super) admin: AdminFile,
    /// Written once the policy is applied.
    pub(super) marker: crate::store::BootMarker,
}

/// Everything the control loop owns.
pub(super) struct Core<B: Backend> {
    pub(super) settings: Settings,
    pub(super) backend: B,
    pub(super) board: BoardOf<B>,
    pub(super) clock: Clock,
    pub(super) journal: Journal,
    pub(super) admin_path: PathBuf,
    pub(super) saved_admin: AdminFile,
    /// Events recorded but not yet committed to the journal.
    pub(super) pending: Vec<EventRecord>,
    pub(super) events: broadcast::Sender<EventRecord>,
    /// Each node's heartbeat level as last seen, for a reload.
    pub(super) heartbeat_high: Vec<bool>,
    /// Each node's switch as last commanded, to tell when the controller switched it.
    pub(super) commanded_on: Vec<bool>,
    pub(super) proof: Vec<PowerProof>,
    /// Time of the newest input fed to the controller.
    pub(super) last: Instant,
    pub(super) next_sample: Instant,
    pub(super) edges: Vec<Edge>,
    pub(super) monitor_failures: u64,
    pub(super) pin_error: Option<String>,
    /// Time between samples: the configured interval, or the monitor's conversion time if
    /// that is longer.
    pub(super) sample_interval: picluster_firmware::units::Duration,
    pub(super) pending_restore: Option<PendingRestore>,
}

enum Wakeup {
    Control(Option<Control>),
    Request(Envelope),
    Edge,
    Timer,
}

impl<B: Backend> Core<B> {
    /// Runs until a shutdown, then stops without changing any line.
    pub(super) async fn run(
        mut self,
        mut requests: mpsc::Receiver<Envelope>,
        mut control: mpsc::Receiver<Control>,
    ) -> Result<(), DaemonError> {
        let mut steps_since_yield = 0;
        loop {
            let wake = self.next_wake();
            let due = self.clock.deadline(wake);

            if self.backend.simulated() && due <= tokio::time::Instant::now() {
                // The simulation is behind real time: take the next moment at once, serving
                // whatever is queued first.
                match control.try_recv() {
                    Ok(Control::Shutdown) | Err(TryRecvError::Disconnected) => break,
                    Ok(Control::Reload(settings)) => self = self.reload(settings),
                    Err(TryRecvError::Empty) => {}
                }
                while let Ok(envelope) = requests.try_recv() {
                    self.serve(envelope);
                }
                self.step(wake);
                steps_since_yield += 1;
                if steps_since_yield >= STEPS_BETWEEN_YIELDS {
                    steps_since_yield = 0;
                    tokio::task::yield_now().await;
                }
                continue;
            }

            let wakeup = tokio::select! {
                biased;
                control = control.recv() => Wakeup::Control(control),
                Some(envelope) = requests.recv() => Wakeup::Request(envelope),
                () = self.backend.edge_waiting() => Wakeup::Edge,
                () = tokio::time::sleep_until(due) => Wakeup::Timer,
            };
            match wakeup {
                Wakeup::Control(None | Some(Control::Shutdown)) => break,
                Wakeup::Control(Some(Control::Reload(settings))) => self = self.reload(settings),
                Wakeup::Request(envelope) => self.serve(envelope),
                Wakeup::Edge => {
                    let now = self.request_time();
                    self.advance_backend(now);
                    self.commit();
                }
                Wakeup::Timer => {
                    let now = if self.backend.simulated() {
                        wake
                    } else {
                        self.clock.now().max(wake)
                    };
                    self.step(now);
                }
            }
        }
        self.stop()
    }

    /// Returns the next moment the loop must act: the next sample or the controller's deadline.
    pub(super) fn next_wake(&self) -> Instant {
        let deadline = self.board.controller().next_deadline();
        deadline.map_or(self.next_sample, |at| at.min(self.next_sample))
    }

    /// Returns the time to serve a request at: now, but never before the newest input and, in
    /// a simulation that lags real time, never past the next moment still to be processed.
    pub(super) fn request_time(&self) -> Instant {
        let now = self.clock.now();
        let now = if self.backend.simulated() {
            now.min(self.next_wake())
        } else {
            now
        };
        now.max(self.last)
    }

    /// Takes one moment: heartbeat edges up to `now`, then a sample if one is due, else a poll
    /// of the controller's timers.
    pub(super) fn step(&mut self, now: Instant) {
        self.advance_backend(now);
        if now >= self.next_sample {
            self.read_monitor(now);
            let next = self.next_sample + self.sample_interval;
            // Real hardware skips the periods it missed (after a suspend, say); a simulation
            // processes every one so that it behaves the same at any speed.
            self.next_sample = if self.backend.simulated() || next > now {
                next
            } else {
                now + self.sample_interval
            };
        } else {
            self.board.poll(now);
        }
        self.last = self.last.max(now);
        self.drain();
        self.commit();
        if self.pending_restore.is_some() {
            self.restore_when_measured(now);
        }
        self.backend.observe(now, self.board.controller());
    }

    /// Runs the backend up to `now` and feeds the heartbeat edges it reports, in order.
    pub(super) fn advance_backend(&mut self, now: Instant) {
        let mut edges = std::mem::take(&mut self.edges);
        edges.clear();
        self.backend.advance(now, &mut edges);
        for edge in &edges {
            // Never feed the controller a time before its newest input.
            let at = edge.at.max(self.last);
            if let Some(level) = self.heartbeat_high.get_mut(edge.node.index()) {
                *level = edge.high;
            }
            self.board.heartbeat_edge(at, edge.node, edge.high);
            self.last = at;
            self.drain();
        }
        self.edges = edges;
        self.last = self.last.max(now);
    }

    /// Reads the supply monitor, logging the first failure of a run of failures and the end
    /// of the run with its count.
    pub(super) fn read_monitor(&mut self, now: Instant) {
        match self.board.read_monitor(now) {
            Ok(_) if self.monitor_failures > 0 => {
                info!(
                    failures = self.monitor_failures,
                    "supply monitor reads again"
                );
                self.monitor_failures = 0;
            }
            Ok(_) => {}
            Err(failure) => {
                if self.monitor_failures == 0 {
                    warn!(
                        error = ?failure,
                        "supply monitor read failed; further failures are counted until it \
                         reads again"
                    );
                }
                self.monitor_failures += 1;
            }
        }
    }

    /// Applies every pending action through the board and records the events.
    pub(super) fn drain(&mut self) {
        let mut raised: Vec<Event> = Vec::new();
        let applied = self.board.apply(|event| raised.push(*event));
        match applied {
            Ok(()) => self.pin_error = None,
            Err(failure) => {
                let message = format!("{failure:?}");
                if self.pin_error.as_ref() != Some(&message) {
                    error!(
                        error = %message,
                        "setting an output line failed; the action stays queued and is retried \
                         at the next step"
                    );
                    self.pin_error = Some(message);
                }
            }
        }
        self.track_switches();
        for event in &raised {
            if let (Some(node), EventKind::SwitchUnverified { .. }) = (event.node, event.kind) {
                self.proof[node.index()] = PowerProof::NoSample;
            }
            let record = self.controller_record(event);
            self.push_record(record);
        }
    }

    /// Notes which switches the controller changed since the last drain.
    fn track_switches(&mut self) {
        for index in 0..self.commanded_on.len() {
            let node = NodeId(index as u8);
            let on = self.board.controller().switch_on(node).unwrap_or_default();
            if on != self.commanded_on[index] {
                self.commanded_on[index] = on;
                self.proof[index] = PowerProof::Switched;
            }
        }
    }

    /// Records an event of the daemon itself (not of the controller).
    pub(super) fn record_daemon(
        &mut self,
        now: Instant,
        node: Option<NodeId>,
        detail: EventDetail,
    ) {
        let measured = self
            .board
            .controller()
            .supply_status(now)
            .last_sample
            .map(|(_, sample)| sample);
        let record = EventRecord {
            seq: self.journal.take_seq(),
            unix_ms: self.clock.unix_ms(now),
            node: node.map(|node| self.node_name(node)),
            detail,
            millivolts: measured.map(|sample| sample.voltage.0),
            milliamps: measured
                .and_then(|sample| sample.current)
                .map(|current| current.0),
        };
        self.push_record(record);
    }

    fn push_record(&mut self, record: EventRecord) {
        super::report::log_event(&record);
        if self.pending.len() >= MAX_PENDING_EVENTS {
            self.pending.remove(0);
            error!(
                limit = MAX_PENDING_EVENTS,
                "the journal cannot be written and too many events wait; dropped the oldest"
            );
        }
        self.pending.push(record);
    }

    /// Commits the recorded events to the journal, then hands them to subscribers and saves
    /// the administrative state if it changed.
    pub(super) fn commit(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        if let Err(failure) = self.journal.append(&self.pending) {
            error!(
                error = %failure,
                folder = %self.settings.daemon.state_dir.display(),
                events = self.pending.len(),
                "writing the event journal failed; the events are kept and written again at \
                 the next commit"
            );
            return;
        }
        for record in self.pending.drain(..) {
            // No subscriber is not an error.
            let _ = self.events.send(record);
        }
        self.save_admin();
    }

    /// Writes the state file if the administrative state changed since it was last written.
    fn save_admin(&mut self) {
        let admin = self.admin_file();
        if admin == self.saved_admin {
            return;
        }
        match admin.save(&self.admin_path) {
            Ok(()) => self.saved_admin = admin,
            Err(failure) => error!(
                error = %failure,
                file = %self.admin_path.display(),
                "writing the state file failed; it is written again after the next event"
            ),
        }
    }

    /// Serves one request from the socket or the metrics endpoint.
    fn serve(&mut self, envelope: Envelope) {
        let reply = match envelope.request {
            Request::Status {} => {
                let now = self.request_time();
                Reply::Status(self.status(now))
            }
            Request::Action { action, nodes } => self.act(action, &nodes, envelope.peer),
            Request::Events { .. } | Request::Subscribe {} => Reply::Error {
                code: crate::protocol::ErrorCode::Internal,
                message: "events and subscriptions are served by the connection".to_string(),
            },
        };
        // The client may have gone away; its reply is then dropped.
        let _ = envelope.reply.send(reply);
    }

    /// Returns a node's configured name.
    pub(super) fn node_name(&self, node: NodeId) -> String {
        self.settings
            .cluster
            .nodes
            .get(node.index())
            .map_or_else(|| format!("#{}", node.0), |config| config.name.to_string())
    }

    /// Records the stop, commits everything and lets the backend finish. The daemon sets no
    /// line; what the lines do afterwards depends on the backend and is logged.
    fn stop(mut self) -> Result<(), DaemonError> {
        let now = self.request_time();
        self.advance_backend(now);
        self.drain();
        self.record_daemon(now, None, EventDetail::DaemonStopped);
        self.commit();
        if let Err(failure) = self.backend.finish() {
            error!(error = %failure, "the backend failed to finish");
        }
        info!(
            backend = self.backend.name(),
            lines = self.backend.lines_after_stop(),
            "daemon stopped"
        );
        Ok(())
    }
}
