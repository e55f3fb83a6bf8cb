//! Node models: a Raspberry Pi's power phases, current draw and heartbeat.
//!
//! A node is powered while its switch conducts and the supply keeps its voltage. After
//! power-on it draws an inrush, then its boot peak, then its typical current until the OS
//! starts the heartbeat agent. Its RUN line held low keeps the SoC in reset; released, the
//! board boots again. A board whose voltage stays under the Pi's under-voltage level browns
//! out and restarts once the voltage recovers.

pub mod board;
pub mod heartbeat;

use picluster_firmware::config::{LineId, Polarity};
use picluster_firmware::units::{Instant, Milliamps, Millivolts};

pub use board::{BoardFigures, BoardModel};
pub use heartbeat::{Behaviour, Generator};

use board::{BROWN_OUT_HOLD, BROWN_OUT_HYSTERESIS, BROWN_OUT_RECOVERY, UNDER_VOLTAGE};

/// A node's physical phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// No power.
    Unpowered,
    /// Input capacitors charging right after power-on.
    Inrush,
    /// Firmware and kernel start: the boot peak.
    BootPeak,
    /// The rest of the boot, at typical current, until the heartbeat agent starts.
    BootRest,
    /// The OS runs; the heartbeat behaves as configured.
    Running,
    /// The OS hung or crashed: the heartbeat line keeps its last level.
    Hung,
    /// RUN is held low: the SoC is in reset.
    InReset,
    /// The board voltage stayed under the under-voltage level: the board is down until it
    /// recovers.
    BrownedOut,
}

impl Phase {
    /// Returns the lower-case name used in traces.
    pub const fn name(self) -> &'static str {
        match self {
            Phase::Unpowered => "unpowered",
            Phase::Inrush => "inrush",
            Phase::BootPeak => "boot-peak",
            Phase::BootRest => "booting",
            Phase::Running => "running",
            Phase::Hung => "hung",
            Phase::InReset => "in-reset",
            Phase::BrownedOut => "browned-out",
        }
    }
}

/// A fault of a node's power switch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RelayFault {
    /// The switch follows its line.
    #[default]
    None,
    /// Contacts welded: the node stays powered whatever the line's level.
    Welded,
    /// The switch never conducts.
    Open,
}

/// A node's wiring and behaviour.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeSpec {
    /// The node's name (its hostname).
    pub name: String,
    /// The board type.
    pub board: BoardModel,
    /// The power switch line and its polarity; `None` for the head, which is always powered.
    pub switch: Option<(LineId, Polarity)>,
    /// The head's line that drives RUN, and the level on it that asserts a reset (a low level
    /// when RUN is wired directly, a high level through a MOSFET).
    pub run: Option<(LineId, Polarity)>,
    /// The heartbeat line the node drives.
    pub heartbeat_line: Option<LineId>,
    /// The heartbeat behaviour.
    pub behaviour: Behaviour,
    /// The node hangs at this time if its OS is running then.
    pub hang_at: Option<Instant>,
    /// The node is booted and running when the world starts (as after a daemon restart).
    pub initially_running: bool,
    /// Seed for the node's jitter.
    pub seed: u64,
}

/// One node in the world.
#[derive(Clone, Debug)]
pub struct NodeModel {
    spec: NodeSpec,
    figures: BoardFigures,
    phase: Phase,
    /// When the present phase ends by itself.
    phase_until: Option<Instant>,
    switch_closed: bool,
    run_low: bool,
    relay: RelayFault,
    stress: bool,
    usb_load: Milliamps,
    heartbeat: Generator,
    board_voltage: Millivolts,
    below_since: Option<Instant>,
    recovered_since: Option<Instant>,
    under_voltage_now: bool,
    under_voltage_seen: bool,
    boots: u32,
    brown_outs: u32,
}

impl NodeModel {
    /// Builds a node from its spec at `now`; a node without a switch line, or one that starts
    /// running, is powered and booted.
    pub fn new(spec: NodeSpec, now: Instant) -> Self {
        let figures = spec.board.figures();
        let heartbeat = Generator::new(spec.behaviour, spec.seed);
        let mut node = Self {
            figures,
            phase: Phase::Unpowered,
            phase_until: None,
            switch_closed: false,
            run_low: false,
            relay: RelayFault::None,
            stress: false,
            usb_load: Milliamps(0),
            heartbeat,
            board_voltage: Millivolts(0),
            below_since: None,
            recovered_since: None,
            under_voltage_now: false,
            under_voltage_seen: false,
            boots: 0,
            brown_outs: 0,
            spec,
        };
        if node.spec.switch.is_none() || node.spec.initially_running {
            node.switch_closed = true;
            node.enter_running(now);
        }
        node
    }

