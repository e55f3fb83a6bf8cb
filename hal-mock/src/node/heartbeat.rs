//! The heartbeat line of a node whose OS runs.
//!
//! A [`Behaviour`] describes the line's pattern. A [`Generator`] produces its edges one at a
//! time from a seeded random generator, so that runs repeat exactly.

use picluster_firmware::units::{Duration, Instant};

use crate::rng::SplitMix64;

/// A node's heartbeat behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Healthy agent: toggles the line every `period`, each interval off by up to `jitter`.
    Agent {
        /// Time between toggles.
        period: Duration,
        /// Largest deviation of one interval from `period`, either way.
        jitter: Duration,
    },
    /// The kernel's LED `heartbeat` trigger driving the line: two 70 ms pulses per period,
    /// the period shortening with the load average.
    KernelLed,
    /// The node draws power but its OS never reaches the agent: the line never toggles.
    NeverBoots,
    /// The agent runs for `alive_for` after each boot, then the OS crashes and the line stops.
    /// With `restart_after`, the board reboots by itself that long after the crash (a
    /// watchdog); without, it stays crashed until reset or power-cycled.
    RebootLoop {
        /// Time between toggles while alive.
        period: Duration,
        /// Time the agent runs after each boot.
        alive_for: Duration,
        /// Delay from a crash to the board's own reboot, if it has a watchdog.
        restart_after: Option<Duration>,
    },
    /// A healthy agent plus bursts of fast edges (a long unshielded wire near a relay).
    Noisy {
        /// Time between the agent's toggles.
        period: Duration,
        /// Time from one burst to the next.
        burst_every: Duration,
        /// Edges in one burst.
        burst_edges: u16,
        /// Time between the edges of a burst.
        burst_spacing: Duration,
    },
    /// The line goes high when the OS starts and never toggles.
    StuckHigh,
}

impl Behaviour {
    /// Returns a healthy 1 Hz agent with 20 ms of jitter.
    pub const fn healthy() -> Self {
        Behaviour::Agent {
            period: Duration::from_secs(1),
            // Estimate: a sleeping user-space loop on a lightly loaded Pi wakes within a few
            // milliseconds; 20 ms covers a busy moment.
            jitter: Duration::from_millis(20),
        }
    }

    /// Returns whether the OS reaches the heartbeat agent at all.
    pub const fn boots(self) -> bool {
        !matches!(self, Behaviour::NeverBoots)
    }
}

/// Length of each LED pulse of the kernel's `heartbeat` trigger (Linux
/// drivers/leds/trigger/ledtrig-heartbeat.c).
const LED_PULSE: Duration = Duration::from_millis(70);

/// Returns the kernel `heartbeat` trigger's period for a one-minute load average, per
/// ledtrig-heartbeat.c: 300 + 6720 / (5 x load + 7) ms, which gives 1260 ms idle, 860 ms at
/// load 1 and tends to 300 ms.
pub fn kernel_led_period(load: f64) -> Duration {
    let millis = 300.0 + 6720.0 / (5.0 * load.max(0.0) + 7.0);
    Duration::from_micros((millis * 1_000.0) as u64)
}

/// Edge generator for one boot of a node.
#[derive(Clone, Debug)]
pub struct Generator {
    behaviour: Behaviour,
    rng: SplitMix64,
    /// The level the node drives, `None` while the line is released.
    level: Option<bool>,
    next_toggle: Option<Instant>,
    /// Kernel LED: which of the four steps of a period comes next.
    led_step: u8,
    /// Noisy: the next burst edge and the edges left in the burst.
    next_burst: Option<Instant>,
    burst_left: u16,
    /// Reboot loop: when the OS crashes.
    crash_at: Option<Instant>,
}

impl Generator {
    /// Builds a stopped generator.
    pub fn new(behaviour: Behaviour, seed: u64) -> Self {
        Self {
            behaviour,
            rng: SplitMix64::new(seed),
            level: None,
            next_toggle: None,
            led_step: 0,
            next_burst: None,
            burst_left: 0,
            crash_at: None,
        }
    }

