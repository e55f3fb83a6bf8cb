//! Switch verification by the measured current step, through the daemon: a welded relay on the
//! simulated reference cluster.

#[allow(dead_code)]
mod common;

use std::time::Duration;

use common::{Cluster, Daemon, node};
use picluster::config::RestorePolicy;
use picluster::protocol::{ActionKind, EventDetail};
use picluster_hal_mock::RelayFault;

/// The reference configuration's minimum current step of raspberrypi0.lan.
const MIN_STEP_MA: i32 = 100;

/// Longer than the reference verification window (1 s).
const VERIFY_WINDOW_PASSED: Duration = Duration::from_secs(5);

#[test]
fn welded_relay_off_faults_switch_stuck_on() {
    common::run_paused(|| async {
        const NODE: &str = "raspberrypi0.lan";
        let folder = tempfile::tempdir().unwrap();
        let cluster = Cluster::reference(folder.path(), RestorePolicy::AlwaysOn);
        let daemon = Daemon::start(&cluster).await;
        tokio::time::sleep(common::COLD_START).await;
        let running = daemon.status().await;
        assert_eq!(node(&running, NODE).state, "running");
        // Every board idles: 350 + 350 + 400 + 400 mA, node 0's 350 mA among them.
        assert_eq!(running.supply.milliamps, Some(1_500));

        daemon.world.set_relay_fault(0, RelayFault::Welded);
        daemon.act(ActionKind::Off, NODE).await;
        tokio::time::sleep(VERIFY_WINDOW_PASSED).await;

        let journal = daemon.journal();
        let failures: Vec<(String, i32, i32)> = journal
            .iter()
            .filter(|event| event.node.as_deref() == Some(NODE))
            .filter_map(|event| match &event.detail {
                EventDetail::SwitchFailed {
                    way,
                    expected_step_milliamps,
                    measured_step_milliamps,
                } => Some((
                    way.clone(),
                    *expected_step_milliamps,
                    *measured_step_milliamps,
                )),
                _ => None,
            })
            .collect();
        assert_eq!(failures.len(), 1, "{failures:?}");
        let (way, expected, measured) = &failures[0];
        assert_eq!(way, "stuck-on");
        assert_eq!(*expected, MIN_STEP_MA);
        assert!(*measured < MIN_STEP_MA, "measured step {measured} mA");
        let faulted = common::entered(&journal, NODE, "faulted");
        assert_eq!(faulted.len(), 1);
        assert_eq!(faulted[0].1, "switch-stuck-on");

        let status = daemon.status().await;
        let faulted_node = node(&status, NODE);
        assert_eq!(faulted_node.state, "faulted");
        // Status reports the power the measurement shows, not the commanded off.
        assert!(faulted_node.powered, "{faulted_node:?}");
        assert_eq!(status.supply.expected_milliamps, 1_500);
        // The welded relay still feeds the board: the draw did not drop.
        assert!(status.supply.milliamps.unwrap() > 1_500 - MIN_STEP_MA);
        let switched = daemon
            .journal()
            .iter()
            .filter(|event| event.node.as_deref() == Some(NODE))
            .any(|event| matches!(event.detail, EventDetail::SwitchVerified { on: false, .. }));
        assert!(!switched, "a stuck switch is never reported as verified");
        daemon.stop().await;
    });
}