    /// Returns the spec.
    pub fn spec(&self) -> &NodeSpec {
        &self.spec
    }

    /// Returns the board's figures.
    pub fn figures(&self) -> BoardFigures {
        self.figures
    }

    /// Returns the phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Returns whether the board has power (any phase but unpowered or browned out).
    pub fn powered(&self) -> bool {
        !matches!(self.phase, Phase::Unpowered | Phase::BrownedOut)
    }

    /// Returns the current the node draws in its present phase.
    pub fn current(&self) -> Milliamps {
        let f = &self.figures;
        let board = match self.phase {
            Phase::Unpowered => return Milliamps(0),
            Phase::BrownedOut => return f.reset_current,
            Phase::Inrush => f.inrush,
            Phase::BootPeak => f.boot_peak,
            Phase::BootRest | Phase::Hung => f.typical,
            Phase::Running if self.stress => f.stress_peak,
            Phase::Running => f.typical,
            Phase::InReset => f.reset_current,
        };
        board + self.usb_load
    }

    /// Returns the level the node drives on its heartbeat line, `None` while released.
    pub fn heartbeat_drive(&self) -> Option<bool> {
        self.heartbeat.level()
    }

    /// Returns the voltage last seen at the board.
    pub fn board_voltage(&self) -> Millivolts {
        self.board_voltage
    }

    /// Returns the `get_throttled` under-voltage bits: 0x1 while under-voltage, 0x10000 once
    /// it has happened since the world started.
    pub fn throttled(&self) -> u32 {
        u32::from(self.under_voltage_now) | (u32::from(self.under_voltage_seen) << 16)
    }

    /// Returns how many times the OS started (power-on, reset, brown-out recovery).
    pub fn boots(&self) -> u32 {
        self.boots
    }

    /// Returns how many times the board browned out.
    pub fn brown_outs(&self) -> u32 {
        self.brown_outs
    }

    /// Returns the relay fault in force.
    pub fn relay_fault(&self) -> RelayFault {
        self.relay
    }

    /// Returns whether a stress load runs.
    pub fn stressed(&self) -> bool {
        self.stress
    }

    /// Returns the one-minute load average the model assumes: every core busy under stress.
    fn load(&self) -> f64 {
        if self.stress {
            f64::from(self.figures.cores)
        } else {
            0.0
        }
    }

    /// Applies the switch line's level at `now`.
    pub fn set_switch_line(&mut self, now: Instant, level_high: bool) {
        let Some((_, polarity)) = self.spec.switch else {
            return;
        };
        let commanded = polarity.is_on(level_high);
        let closed = match self.relay {
            RelayFault::None => commanded,
            RelayFault::Welded => true,
            RelayFault::Open => false,
        };
        self.set_switch_closed(now, closed);
    }

    /// Sets a relay fault; the switch takes its effect at once with the line at
    /// `line_high`.
    pub fn set_relay_fault(&mut self, now: Instant, fault: RelayFault, line_high: bool) {
        self.relay = fault;
        self.set_switch_line(now, line_high);
    }

    fn set_switch_closed(&mut self, now: Instant, closed: bool) {
        if closed == self.switch_closed {
            return;
        }
        self.switch_closed = closed;
        if closed {
            self.boots += 1;
            self.heartbeat.release();
            self.set_phase(Phase::Inrush, Some(now + self.figures.inrush_time));
            if self.run_low {
                self.set_phase(Phase::InReset, None);
            }
        } else {
            self.power_down();
        }
    }

    /// Applies a level of the head's reset line at `now`, through the wiring's polarity.
    pub fn set_head_reset_line(&mut self, now: Instant, level_high: bool) {
        let asserted = self
            .spec
            .run
            .is_some_and(|(_, polarity)| polarity.is_on(level_high));
        self.set_run_line(now, !asserted);
    }

