//! Simulator speed: 24 hours of the reference cluster with one worker hang per hour.
//!
//! Run with `cargo bench -p picluster-hal-mock --bench simulate_day`. It prints simulated
//! seconds, wall seconds and their ratio for a few monitor read periods. The goal is a ratio
//! of at least 86,400 (a simulated day in one wall second). The workspace's bench profile
//! builds it with fat LTO and one codegen unit; docs/benchmarks.md has figures for both that
//! and the plain release profile.

use std::time::Instant as WallInstant;

use picluster_firmware::units::{Duration, Instant};
use picluster_hal_mock::scenario::{Action, ScheduledEvent};
use picluster_hal_mock::{RunOptions, Scenario, run};

const DAY: Duration = Duration::from_secs(24 * 3_600);
const HOUR_SECS: u64 = 3_600;

/// Builds a day of the reference cluster. At half past every hour one of the three workers
/// hangs, in turn, and the controller recovers it.
fn day_scenario(sample_period: &str) -> Scenario {
    let text = format!(
        "name = \"a day with a hang per hour\"\nduration = \"24 h\"\nseed = 11\n\
         sample_period = \"{sample_period}\"\n"
    );
    let mut scenario = Scenario::from_toml(&text, "benchmark").expect("a valid scenario");
    let workers = [0usize, 1, 3];
    for hour in 0..24u64 {
        scenario.events.push(ScheduledEvent {
            at: Instant::from_secs(hour * HOUR_SECS + HOUR_SECS / 2),
            action: Action::Hang(workers[hour as usize % workers.len()]),
        });
    }
    scenario
}

fn main() {
    println!("simulated 24 h of the reference cluster, one hang per hour (bench profile)");
    println!("sample period | simulated s | wall s | ratio | steps | events | recoveries");
    for period in ["10 ms", "50 ms", "100 ms"] {
        let scenario = day_scenario(period);
        let started = WallInstant::now();
        let report = run(&scenario, RunOptions::default()).expect("the day runs");
        let wall = started.elapsed().as_secs_f64();
        let simulated = DAY.as_secs() as f64;
        let recoveries = report
            .events
            .iter()
            .filter(|e| matches!(e.kind, picluster_firmware::event::EventKind::ResetPulsed))
            .count();
        println!(
            "{period:>13} | {simulated:>11.0} | {wall:>6.3} | {:>7.0} | {} | {} | {recoveries}",
            simulated / wall,
            report.steps,
            report.events.len(),
        );
    }
}
