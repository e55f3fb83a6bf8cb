//! A reload, a stop and a restart of the daemon on the simulated reference cluster: no output
//! line changes level, the restarted daemon adopts what it finds, and the recovery ladder's
//! cycle count carries over.

#[allow(dead_code)]
mod common;

use std::time::Duration;

use common::{Cluster, Daemon, node, output_lines, record_lines};
use picluster::config::RestorePolicy;
use picluster::protocol::{ActionKind, EventDetail};

/// Longer than the reference boot grace (90 s), so an adopted node that shows its heartbeat
/// is running again by then.
const BOOT_GRACE_PASSED: Duration = Duration::from_secs(120);

/// The reference configuration's minimum current step of a switched node: a measured draw
/// further than this from the powered nodes' idle sum would show a node in the wrong state.
const MIN_STEP_MA: i32 = 100;

#[test]
fn reload_and_stop_change_no_output_line() {
    common::run_paused(|| async {
        let folder = tempfile::tempdir().unwrap();
        let cluster = Cluster::reference(folder.path(), RestorePolicy::AlwaysOn);
        let daemon = Daemon::start(&cluster).await;
        tokio::time::sleep(common::COLD_START).await;
        daemon.act(ActionKind::Off, "raspberrypi3").await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        let lines = output_lines(&daemon.settings);
        let before = record_lines(&daemon.world, &lines);
        // Both levels are present: node 3's switch is driven to off (high, active low), the
        // other switches to on.
        let switch3 = before
            .iter()
            .find(|line| line.name == "raspberrypi3.lan switch")
            .expect("node 3 has a switch line");
        assert!(switch3.high, "{before:?}");
        assert!(before.iter().any(|line| !line.high), "{before:?}");

        let mut reloaded = daemon.settings.clone();
        reloaded.cluster.timings.heartbeat_timeout =
            picluster_firmware::units::Duration::from_secs(20);
        daemon.reload(reloaded).await;
        tokio::time::sleep(Duration::from_secs(60)).await;
        let accepted = daemon
            .journal()
            .iter()
            .any(|event| event.detail == EventDetail::ConfigReloaded);
        assert!(accepted, "the reload is accepted");
        assert_eq!(
            record_lines(&daemon.world, &lines),
            before,
            "after the reload"
        );

        let world = daemon.stop().await;
        assert_eq!(record_lines(&world, &lines), before, "after the stop");
    });
}

#[test]
fn restart_adopts_live_state_without_line_change() {
    common::run_paused(|| async {
        let folder = tempfile::tempdir().unwrap();
        let cluster = Cluster::reference(folder.path(), RestorePolicy::AlwaysOn);
        let daemon = Daemon::start(&cluster).await;
        tokio::time::sleep(common::COLD_START).await;
        daemon.act(ActionKind::Off, "raspberrypi1").await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        let lines = output_lines(&daemon.settings);
        let stopped = daemon.stop().await;
        let levels_at_stop: Vec<bool> = record_lines(&stopped, &lines)
            .iter()
            .map(|line| line.high)
            .collect();

        let restarted = Daemon::start(&cluster).await;
        tokio::time::sleep(BOOT_GRACE_PASSED).await;

        // The restarted world counts changes from its start: none, and every level as left.
        for (line, was_high) in record_lines(&restarted.world, &lines)
            .iter()
            .zip(&levels_at_stop)
        {
            assert_eq!(line.changes, 0, "{} changed after the restart", line.name);
            assert_eq!(line.high, *was_high, "{} has another level", line.name);
        }
        let status = restarted.status().await;
        assert!(node(&status, "raspberrypi0.lan").powered);
        assert!(node(&status, "raspberrypi3.lan").powered);
        let node1 = node(&status, "raspberrypi1.lan");
        assert!(!node1.powered);
        assert_eq!(node1.state, "off");
        assert_eq!(status.supply.expected_milliamps, 350 + 400 + 400);
        let measured = status.supply.milliamps.expect("the supply is measured");
        let expected = status.supply.expected_milliamps;
        assert!(
            (measured - expected).abs() < MIN_STEP_MA,
            "measured {measured} mA, expected {expected} mA"
        );

        let journal = restarted.journal();
        let started: Vec<bool> = journal
            .iter()
            .filter_map(|event| match event.detail {
                EventDetail::DaemonStarted { head_booted, .. } => Some(head_booted),
                _ => None,
            })
            .collect();
        assert_eq!(started, [true, false]);
        let restores = journal
            .iter()
            .filter(|event| matches!(event.detail, EventDetail::Restore { .. }))
            .count();
        assert_eq!(restores, 3, "the policy applies at the head boot only");
        restarted.stop().await;
    });
}

