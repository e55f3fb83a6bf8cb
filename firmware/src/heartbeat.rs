//! Heartbeat tracking for one input line.
//!
//! A worker toggles its heartbeat line while it is healthy, from an agent at a fixed period or
//! from the kernel's LED `heartbeat` or `timer` trigger. The `heartbeat` trigger is a double
//! blink whose period shortens with load, from about 1.3 s idle towards 0.4 s (estimate). The tracker only
//! counts edges and their times; the controller decides what a lost heartbeat means.

use heapless::Deque;

use crate::config::Timings;
use crate::units::Instant;

/// Raw edges remembered for the noise check: the largest `noisy_edges` a configuration may use.
pub const NOISE_HISTORY: usize = 64;

/// Counted edges after which a line counts as alive. One edge can be a line settling after
/// power-on; a second one shows something is toggling it.
const ALIVE_EDGES: u32 = 2;

/// A line's status, derived from its edges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeartbeatStatus {
    /// Fewer than two edges since the node was powered or reset.
    Waiting,
    /// Edges arrive within the heartbeat timeout.
    Alive,
    /// The line was alive, but no edge came within the timeout.
    Lost {
        /// The level the line stopped at (`true` = high).
        high: bool,
    },
}

/// The result of recording one edge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EdgeOutcome {
    /// The edge was counted (it came after the debounce time).
    pub counted: bool,
    /// The edge started a noisy burst: the raw edges within the noise window.
    pub noisy_burst: Option<u16>,
}

/// Edge bookkeeping for one heartbeat line.
#[derive(Clone, Debug)]
pub struct HeartbeatTracker {
    high: bool,
    counted: u32,
    last_counted: Option<Instant>,
    raw_edges: Deque<Instant, NOISE_HISTORY>,
    noisy: bool,
}

impl HeartbeatTracker {
    /// Starts tracking a line at its present level.
    pub fn new(high: bool) -> Self {
        Self {
            high,
            counted: 0,
            last_counted: None,
            raw_edges: Deque::new(),
            noisy: false,
        }
    }

    /// Forgets the edges counted so far, as after a power-on or a reset.
    pub fn restart(&mut self) {
        self.counted = 0;
        self.last_counted = None;
    }

    /// Records an edge to level `high` at `now`.
    pub fn edge(&mut self, now: Instant, high: bool, timings: &Timings) -> EdgeOutcome {
        self.high = high;
        let noisy_burst = self.record_raw_edge(now, timings);

        let bounced = self
            .last_counted
            .is_some_and(|last| now.since(last) < timings.debounce);
        if bounced {
            return EdgeOutcome {
                counted: false,
                noisy_burst,
            };
        }
        self.counted = self.counted.saturating_add(1);
        self.last_counted = Some(now);
        EdgeOutcome {
            counted: true,
            noisy_burst,
        }
    }

    /// Returns the line's status at `now`.
    pub fn status(&self, now: Instant, timings: &Timings) -> HeartbeatStatus {
        match self.last_counted {
            Some(last) if self.counted >= ALIVE_EDGES => {
                if now.since(last) >= timings.heartbeat_timeout {
                    HeartbeatStatus::Lost { high: self.high }
                } else {
                    HeartbeatStatus::Alive
                }
            }
            _ => HeartbeatStatus::Waiting,
        }
    }

    /// Returns when an alive line becomes lost if no further edge arrives.
    pub fn lost_at(&self, timings: &Timings) -> Option<Instant> {
        if self.counted < ALIVE_EDGES {
            return None;
        }
        self.last_counted
            .map(|last| last + timings.heartbeat_timeout)
    }

    /// Returns when the last counted edge arrived.
    pub fn last_edge(&self) -> Option<Instant> {
        self.last_counted
    }

    /// Returns the line's present level.
    pub fn level_high(&self) -> bool {
        self.high
    }

    /// Returns whether the line is in a noisy burst.
    pub fn noisy(&self) -> bool {
        self.noisy
    }

