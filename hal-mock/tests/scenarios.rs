//! Every shipped scenario runs to its end and passes all of its checks.

use std::path::{Path, PathBuf};

use picluster_hal_mock::{Report, RunOptions, Scenario, run};

const SHIPPED: [&str; 8] = [
    "cold-start.toml",
    "hung-worker.toml",
    "reboot-loop.toml",
    "stress-shed.toml",
    "supply-sag.toml",
    "stuck-relay.toml",
    "monitor-failure.toml",
    "common-cause.toml",
];

fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

fn run_shipped(file: &str) -> Report {
    let scenario = Scenario::load(&scenario_dir().join(file)).unwrap_or_else(|e| panic!("{e}"));
    run(&scenario, RunOptions::default()).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn assert_passes(file: &str) {
    let report = run_shipped(file);
    assert!(!report.checks.is_empty(), "{file} has no checks");
    assert!(report.passed(), "{report}");
}

#[test]
fn cold_start_staggers_within_supply() {
    assert_passes("cold-start.toml");
}

#[test]
fn hung_worker_is_reset_then_cycled() {
    assert_passes("hung-worker.toml");
}

#[test]
fn reboot_loop_is_quarantined() {
    assert_passes("reboot-loop.toml");
}

#[test]
fn stress_load_is_shed_by_priority() {
    assert_passes("stress-shed.toml");
}

#[test]
fn supply_sag_during_start_sheds_before_brown_out() {
    assert_passes("supply-sag.toml");
}

#[test]
fn welded_relay_faults_stuck_on() {
    assert_passes("stuck-relay.toml");
}

#[test]
fn monitor_failure_switches_nothing_off() {
    assert_passes("monitor-failure.toml");
}

#[test]
fn common_cause_loss_cycles_nobody() {
    assert_passes("common-cause.toml");
}

#[test]
fn every_shipped_scenario_has_a_test() {
    let mut found: Vec<String> = std::fs::read_dir(scenario_dir())
        .expect("the scenarios folder exists")
        .map(|entry| entry.expect("a readable entry").file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".toml"))
        .collect();
    found.sort();
    let mut tested: Vec<String> = SHIPPED.iter().map(|s| s.to_string()).collect();
    tested.sort();
    assert_eq!(found, tested);
}

#[test]
fn runs_repeat_exactly_with_one_seed() {
    let first = run_shipped("hung-worker.toml");
    let second = run_shipped("hung-worker.toml");
    assert_eq!(first.events, second.events);
    assert_eq!(first.steps, second.steps);
}
