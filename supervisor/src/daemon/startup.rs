//! Start-up and reload: adopting the lines as found, and the restore policy after a head boot.

use picluster_firmware::board::Board;
use picluster_firmware::config::{ClusterConfig, ConfigProblems, NodeId, Role};
use picluster_firmware::controller::{AdminState, CYCLE_HISTORY, Command, Controller, NodeStart};
use picluster_firmware::reference::MAX_NODES;
use picluster_firmware::units::Instant;
use tokio::sync::broadcast;
use tracing::{error, info, warn};

use super::core::{Core, PendingRestore, PowerProof};
use super::{DaemonError, Settings};
use crate::backend::{Backend, FoundLevels};
use crate::clock::Clock;
use crate::config::RestorePolicy;
use crate::protocol::{EventDetail, EventRecord};
use crate::store::{AdminFile, BootMarker, Journal, JournalLimits};

/// Returns the policy's name as the configuration spells it.
pub(super) fn policy_name(policy: RestorePolicy) -> &'static str {
    match policy {
        RestorePolicy::AlwaysOn => "always-on",
        RestorePolicy::Previous => "previous",
        RestorePolicy::AlwaysOff => "always-off",
    }
}

/// Describes the controller's configuration problems on one line.
pub(super) fn describe_problems(problems: &ConfigProblems) -> String {
    let mut text: Vec<String> = problems.problems.iter().map(|p| format!("{p:?}")).collect();
    if problems.dropped > 0 {
        text.push(format!("and {} more", problems.dropped));
    }
    text.join("; ")
}

impl<B: Backend> Core<B> {
    /// Opens the state folder and the backend, adopts every line as found, and applies the
    /// restore policy if the head has just booted.
    pub(super) fn start(
        settings: Settings,
        mut backend: B,
        events: broadcast::Sender<EventRecord>,
    ) -> Result<Self, DaemonError> {
        let clock = Clock::start(settings.speed);
        let now = clock.now();
        let state_dir = settings.daemon.state_dir.clone();
        let store_error = |path: &std::path::Path| {
            let path = path.to_path_buf();
            move |source| DaemonError::Store { path, source }
        };
        std::fs::create_dir_all(&state_dir).map_err(store_error(&state_dir))?;
        let admin_path = state_dir.join("state.json");
        let admin = AdminFile::load(&admin_path).map_err(store_error(&admin_path))?;
        let limits = JournalLimits {
            max_file_bytes: settings.daemon.journal_size_limit,
            kept_files: usize::from(settings.daemon.journal_rotations),
        };
        let journal = Journal::open(&state_dir, limits).map_err(store_error(&state_dir))?;
        let marker = BootMarker::new(&settings.run_dir());
        let head_booted = marker
            .head_just_booted()
            .map_err(store_error(marker.path()))?;

        let hardware = backend.open(&settings.cluster, now)?;
        let sample_interval = settings.sample_interval.max(hardware.sample_period);
        let starts = node_starts(&settings.cluster, &hardware.found, &admin, &clock);
        let controller = Controller::new(settings.cluster.clone(), now, &starts)
            .map_err(|problems| DaemonError::Config(describe_problems(&problems)))?;
        let board = Board::new(
            controller,
            hardware.switches,
            hardware.resets,
            hardware.monitor,
        );
        let node_count = settings.cluster.nodes.len();

        let mut core = Core {
            backend,
            board,
            clock,
            journal,
            admin_path,
            saved_admin: admin.clone(),
            pending: Vec::new(),
            events,
            heartbeat_high: starts.iter().map(|start| start.heartbeat_high).collect(),
            commanded_on: starts.iter().map(|start| start.switch_on).collect(),
            proof: vec![PowerProof::Adopted; node_count],
            last: now,
            next_sample: now,
            edges: Vec::new(),
            monitor_failures: 0,
            pin_error: None,
            sample_interval,
            pending_restore: None,
            settings,
        };

        let policy = core.settings.daemon.restore_policy;
        info!(
            backend = core.backend.name(),
            head_booted,
            restore_policy = policy_name(policy),
            "daemon started; adopted every line at its present level"
        );
        let started = EventDetail::DaemonStarted {
            head_booted,
            restore_policy: policy_name(policy).to_string(),
            backend: core.backend.name().to_string(),
        };
        core.record_daemon(now, None, started);
        core.drain();

        if head_booted {
            info!(
                restore_policy = policy_name(policy),
                "the head has just booted; the restore policy applies at the first supply sample"
            );
            core.pending_restore = Some(PendingRestore { admin, marker });
        } else {
            info!(
                marker = %marker.path().display(),
                "the daemon restarted on a running head; the restore policy does not apply"
            );
        }
        core.step(now);
        Ok(core)
    }