    /// Keeps the raw edge times within the noise window; returns the edge count when this edge
    /// starts a burst of `noisy_edges` or more.
    fn record_raw_edge(&mut self, now: Instant, timings: &Timings) -> Option<u16> {
        while let Some(&oldest) = self.raw_edges.front() {
            if now.since(oldest) <= timings.noisy_window && !self.raw_edges.is_full() {
                break;
            }
            self.raw_edges.pop_front();
        }
        let _ = self.raw_edges.push_back(now);

        let in_window = self.raw_edges.len() as u16;
        let threshold = timings.noisy_edges.clamp(1, NOISE_HISTORY as u16);
        if in_window >= threshold {
            let started = !self.noisy;
            self.noisy = true;
            return started.then_some(in_window);
        }
        if in_window <= 1 {
            // A full window passed without a second edge: the burst is over.
            self.noisy = false;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference;
    use crate::units::Duration;

    fn timings() -> Timings {
        reference::timings()
    }

    fn at_ms(millis: u64) -> Instant {
        Instant::from_millis(millis)
    }

    #[test]
    fn edges_within_debounce_count_once() {
        let t = timings();
        let mut line = HeartbeatTracker::new(false);
        assert!(line.edge(at_ms(1_000), true, &t).counted);
        assert!(!line.edge(at_ms(1_001), false, &t).counted);
        assert_eq!(line.last_edge(), Some(at_ms(1_000)));
    }

    #[test]
    fn first_edge_alone_is_not_alive() {
        let t = timings();
        let mut line = HeartbeatTracker::new(false);
        line.edge(at_ms(0), true, &t);
        assert_eq!(line.status(at_ms(10), &t), HeartbeatStatus::Waiting);
        line.edge(at_ms(500), false, &t);
        assert_eq!(line.status(at_ms(510), &t), HeartbeatStatus::Alive);
    }

    #[test]
    fn silence_past_timeout_is_lost_at_level() {
        let t = timings();
        let mut line = HeartbeatTracker::new(false);
        line.edge(at_ms(0), true, &t);
        line.edge(at_ms(500), false, &t);
        line.edge(at_ms(1_000), true, &t);
        assert_eq!(line.lost_at(&t), Some(at_ms(1_000) + t.heartbeat_timeout));
        assert_eq!(line.status(at_ms(15_999), &t), HeartbeatStatus::Alive);
        assert_eq!(
            line.status(at_ms(16_000), &t),
            HeartbeatStatus::Lost { high: true }
        );
    }

    #[test]
    fn burst_of_forty_edges_is_noisy_but_alive() {
        let t = timings();
        let mut line = HeartbeatTracker::new(false);
        let mut bursts = 0;
        // 40 edges 2.5 ms apart: 97.5 ms from the first to the last.
        for index in 0..40u64 {
            let now = Instant::from_micros(index * 2_500);
            if line.edge(now, index % 2 == 0, &t).noisy_burst.is_some() {
                bursts += 1;
            }
        }
        assert_eq!(bursts, 1);
        assert!(line.noisy());
        assert_eq!(line.status(at_ms(100), &t), HeartbeatStatus::Alive);
    }

    #[test]
    fn thirty_nine_edges_in_window_are_not_noisy() {
        let t = timings();
        let mut line = HeartbeatTracker::new(false);
        for index in 0..39u64 {
            let outcome = line.edge(Instant::from_micros(index * 2_500), index % 2 == 0, &t);
            assert_eq!(outcome.noisy_burst, None);
        }
        assert!(!line.noisy());
    }

    #[test]
    fn restart_forgets_counted_edges() {
        let t = timings();
        let mut line = HeartbeatTracker::new(false);
        line.edge(at_ms(0), true, &t);
        line.edge(at_ms(500), false, &t);
        line.restart();
        assert_eq!(line.status(at_ms(600), &t), HeartbeatStatus::Waiting);
        assert_eq!(line.lost_at(&t), None);
    }

    /// The kernel's `heartbeat` LED trigger: on 70 ms, off until a quarter period, on 70 ms,
    /// off for the rest. Its period is about 1.26 s idle and shortens towards 0.4 s under load.
    #[test]
    fn kernel_led_heartbeat_stays_alive_at_any_load() {
        let t = timings();
        for period_ms in [1_260u64, 900, 600, 400] {
            let mut line = HeartbeatTracker::new(false);
            let mut now = 0;
            for _ in 0..60 {
                let quarter = period_ms / 4;
                for (offset, high) in [
                    (0, true),
                    (70, false),
                    (quarter, true),
                    (quarter + 70, false),
                ] {
                    let outcome = line.edge(at_ms(now + offset), high, &t);
                    assert!(outcome.counted, "period {period_ms} ms, offset {offset} ms");
                    assert_eq!(outcome.noisy_burst, None);
                }
                now += period_ms;
            }
            assert_eq!(line.status(at_ms(now), &t), HeartbeatStatus::Alive);
            let lost = at_ms(now) + Duration::from_secs(16);
            assert_eq!(line.status(lost, &t), HeartbeatStatus::Lost { high: false });
        }
    }
}