    /// Returns the behaviour.
    pub fn behaviour(&self) -> Behaviour {
        self.behaviour
    }

    /// Changes the behaviour; a running generator restarts with it at `now`.
    pub fn set_behaviour(&mut self, now: Instant, behaviour: Behaviour, load: f64) {
        let running = self.level.is_some();
        self.behaviour = behaviour;
        if running {
            self.start(now, load);
        }
    }

    /// Returns the level the node drives, or `None` while released.
    pub fn level(&self) -> Option<bool> {
        self.level
    }

    /// Starts the heartbeat as the OS comes up at `now`.
    pub fn start(&mut self, now: Instant, load: f64) {
        self.next_toggle = None;
        self.next_burst = None;
        self.crash_at = None;
        match self.behaviour {
            Behaviour::Agent { .. } => {
                self.level = Some(false);
                self.next_toggle = Some(now + self.agent_interval());
            }
            Behaviour::KernelLed => {
                self.led_step = 0;
                self.level = Some(false);
                self.next_toggle = Some(now);
                self.step_led(now, load);
            }
            Behaviour::NeverBoots => self.level = None,
            Behaviour::RebootLoop {
                period, alive_for, ..
            } => {
                self.level = Some(false);
                self.next_toggle = Some(now + period);
                self.crash_at = Some(now + alive_for);
            }
            Behaviour::Noisy {
                period,
                burst_every,
                ..
            } => {
                self.level = Some(false);
                self.next_toggle = Some(now + period);
                self.next_burst = Some(now + burst_every);
            }
            Behaviour::StuckHigh => self.level = Some(true),
        }
    }

    /// Stops toggling and keeps the level, as a hung OS leaves its GPIO.
    pub fn freeze(&mut self) {
        self.next_toggle = None;
        self.next_burst = None;
        self.crash_at = None;
    }

    /// Releases the line, as when the board loses power or resets.
    pub fn release(&mut self) {
        self.freeze();
        self.level = None;
    }