    /// Applies the RUN line's level at `now`: low keeps the SoC in reset.
    pub fn set_run_line(&mut self, now: Instant, level_high: bool) {
        let low = !level_high;
        if low == self.run_low {
            return;
        }
        self.run_low = low;
        if !self.powered() {
            return;
        }
        if low {
            self.heartbeat.release();
            self.set_phase(Phase::InReset, None);
        } else if self.phase == Phase::InReset {
            self.reboot(now);
        }
    }

    /// Hangs the OS now if it runs.
    pub fn hang(&mut self) {
        if self.phase == Phase::Running {
            self.heartbeat.freeze();
            self.set_phase(Phase::Hung, None);
        }
    }

    /// Starts or stops a stress load on every core.
    pub fn set_stress(&mut self, on: bool) {
        self.stress = on;
    }

    /// Sets the extra current of USB devices on the node's ports.
    pub fn set_usb_load(&mut self, load: Milliamps) {
        self.usb_load = load;
    }

    /// Replaces the heartbeat behaviour; a running heartbeat switches at once.
    pub fn set_behaviour(&mut self, now: Instant, behaviour: Behaviour) {
        self.spec.behaviour = behaviour;
        let load = self.load();
        if self.phase == Phase::Running {
            self.heartbeat.set_behaviour(now, behaviour, load);
            if !behaviour.boots() {
                self.set_phase(Phase::BootRest, None);
            }
        } else {
            let seed = self.spec.seed;
            self.heartbeat = Generator::new(behaviour, seed);
        }
    }

    /// Takes the voltage at the board at `now`; returns whether the phase changed.
    pub fn observe_voltage(&mut self, now: Instant, board: Millivolts) -> bool {
        self.board_voltage = board;
        self.under_voltage_now = self.switch_closed && board < UNDER_VOLTAGE;
        self.under_voltage_seen |= self.under_voltage_now;

        if self.phase == Phase::BrownedOut {
            self.below_since = None;
            if board >= UNDER_VOLTAGE + BROWN_OUT_HYSTERESIS {
                self.recovered_since.get_or_insert(now);
            } else {
                self.recovered_since = None;
            }
            return false;
        }
        if self.powered() && board < UNDER_VOLTAGE {
            self.below_since.get_or_insert(now);
        } else {
            self.below_since = None;
        }
        false
    }

    /// Returns the next time the node changes by itself.
    pub fn next_change(&self) -> Option<Instant> {
        let mut next = self.phase_until;
        let mut consider = |at: Option<Instant>| {
            if let Some(at) = at {
                next = Some(next.map_or(at, |n: Instant| n.min(at)));
            }
        };
        consider(self.spec.hang_at);
        if self.phase == Phase::Running {
            consider(self.heartbeat.next_change());
            consider(self.heartbeat.crash_at());
        }
        consider(self.below_since.map(|at| at + BROWN_OUT_HOLD));
        if self.phase == Phase::BrownedOut {
            consider(self.recovered_since.map(|at| at + BROWN_OUT_RECOVERY));
        }
        next
    }

    /// Makes every change due at `now`.
    pub fn advance(&mut self, now: Instant) {
        // A node can pass through several phases at one instant only by zero-length phases,
        // which the figures never have; a few passes cover every case.
        for _ in 0..4 {
            if !self.advance_once(now) {
                break;
            }
        }
    }

    fn advance_once(&mut self, now: Instant) -> bool {
        if self
            .below_since
            .is_some_and(|at| now >= at + BROWN_OUT_HOLD)
        {
            self.brown_out();
            return true;
        }
        if self.phase == Phase::BrownedOut
            && self
                .recovered_since
                .is_some_and(|at| now >= at + BROWN_OUT_RECOVERY)
        {
            self.recovered_since = None;
            self.reboot(now);
            return true;
        }
        if self.phase_until.is_some_and(|until| now >= until) {
            self.end_phase(now);
            return true;
        }
        if self.spec.hang_at.is_some_and(|at| now >= at) {
            // The hang happens only to a running OS; at any other time it is dropped.
            self.spec.hang_at = None;
            self.hang();
            return true;
        }
        if self.phase != Phase::Running {
            return false;
        }
        if self.heartbeat.crash_at().is_some_and(|at| now >= at) {
            self.crash(now);
            return true;
        }
        if self.heartbeat.next_change().is_some_and(|at| now >= at) {
            let load = self.load();
            self.heartbeat.advance(now, load);
        }
        false
    }