/// Heartbeat timeout 15 s, backoff 90 s doubling, at most 3 automatic cycles in 15 minutes
/// (reboot-loop.toml, reset disabled). The node is cycled at 0, 90 and 270 s after its first
/// loss and quarantined at 630 s, although the daemon stops and starts again after the second
/// cycle.
#[test]
fn cycle_count_survives_daemon_restart() {
    common::run_paused(|| async {
        const NODE: &str = "raspberrypi1.lan";
        let folder = tempfile::tempdir().unwrap();
        let cluster = Cluster::scenario(folder.path(), "reboot-loop.toml");
        let daemon = Daemon::start(&cluster).await;
        // Stop while the node runs after its second cycle: a stop in the middle of a cycle
        // is another case.
        for _ in 0..600 {
            let journal = daemon.journal();
            let cycles = common::entered(&journal, NODE, "cycling").len();
            let runs = common::entered(&journal, NODE, "running").len();
            if cycles == 2 && runs == 3 {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let journal = daemon.journal();
        assert_eq!(common::entered(&journal, NODE, "cycling").len(), 2);
        assert_eq!(common::entered(&journal, NODE, "running").len(), 3);
        let state_dir = daemon.settings.daemon.state_dir.clone();
        daemon.stop().await;

        let restarted = Daemon::start(&cluster).await;
        for _ in 0..1_200 {
            if !common::entered(&restarted.journal(), NODE, "quarantined").is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        restarted.stop().await;

        let journal = common::journal_in(&state_dir);
        let cycles = common::entered(&journal, NODE, "cycling");
        let first_loss = cycles[0].0;
        // Signed: a daemon that forgot the first cycles would cycle before the first loss on
        // the sim's clock, which restarts at the wall-clock time.
        let seconds_after_loss = |unix_ms: u64| {
            let millis = unix_ms as i64 - first_loss as i64;
            (millis as f64 / 1_000.0).round() as i64
        };
        let offsets: Vec<i64> = cycles
            .iter()
            .map(|(at, _)| seconds_after_loss(*at))
            .collect();
        assert_eq!(offsets, [0, 90, 270]);
        assert!(
            cycles.iter().all(|(_, cause)| cause == "hung"),
            "{cycles:?}"
        );
        let quarantined = common::entered(&journal, NODE, "quarantined");
        assert_eq!(quarantined.len(), 1);
        assert_eq!(seconds_after_loss(quarantined[0].0), 630);
        assert_eq!(quarantined[0].1, "recovery-limit");
    });
}

/// The reference minimum off time of a power cycle.
const MIN_OFF_MS: u64 = 5_000;

#[test]
fn reload_mid_cycle_keeps_min_off_time() {
    common::run_paused(|| async {
        const NODE: &str = "raspberrypi1.lan";
        let folder = tempfile::tempdir().unwrap();
        let cluster = Cluster::reference(folder.path(), RestorePolicy::AlwaysOn);
        let daemon = Daemon::start(&cluster).await;
        tokio::time::sleep(common::COLD_START).await;

        daemon.act(ActionKind::Cycle, "raspberrypi1").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut reloaded = daemon.settings.clone();
        reloaded.cluster.timings.heartbeat_timeout =
            picluster_firmware::units::Duration::from_secs(20);
        daemon.reload(reloaded).await;
        tokio::time::sleep(Duration::from_secs(30)).await;

        let journal = daemon.journal();
        let cycling = common::entered(&journal, NODE, "cycling");
        let powering_on = common::entered(&journal, NODE, "powering-on");
        assert_eq!(cycling.len(), 1, "{cycling:?}");
        let back_on = powering_on.iter().find(|(at, _)| *at > cycling[0].0);
        let (on_at, cause) = back_on.expect("the node is switched on again after the reload");
        assert_eq!(on_at - cycling[0].0, MIN_OFF_MS);
        assert_eq!(cause, "min-off-elapsed");
        assert!(node(&daemon.status().await, NODE).powered);
        daemon.stop().await;
    });
}

#[test]
fn restart_mid_cycle_finishes_cycle() {
    common::run_paused(|| async {
        const NODE: &str = "raspberrypi1.lan";
        let folder = tempfile::tempdir().unwrap();
        let cluster = Cluster::reference(folder.path(), RestorePolicy::AlwaysOn);
        let daemon = Daemon::start(&cluster).await;
        tokio::time::sleep(common::COLD_START).await;
        daemon.act(ActionKind::Cycle, "raspberrypi1").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let state_dir = daemon.settings.daemon.state_dir.clone();
        daemon.stop().await;

        let restarted = Daemon::start(&cluster).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
        let status = restarted.status().await;
        restarted.stop().await;

        // The power cycle cut short by the stop is finished: the node is switched on again
        // instead of staying off until an operator notices.
        assert!(node(&status, NODE).powered, "{:?}", node(&status, NODE));
        let journal = common::journal_in(&state_dir);
        let back_on = common::entered(&journal, NODE, "powering-on");
        assert!(
            back_on.iter().any(|(_, cause)| cause == "admitted"),
            "{back_on:?}"
        );
    });
}