    /// Applies the restore policy once a valid supply sample is in, because its power-ons need
    /// telemetry, then writes the boot marker. A daemon stopped before that applies the policy
    /// at its next start.
    pub(super) fn restore_when_measured(&mut self, now: Instant) {
        let measured = self
            .board
            .controller()
            .supply_status(now)
            .last_sample
            .is_some_and(|(_, sample)| sample.current.is_some());
        if !measured {
            return;
        }
        let Some(pending) = self.pending_restore.take() else {
            return;
        };
        self.restore(now, &pending.admin);
        self.commit();
        if let Err(failure) = pending.marker.write() {
            error!(
                error = %failure,
                marker = %pending.marker.path().display(),
                "cannot write the boot marker; the next daemon start will apply the restore                  policy again"
            );
        }
    }

    /// Applies the restore policy to every worker: the head has just booted.
    fn restore(&mut self, now: Instant, admin: &AdminFile) {
        let policy = self.settings.daemon.restore_policy;
        let workers: Vec<(NodeId, String)> = self
            .settings
            .cluster
            .nodes_with_ids()
            .filter(|(_, config)| config.role == Role::Worker)
            .map(|(id, config)| (id, config.name.to_string()))
            .collect();
        for (node, name) in workers {
            let on = match policy {
                RestorePolicy::AlwaysOn => true,
                RestorePolicy::AlwaysOff => false,
                RestorePolicy::Previous => admin.nodes.get(&name).is_some_and(|n| n.powered),
            };
            let powered = self.board.controller().switch_on(node) == Some(true);
            if on == powered {
                continue;
            }
            let detail = EventDetail::Restore {
                policy: policy_name(policy).to_string(),
                on,
            };
            self.record_daemon(now, Some(node), detail);
            let command = if on { Command::On } else { Command::Off };
            if let Err(rejection) = self.board.command(now, node, command) {
                warn!(
                    node = %name,
                    reason = ?rejection,
                    restore_policy = policy_name(policy),
                    "the restore policy could not be applied to this node"
                );
            }
            self.drain();
        }
    }

    /// Applies a reloaded configuration, or keeps the running one and logs why not.
    pub(super) fn reload(mut self, loaded: Result<Box<Settings>, String>) -> Self {
        let now = self.request_time();
        self.advance_backend(now);
        self.drain();

        let checked = loaded.and_then(|settings| {
            reload_compatible(&self.settings, &settings)?;
            Ok(settings)
        });
        let settings = match checked {
            Ok(settings) => settings,
            Err(why) => {
                self.reject_reload(now, why);
                return self;
            }
        };

        // The controller keeps every node's state, timers and verification across a reload, so
        // a power cycle under way still waits its minimum off time.
        if let Err(problems) = self.board.reconfigure(settings.cluster.clone()) {
            self.reject_reload(now, describe_problems(&problems));
            return self;
        }
        self.settings = *settings;
        info!("configuration reloaded; every node keeps its state");
        self.record_daemon(now, None, EventDetail::ConfigReloaded);
        self.drain();
        self.commit();
        self
    }

    fn reject_reload(&mut self, now: Instant, why: String) {
        warn!(
            reason = %why,
            "configuration reload rejected; the running configuration stays in force"
        );
        self.record_daemon(now, None, EventDetail::ConfigRejected { message: why });
        self.commit();
    }
}