    fn end_phase(&mut self, now: Instant) {
        let f = self.figures;
        match self.phase {
            Phase::Inrush => self.set_phase(Phase::BootPeak, Some(now + f.boot_peak_time)),
            Phase::BootPeak => {
                let rest = f.boot_time - f.inrush_time - f.boot_peak_time;
                let until = self.spec.behaviour.boots().then_some(now + rest);
                self.set_phase(Phase::BootRest, until);
            }
            Phase::BootRest => self.enter_running(now),
            // A crashed board with a watchdog reboots when its hang phase ends.
            Phase::Hung => self.reboot(now),
            _ => self.phase_until = None,
        }
    }

    fn enter_running(&mut self, now: Instant) {
        if !self.spec.behaviour.boots() {
            self.set_phase(Phase::BootRest, None);
            return;
        }
        self.set_phase(Phase::Running, None);
        let load = self.load();
        self.heartbeat.start(now, load);
    }

    fn crash(&mut self, now: Instant) {
        self.heartbeat.freeze();
        let restart = match self.spec.behaviour {
            Behaviour::RebootLoop { restart_after, .. } => restart_after,
            _ => None,
        };
        self.set_phase(Phase::Hung, restart.map(|after| now + after));
    }

    /// Boots the OS again without a new inrush: after a reset, a watchdog or a brown-out.
    fn reboot(&mut self, now: Instant) {
        self.boots += 1;
        self.heartbeat.release();
        self.set_phase(Phase::BootPeak, Some(now + self.figures.boot_peak_time));
    }

    fn brown_out(&mut self) {
        self.below_since = None;
        self.recovered_since = None;
        self.brown_outs += 1;
        self.heartbeat.release();
        self.set_phase(Phase::BrownedOut, None);
    }

    fn power_down(&mut self) {
        self.below_since = None;
        self.recovered_since = None;
        self.heartbeat.release();
        self.set_phase(Phase::Unpowered, None);
    }

