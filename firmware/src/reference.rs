//! The reference cluster: three switched workers and a Pi 3 head on one 5.4 A USB charger.
//!
//! The simulator's default world, the example configuration file and the examples all describe
//! this cluster. A test in the supervisor checks that the shipped TOML file matches it.

use heapless::{String, Vec};

use crate::config::{
    ClusterConfig, LineId, NodeConfig, Polarity, QuarantinePower, RecoveryConfig, Role,
    SupplyConfig, SwitchLine, Timings,
};
use crate::units::{Duration, Milliamps, Millivolts};

/// Node capacity used for the reference cluster and the supervisor.
pub const MAX_NODES: usize = 64;

/// Returns the supply: a 4-port USB charger rated 5 V, 5.4 A in total (its label).
pub fn supply() -> SupplyConfig {
    SupplyConfig {
        limit: Milliamps(5_400),
        // Estimate: 400 mA (7 %) kept free for the monitor's 1 % gain error, cable losses and
        // a node's draw rising between two samples.
        headroom: Milliamps(400),
        // The Pi flags under-voltage at about 4.63 V at the board; the monitor sits before
        // the cables, which drop roughly 0.1 V at 1 A (estimate), so the supply trips at 4.75 V.
        under_voltage: Millivolts(4_750),
        // 100 mV above the trip level, so one noisy sample cannot clear the trip.
        under_voltage_clear: Millivolts(4_850),
        // The draw must fall 200 mA under the budget before a trip clears (about one board's
        // idle current less), so shedding one node is not undone by the next sample.
        over_current_hysteresis: Milliamps(200),
    }
}

/// Controller delays for the reference cluster.
pub fn timings() -> Timings {
    Timings {
        // Estimate: a Pi's current settles to its boot level within 3 s of power-on, once the
        // GPU firmware is loaded from the SD card.
        inrush_window: Duration::from_secs(3),
        // Estimate: Raspberry Pi OS Lite on a Pi 1 Model B reaches the heartbeat agent in about
        // 60 s; 90 s leaves a margin for a file system check.
        boot_grace: Duration::from_secs(90),
        // 15 s: fifteen missed beats of a 1 Hz agent, long enough to ride out a busy minute.
        heartbeat_timeout: Duration::from_secs(15),
        // 5 ms: longer than a relay contact's or a long wire's ringing, far shorter than any
        // heartbeat period.
        debounce: Duration::from_millis(5),
        // 40 raw edges in 100 ms (400 Hz) is no heartbeat any agent or LED trigger produces.
        noisy_window: Duration::from_millis(100),
        noisy_edges: 40,
        // Estimate: 5 s lets the board's 5 V rail capacitors discharge so the SoC resets fully.
        min_off_time: Duration::from_secs(5),
        // 1 s: the monitor delivers a sample every few milliseconds, and a Pi draws current
        // within milliseconds of power-on.
        verify_window: Duration::from_secs(1),
        // 50 ms over a threshold before a trip: longer than a single noisy sample, short enough
        // that the draw passes the limit for well under 100 ms.
        trip_delay: Duration::from_millis(50),
        // The RUN line needs only microseconds low to reset the SoC; 100 ms is generous.
        reset_pulse: Duration::from_millis(100),
        // Recovery ladder: 90 s doubling, at most 3 cycles in 15 minutes.
        backoff: Duration::from_secs(90),
        max_cycles: 3,
        cycle_window: Duration::from_secs(15 * 60),
        // 1 s without a sample: hundreds of missed conversions.
        telemetry_timeout: Duration::from_secs(1),
    }
}

/// Recovery policy of the reference cluster.
pub fn recovery() -> RecoveryConfig {
    RecoveryConfig {
        reset_first: true,
        quarantine_power: QuarantinePower::Off,
    }
}

/// One node of the reference table: name, board currents and lines.
struct Board {
    name: &'static str,
    role: Role,
    priority: u8,
    switch: Option<u32>,
    reset: Option<u32>,
    heartbeat: Option<u32>,
    idle_ma: i32,
    boot_peak_ma: i32,
}

// Currents are the boards' published typical figures and measured boot peaks:
// Pi 2 Model B 0.35 A typical, 0.40 A boot peak; Pi 3 Model B 0.40 A, 0.75 A;
// Pi 1 Model B rev 2 0.40 A, 0.45 A. Lines are BCM numbers on the head's header (docs/wiring.md).
const BOARDS: [Board; 4] = [
    Board {
        name: "raspberrypi0.lan",
        role: Role::Worker,
        priority: 30,
        switch: Some(17),
        reset: Some(5),
        heartbeat: Some(23),
        idle_ma: 350,
        boot_peak_ma: 400,
    },
    Board {
        name: "raspberrypi1.lan",
        role: Role::Worker,
        priority: 20,
        switch: Some(27),
        reset: Some(6),
        heartbeat: Some(24),
        idle_ma: 350,
        boot_peak_ma: 400,
    },
    Board {
        name: "raspberrypi2.lan",
        role: Role::Head,
        priority: 255,
        switch: None,
        reset: None,
        heartbeat: None,
        idle_ma: 400,
        boot_peak_ma: 750,
    },
    Board {
        name: "raspberrypi3.lan",
        role: Role::Worker,
        priority: 10,
        switch: Some(22),
        reset: Some(13),
        heartbeat: Some(25),
        idle_ma: 400,
        boot_peak_ma: 450,
    },
];

/// Estimate: every board draws at least 100 mA within a second of power-on (SoC, USB hub and
/// Ethernet come up at once), so a smaller step means the switch did not act.
const MIN_STEP: Milliamps = Milliamps(100);

/// Builds the reference cluster's configuration.
pub fn cluster() -> ClusterConfig<MAX_NODES> {
    let mut nodes = Vec::new();
    for board in &BOARDS {
        let node = NodeConfig {
            name: String::try_from(board.name).expect("reference names fit NAME_CAPACITY"),
            role: board.role,
            priority: board.priority,
            // Fail-safe load switches: the enable input is pulled on, and a high level on the
            // head's line turns a MOSFET on that pulls it off. A released line, a booting head
            // and an unplugged head all leave the worker powered (docs/wiring.md).
            switch: board.switch.map(|line| SwitchLine {
                line: LineId(line),
                polarity: Polarity::ActiveLow,
            }),
            // RUN is driven through a MOSFET: a high level pulls RUN low and resets the SoC,
            // and an unplugged head leaves RUN to the board's own pull-up.
            reset: board.reset.map(|line| SwitchLine {
                line: LineId(line),
                polarity: Polarity::ActiveHigh,
            }),
            heartbeat: board.heartbeat.map(LineId),
            boot_peak: Milliamps(board.boot_peak_ma),
            idle: Milliamps(board.idle_ma),
            min_step: MIN_STEP,
        };
        let pushed = nodes.push(node);
        assert!(
            pushed.is_ok(),
            "MAX_NODES is smaller than the reference table"
        );
    }
    ClusterConfig {
        supply: supply(),
        timings: timings(),
        recovery: recovery(),
        nodes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_cluster_is_valid() {
        assert_eq!(cluster().validate(), Ok(()));
    }

    #[test]
    fn reference_budget_is_five_amps() {
        assert_eq!(supply().budget(), Milliamps(5_000));
    }
}
