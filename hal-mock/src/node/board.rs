//! Figures of the Raspberry Pi boards in the reference cluster.
//!
//! Sources: the typical currents of the Pi 2 Model B (350 mA) and Pi 3 Model B (400 mA) are the
//! "typical bare-board active current consumption" column of the Raspberry Pi documentation's
//! power supply table. That table gives 500 mA for the Pi 1 Model B; the reference cluster
//! configures 400 mA for its Pi 1 Model B rev 2, a measured figure that this crate keeps so the
//! simulator and the configuration agree. Boot and stress peaks are the reference cluster's
//! figures from published measurements of the boards. This crate did not reproduce them, so
//! treat them as estimates. Every other figure here is an estimate and says so.

use picluster_firmware::units::{Duration, Milliamps, Millivolts};

/// A board type the simulator models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BoardModel {
    /// Raspberry Pi 1 Model B revision 2 (BCM2835, one ARM1176 core, with the P6 RUN header).
    Pi1ModelBRev2,
    /// Raspberry Pi 2 Model B (BCM2836, four Cortex-A7 cores).
    Pi2ModelB,
    /// Raspberry Pi 3 Model B (BCM2837, four Cortex-A53 cores).
    Pi3ModelB,
}

/// Currents and timings of one board type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoardFigures {
    /// Idle draw with the OS up.
    pub typical: Milliamps,
    /// Highest draw while booting.
    pub boot_peak: Milliamps,
    /// Highest draw with every core loaded.
    pub stress_peak: Milliamps,
    /// Draw while the input capacitors charge right after power-on.
    pub inrush: Milliamps,
    /// How long the inrush lasts.
    pub inrush_time: Duration,
    /// How long the boot peak lasts after the inrush.
    pub boot_peak_time: Duration,
    /// Time from power-on until the OS runs the heartbeat agent.
    pub boot_time: Duration,
    /// Draw while the SoC is held in reset (RUN low) or browned out.
    pub reset_current: Milliamps,
    /// CPU cores, the load average that a full stress run produces.
    pub cores: u8,
}

/// Voltage at the board below which a Pi flags under-voltage (`get_throttled` bit 0) and, in
/// this model, resets: about 4.63 V, the level the Raspberry Pi firmware reports.
pub const UNDER_VOLTAGE: Millivolts = Millivolts(4_630);

/// Estimate: the board's input capacitance rides through dips shorter than 10 ms; a board
/// below [`UNDER_VOLTAGE`] for longer resets.
pub const BROWN_OUT_HOLD: Duration = Duration::from_millis(10);

/// Estimate: after a brown-out the board restarts once the voltage has stayed 50 mV above
/// [`UNDER_VOLTAGE`] for 100 ms, as its regulators' power-good delays allow.
pub const BROWN_OUT_RECOVERY: Duration = Duration::from_millis(100);

/// The margin above [`UNDER_VOLTAGE`] that counts as recovered (estimate, see
/// [`BROWN_OUT_RECOVERY`]).
pub const BROWN_OUT_HYSTERESIS: Millivolts = Millivolts(50);

impl BoardModel {
    /// Returns the board's figures.
    pub const fn figures(self) -> BoardFigures {
        match self {
            BoardModel::Pi1ModelBRev2 => BoardFigures {
                typical: Milliamps(400),
                boot_peak: Milliamps(450),
                stress_peak: Milliamps(700),
                inrush: Milliamps(900),
                inrush_time: INRUSH_TIME,
                boot_peak_time: BOOT_PEAK_TIME,
                // Estimate: Raspberry Pi OS Lite on a single ARM1176 core reaches the heartbeat
                // agent in about 60 s.
                boot_time: Duration::from_secs(60),
                reset_current: RESET_CURRENT,
                cores: 1,
            },
            BoardModel::Pi2ModelB => BoardFigures {
                typical: Milliamps(350),
                boot_peak: Milliamps(400),
                stress_peak: Milliamps(820),
                inrush: Milliamps(800),
                inrush_time: INRUSH_TIME,
                boot_peak_time: BOOT_PEAK_TIME,
                // Estimate: about 30 s to the heartbeat agent on four Cortex-A7 cores.
                boot_time: Duration::from_secs(30),
                reset_current: RESET_CURRENT,
                cores: 4,
            },
            BoardModel::Pi3ModelB => BoardFigures {
                typical: Milliamps(400),
                boot_peak: Milliamps(750),
                stress_peak: Milliamps(1_340),
                inrush: Milliamps(1_500),
                inrush_time: INRUSH_TIME,
                boot_peak_time: BOOT_PEAK_TIME,
                // Estimate: about 20 s to the heartbeat agent on four Cortex-A53 cores.
                boot_time: Duration::from_secs(20),
                reset_current: RESET_CURRENT,
                cores: 4,
            },
        }
    }

    /// Returns the short name used in scenario files.
    pub const fn key(self) -> &'static str {
        match self {
            BoardModel::Pi1ModelBRev2 => "pi1-model-b-rev2",
            BoardModel::Pi2ModelB => "pi2-model-b",
            BoardModel::Pi3ModelB => "pi3-model-b",
        }
    }

    /// Every model, for listing in messages.
    pub const ALL: [BoardModel; 3] = [
        BoardModel::Pi1ModelBRev2,
        BoardModel::Pi2ModelB,
        BoardModel::Pi3ModelB,
    ];

    /// Finds a model by its scenario name.
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|model| model.key() == key)
    }
}

// Estimate: the inrush (twice the boot peak, charging the input capacitors through the
// polyfuse) is over within 5 ms.
const INRUSH_TIME: Duration = Duration::from_millis(5);

// Estimate: the boot peak (GPU firmware, then the kernel bringing up all cores, USB and
// Ethernet) lasts 3 s. The controller's 3 s inrush window rests on the same estimate.
const BOOT_PEAK_TIME: Duration = Duration::from_secs(3);

// Estimate: with RUN low the SoC is in reset, but the regulators, the USB hub and Ethernet chip
// still draw about 100 mA.
const RESET_CURRENT: Milliamps = Milliamps(100);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_figures_match_the_table() {
        let pi2 = BoardModel::Pi2ModelB.figures();
        assert_eq!(
            (pi2.typical, pi2.boot_peak, pi2.stress_peak),
            (Milliamps(350), Milliamps(400), Milliamps(820))
        );
        let pi3 = BoardModel::Pi3ModelB.figures();
        assert_eq!(
            (pi3.typical, pi3.boot_peak, pi3.stress_peak),
            (Milliamps(400), Milliamps(750), Milliamps(1_340))
        );
        let pi1 = BoardModel::Pi1ModelBRev2.figures();
        assert_eq!(
            (pi1.typical, pi1.boot_peak, pi1.stress_peak),
            (Milliamps(400), Milliamps(450), Milliamps(700))
        );
    }

    #[test]
    fn keys_round_trip() {
        for model in BoardModel::ALL {
            assert_eq!(BoardModel::from_key(model.key()), Some(model));
        }
        assert_eq!(BoardModel::from_key("pi5"), None);
    }
}