    fn set_phase(&mut self, phase: Phase, until: Option<Instant>) {
        self.phase = phase;
        self.phase_until = until;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use picluster_firmware::units::Duration;

    fn worker(board: BoardModel) -> NodeModel {
        let spec = NodeSpec {
            name: "worker".into(),
            board,
            switch: Some((LineId(17), Polarity::ActiveHigh)),
            run: Some((LineId(5), Polarity::ActiveLow)),
            heartbeat_line: Some(LineId(23)),
            behaviour: Behaviour::healthy(),
            hang_at: None,
            initially_running: false,
            seed: 1,
        };
        NodeModel::new(spec, Instant::ZERO)
    }

    fn run_until(node: &mut NodeModel, end: Instant) {
        while let Some(at) = node.next_change().filter(|&at| at <= end) {
            node.advance(at);
        }
    }

    #[test]
    fn boot_profile_steps_through_phases() {
        let mut node = worker(BoardModel::Pi3ModelB);
        let on = Instant::from_secs(1);
        node.set_switch_line(on, true);
        assert_eq!(
            (node.phase(), node.current()),
            (Phase::Inrush, Milliamps(1_500))
        );

        run_until(&mut node, on + Duration::from_millis(5));
        assert_eq!(
            (node.phase(), node.current()),
            (Phase::BootPeak, Milliamps(750))
        );

        run_until(&mut node, on + Duration::from_millis(3_005));
        assert_eq!(
            (node.phase(), node.current()),
            (Phase::BootRest, Milliamps(400))
        );

        run_until(&mut node, on + Duration::from_secs(20));
        assert_eq!(node.phase(), Phase::Running);
        assert_eq!(node.heartbeat_drive(), Some(false));
    }

    #[test]
    fn active_low_switch_powers_on_low_level() {
        let mut node = worker(BoardModel::Pi2ModelB);
        node.spec.switch = Some((LineId(17), Polarity::ActiveLow));
        node.set_switch_line(Instant::ZERO, true);
        assert_eq!(node.phase(), Phase::Unpowered);
        node.set_switch_line(Instant::ZERO, false);
        assert_eq!(node.phase(), Phase::Inrush);
    }

    #[test]
    fn welded_relay_keeps_power_when_line_goes_off() {
        let mut node = worker(BoardModel::Pi2ModelB);
        node.set_switch_line(Instant::ZERO, true);
        node.set_relay_fault(Instant::ZERO, RelayFault::Welded, true);
        node.set_switch_line(Instant::from_secs(1), false);
        assert!(node.powered());
    }

    #[test]
    fn run_low_resets_and_release_reboots() {
        let mut node = worker(BoardModel::Pi2ModelB);
        node.set_switch_line(Instant::ZERO, true);
        run_until(&mut node, Instant::from_secs(40));
        assert_eq!(node.phase(), Phase::Running);

        node.set_run_line(Instant::from_secs(40), false);
        assert_eq!(
            (node.phase(), node.current()),
            (Phase::InReset, Milliamps(100))
        );
        assert_eq!(node.heartbeat_drive(), None);

        node.set_run_line(Instant::from_millis(40_100), true);
        assert_eq!(node.phase(), Phase::BootPeak);
        assert_eq!(node.boots(), 2);
    }

    #[test]
    fn hang_freezes_heartbeat_level() {
        let mut node = worker(BoardModel::Pi2ModelB);
        node.set_switch_line(Instant::ZERO, true);
        run_until(&mut node, Instant::from_millis(31_500));
        let level = node.heartbeat_drive();
        node.hang();
        assert_eq!(node.phase(), Phase::Hung);
        assert_eq!(node.heartbeat_drive(), level);
        assert_eq!(node.next_change(), None);
    }

    #[test]
    fn long_dip_browns_out_and_recovery_reboots() {
        let mut node = worker(BoardModel::Pi2ModelB);
        node.set_switch_line(Instant::ZERO, true);
        run_until(&mut node, Instant::from_secs(40));

        let dip = Instant::from_secs(41);
        node.observe_voltage(dip, Millivolts(4_500));
        assert_eq!(node.throttled(), 0x1_0001);
        run_until(&mut node, dip + BROWN_OUT_HOLD - Duration::from_micros(1));
        assert_eq!(node.phase(), Phase::Running);
        run_until(&mut node, dip + BROWN_OUT_HOLD);
        assert_eq!(node.phase(), Phase::BrownedOut);
        assert_eq!(node.brown_outs(), 1);

        let back = Instant::from_secs(42);
        node.observe_voltage(back, Millivolts(5_000));
        assert_eq!(node.throttled(), 0x1_0000);
        node.advance(back + BROWN_OUT_RECOVERY);
        assert_eq!(node.phase(), Phase::BootPeak);
    }

    #[test]
    fn short_dip_rides_through() {
        let mut node = worker(BoardModel::Pi2ModelB);
        node.set_switch_line(Instant::ZERO, true);
        node.observe_voltage(Instant::from_millis(1), Millivolts(4_400));
        node.observe_voltage(Instant::from_millis(6), Millivolts(5_000));
        run_until(&mut node, Instant::from_millis(50));
        assert_eq!(node.brown_outs(), 0);
        assert_eq!(node.phase(), Phase::BootPeak);
    }

    #[test]
    fn reboot_loop_crashes_after_each_boot() {
        let mut node = worker(BoardModel::Pi2ModelB);
        node.set_behaviour(
            Instant::ZERO,
            Behaviour::RebootLoop {
                period: Duration::from_secs(1),
                alive_for: Duration::from_secs(5),
                restart_after: None,
            },
        );
        node.set_switch_line(Instant::ZERO, true);
        run_until(&mut node, Instant::from_secs(34));
        assert_eq!(node.phase(), Phase::Running);
        run_until(&mut node, Instant::from_secs(36));
        assert_eq!(node.phase(), Phase::Hung);
    }

    #[test]
    fn never_booting_node_draws_but_stays_silent() {
        let mut node = worker(BoardModel::Pi1ModelBRev2);
        node.set_behaviour(Instant::ZERO, Behaviour::NeverBoots);
        node.set_switch_line(Instant::ZERO, true);
        run_until(&mut node, Instant::from_secs(600));
        assert_eq!(node.phase(), Phase::BootRest);
        assert_eq!(node.current(), Milliamps(400));
        assert_eq!(node.heartbeat_drive(), None);
    }
}