    /// Returns the next time the line changes by itself.
    pub fn next_change(&self) -> Option<Instant> {
        match (self.next_toggle, self.next_burst) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Returns when the OS crashes, for a reboot loop.
    pub fn crash_at(&self) -> Option<Instant> {
        self.crash_at
    }

    /// Makes the changes due at `now`.
    pub fn advance(&mut self, now: Instant, load: f64) {
        if self.next_burst.is_some_and(|at| at <= now) {
            self.step_burst(now);
        }
        if self.next_toggle.is_some_and(|at| at <= now) {
            match self.behaviour {
                Behaviour::KernelLed => self.step_led(now, load),
                _ => {
                    self.toggle();
                    self.next_toggle = Some(now + self.agent_interval());
                }
            }
        }
    }

    fn toggle(&mut self) {
        self.level = self.level.map(|level| !level);
    }

    fn agent_interval(&mut self) -> Duration {
        match self.behaviour {
            Behaviour::Agent { period, jitter } => {
                let span = jitter.as_micros().min(period.as_micros() / 2) as i64;
                let offset = self.rng.symmetric(span);
                Duration::from_micros((period.as_micros() as i64 + offset) as u64)
            }
            Behaviour::RebootLoop { period, .. } | Behaviour::Noisy { period, .. } => period,
            _ => Duration::from_secs(1),
        }
    }

    /// Takes one step of the LED trigger: on 70 ms, off to a quarter period, on 70 ms, off to
    /// the end of the period.
    fn step_led(&mut self, now: Instant, load: f64) {
        let period = kernel_led_period(load);
        let quarter = Duration::from_micros(period.as_micros() / 4);
        let (high, delay) = match self.led_step {
            0 => (true, LED_PULSE),
            1 => (false, quarter - LED_PULSE),
            2 => (true, LED_PULSE),
            _ => (false, period - quarter - LED_PULSE),
        };
        self.level = Some(high);
        self.led_step = (self.led_step + 1) % 4;
        self.next_toggle = Some(now + delay);
    }

    fn step_burst(&mut self, now: Instant) {
        let Behaviour::Noisy {
            burst_every,
            burst_edges,
            burst_spacing,
            ..
        } = self.behaviour
        else {
            self.next_burst = None;
            return;
        };
        if self.burst_left == 0 {
            self.burst_left = burst_edges;
        }
        self.toggle();
        self.burst_left -= 1;
        self.next_burst = if self.burst_left == 0 {
            Some(now + burst_every)
        } else {
            Some(now + burst_spacing)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edges_until(generator: &mut Generator, end: Instant, load: f64) -> Vec<(Instant, bool)> {
        let mut edges = Vec::new();
        let mut level = generator.level();
        while let Some(at) = generator.next_change().filter(|&at| at <= end) {
            generator.advance(at, load);
            if generator.level() != level {
                level = generator.level();
                edges.push((at, level.unwrap_or(false)));
            }
        }
        edges
    }

    #[test]
    fn kernel_led_period_follows_load() {
        assert_eq!(kernel_led_period(0.0), Duration::from_millis(1_260));
        assert_eq!(kernel_led_period(1.0), Duration::from_millis(860));
        assert_eq!(kernel_led_period(5.0), Duration::from_millis(510));
    }

    #[test]
    fn kernel_led_double_pulse_rhythm() {
        let mut led = Generator::new(Behaviour::KernelLed, 1);
        led.start(Instant::ZERO, 0.0);
        assert_eq!(led.level(), Some(true));
        let edges = edges_until(&mut led, Instant::from_millis(1_260), 0.0);
        let times: Vec<u64> = edges.iter().map(|(at, _)| at.as_micros() / 1_000).collect();
        // Off at 70 ms, on at 315 ms (a quarter of 1260), off at 385 ms, on again at 1260 ms.
        assert_eq!(times, vec![70, 315, 385, 1_260]);
    }

    #[test]
    fn agent_jitter_stays_within_bounds() {
        let mut agent = Generator::new(Behaviour::healthy(), 42);
        agent.start(Instant::ZERO, 0.0);
        let edges = edges_until(&mut agent, Instant::from_secs(100), 0.0);
        assert!(edges.len() >= 98);
        let mut previous = Instant::ZERO;
        for (at, _) in edges {
            let gap = at.since(previous).as_millis();
            assert!((980..=1_020).contains(&gap), "gap {gap} ms");
            previous = at;
        }
    }

    #[test]
    fn same_seed_gives_same_edges() {
        let run = |seed| {
            let mut agent = Generator::new(Behaviour::healthy(), seed);
            agent.start(Instant::ZERO, 0.0);
            edges_until(&mut agent, Instant::from_secs(30), 0.0)
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
    }

    #[test]
    fn noisy_line_bursts_forty_edges() {
        let behaviour = Behaviour::Noisy {
            period: Duration::from_secs(1),
            burst_every: Duration::from_millis(10_500),
            burst_edges: 40,
            burst_spacing: Duration::from_micros(2_500),
        };
        let mut noisy = Generator::new(behaviour, 3);
        noisy.start(Instant::ZERO, 0.0);
        let edges = edges_until(&mut noisy, Instant::from_millis(10_700), 0.0);
        let in_burst = edges
            .iter()
            .filter(|(at, _)| (10_500..10_600).contains(&(at.as_micros() / 1_000)))
            .count();
        assert_eq!(in_burst, 40);
    }

    #[test]
    fn stuck_high_never_toggles() {
        let mut stuck = Generator::new(Behaviour::StuckHigh, 1);
        stuck.start(Instant::ZERO, 0.0);
        assert_eq!(stuck.level(), Some(true));
        assert_eq!(stuck.next_change(), None);
    }
}