/// Checks that a reload changes nothing that needs the lines claimed again or the socket and
/// files moved: those need a restart, which adopts the lines just as well.
fn reload_compatible(running: &Settings, loaded: &Settings) -> Result<(), String> {
    let restart = "restart the daemon instead (a restart adopts every line without toggling it)";
    let old = &running.cluster.nodes;
    let new = &loaded.cluster.nodes;
    if old.len() != new.len() {
        return Err(format!(
            "the new configuration has {} nodes, the running one {}; {restart}",
            new.len(),
            old.len()
        ));
    }
    for (before, after) in old.iter().zip(new.iter()) {
        if before.name != after.name {
            return Err(format!(
                "node {} is named {} in the new configuration; {restart}",
                before.name, after.name
            ));
        }
        let same_lines = before.switch == after.switch
            && before.reset == after.reset
            && before.heartbeat == after.heartbeat
            && before.role == after.role;
        if !same_lines {
            return Err(format!(
                "the role or the lines of node {} changed; {restart}",
                before.name
            ));
        }
    }
    let (before, after) = (&running.daemon, &loaded.daemon);
    if before.socket_path != after.socket_path
        || before.state_dir != after.state_dir
        || before.backend != after.backend
        || before.metrics_listen != after.metrics_listen
    {
        return Err(format!(
            "the backend, socket path, state folder or metrics address changed; {restart}"
        ));
    }
    Ok(())
}

/// Builds each node's start from the levels found on its lines and the persisted state.
fn node_starts(
    cluster: &ClusterConfig<MAX_NODES>,
    found: &[FoundLevels],
    admin: &AdminFile,
    clock: &Clock,
) -> Vec<NodeStart> {
    cluster
        .nodes_with_ids()
        .map(|(id, config)| {
            let levels = found.get(id.index()).copied().unwrap_or_default();
            let switch_on = match (config.switch, levels.switch_high) {
                (Some(line), Some(high)) => line.polarity.is_on(high),
                _ => false,
            };
            if let (Some(reset), Some(high)) = (config.reset, levels.reset_high)
                && reset.polarity.is_on(high)
            {
                // NOTE: a daemon killed within a reset pulse leaves the RUN line asserted; it
                // is adopted as found rather than changed, and `picluster cycle` clears it.
                warn!(node = %config.name, "the reset line is asserted at start; it stays so");
            }
            let persisted = admin.nodes.get(config.name.as_str());
            NodeStart {
                switch_on,
                heartbeat_high: levels.heartbeat_high.unwrap_or(false),
                admin: persisted.map_or_else(AdminState::default, |node| AdminState {
                    held: node.held,
                    quarantined: node.quarantined,
                    cycles: cycle_times(&node.cycles_unix_ms, clock),
                    // A switch-off before the clock's reach counts as long ago: its minimum
                    // off time has passed.
                    last_off: node.last_off_unix_ms.and_then(|at| clock.from_unix_ms(at)),
                    power_on_pending: node.power_on_pending,
                }),
            }
        })
        .collect()
}

/// Converts persisted cycle times to controller time, keeping the newest that fit.
fn cycle_times(unix_ms: &[u64], clock: &Clock) -> heapless::Vec<Instant, CYCLE_HISTORY> {
    let mut times: Vec<Instant> = unix_ms
        .iter()
        .filter_map(|&at| clock.from_unix_ms(at))
        .collect();
    times.sort();
    let skip = times.len().saturating_sub(CYCLE_HISTORY);
    times.into_iter().skip(skip).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn cycle_times_keep_newest_history() {
        let clock = Clock::start(1.0);
        let start_ms = clock.unix_ms(crate::clock::START);
        let persisted: Vec<u64> = (0..20).map(|index| start_ms - 1_000 * index).collect();
        let times = cycle_times(&persisted, &clock);
        assert_eq!(times.len(), CYCLE_HISTORY);
        assert_eq!(times.last(), Some(&crate::clock::START));
    }
}
