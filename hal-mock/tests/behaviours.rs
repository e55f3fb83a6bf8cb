//! Heartbeat behaviours under the real controller, in short inline scenarios.

use picluster_hal_mock::{Report, RunOptions, Scenario, run};

fn run_text(text: &str) -> Report {
    let scenario = Scenario::from_toml(text, "inline").unwrap_or_else(|e| panic!("{e}"));
    run(&scenario, RunOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn noisy_line_is_flagged_not_cycled() {
    let report = run_text(
        r#"
name = "noisy line"
duration = "120 s"

[[nodes]]
name = "raspberrypi0.lan"
heartbeat = { kind = "noisy", burst_every = "20.5 s", burst_edges = 40, burst_spacing = "2.5 ms" }

[[checks]]
check = "event-raised"
event = "heartbeat-noisy"
node = "raspberrypi0.lan"

[[checks]]
check = "never-switched-off"

[[checks]]
check = "never-reset"

[[checks]]
check = "final-state"
node = "raspberrypi0.lan"
state = "running"
"#,
    );
    assert!(report.passed(), "{report}");
}

#[test]
fn kernel_led_keeps_stressed_node_alive() {
    let report = run_text(
        r#"
name = "kernel LED heartbeat"
duration = "200 s"

[[nodes]]
name = "raspberrypi3.lan"
heartbeat = { kind = "kernel-led" }

[[events]]
at = "100 s"
action = "stress"
node = "raspberrypi3.lan"

[[checks]]
check = "running"
nodes = ["raspberrypi3.lan"]
by = "90 s"

[[checks]]
check = "never-switched-off"

[[checks]]
check = "never-reset"

[[checks]]
check = "final-state"
node = "raspberrypi3.lan"
state = "running"
"#,
    );
    assert!(report.passed(), "{report}");
}

#[test]
fn never_booting_node_is_reset_after_grace() {
    // raspberrypi0.lan is admitted first, at about 0.01 s; its boot grace (90 s) starts when
    // the 3 s inrush window ends.
    let report = run_text(
        r#"
name = "never boots"
duration = "120 s"

[[nodes]]
name = "raspberrypi0.lan"
heartbeat = { kind = "never-boots" }

[[checks]]
check = "state-reached"
node = "raspberrypi0.lan"
state = "unresponsive"
after = "90 s"
within = "5 s"

[[checks]]
check = "reset-pulsed"
node = "raspberrypi0.lan"
after = "90 s"
within = "5 s"
"#,
    );
    assert!(report.passed(), "{report}");
}

#[test]
fn stuck_high_line_is_reported_high() {
    let report = run_text(
        r#"
name = "stuck high"
duration = "120 s"

[[nodes]]
name = "raspberrypi1.lan"
heartbeat = { kind = "stuck-high" }

[[checks]]
check = "event-raised"
event = "heartbeat-stuck"
node = "raspberrypi1.lan"
"#,
    );
    assert!(report.passed(), "{report}");
    let stuck = report
        .events
        .iter()
        .find(|e| {
            matches!(
                e.kind,
                picluster_firmware::event::EventKind::HeartbeatStuck { .. }
            )
        })
        .expect("a stuck event");
    assert_eq!(
        stuck.kind,
        picluster_firmware::event::EventKind::HeartbeatStuck { high: true }
    );
}
