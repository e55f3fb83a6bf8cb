//! Heartbeat edges from rppal's interrupt thread, queued for the daemon.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration as StdDuration;

use tokio::sync::Notify;

/// Maximum number of edges kept between two collections; edges past it are dropped and
/// counted. A line counts as noisy at 40 edges in 100 ms, and the daemon collects at least once
/// per sample interval, so 1024 edges cover noisy bursts on every heartbeat line at once.
pub const QUEUE_CAPACITY: usize = 1_024;

/// One edge as rppal reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawEdge {
    /// The BCM pin.
    pub pin: u8,
    /// Time since boot on `CLOCK_MONOTONIC`, as the kernel stamped the event.
    pub timestamp: StdDuration,
    /// `true` for a rising edge.
    pub rising: bool,
}

/// Edges pushed by rppal's interrupt thread and taken by the daemon's task.
#[derive(Debug, Default)]
pub struct EdgeQueue {
    edges: Mutex<VecDeque<RawEdge>>,
    arrived: Notify,
    dropped: AtomicU64,
}

impl EdgeQueue {
    /// Queues an edge and wakes the waiting task; drops it when the queue is full.
    pub fn push(&self, edge: RawEdge) {
        {
            let mut edges = self
                .edges
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            if edges.len() >= QUEUE_CAPACITY {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            edges.push_back(edge);
        }
        self.arrived.notify_one();
    }

    /// Takes every queued edge, oldest first.
    pub fn drain(&self, into: &mut Vec<RawEdge>) {
        let mut edges = self
            .edges
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        into.extend(edges.drain(..));
    }

    /// Completes when an edge is queued.
    pub async fn wait(&self) {
        loop {
            // A push between this check and the wait leaves a permit in `arrived`, so the wait
            // completes at once.
            let empty = self
                .edges
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .is_empty();
            if !empty {
                return;
            }
            self.arrived.notified().await;
        }
    }

    /// Returns how many edges were dropped from a full queue.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(pin: u8, millis: u64) -> RawEdge {
        RawEdge {
            pin,
            timestamp: StdDuration::from_millis(millis),
            rising: true,
        }
    }

    #[test]
    fn drain_keeps_arrival_order() {
        let queue = EdgeQueue::default();
        queue.push(edge(23, 1));
        queue.push(edge(24, 2));

        let mut edges = Vec::new();
        queue.drain(&mut edges);

        assert_eq!(edges, vec![edge(23, 1), edge(24, 2)]);
    }

    #[test]
    fn full_queue_drops_and_counts() {
        let queue = EdgeQueue::default();
        for millis in 0..QUEUE_CAPACITY as u64 + 3 {
            queue.push(edge(23, millis));
        }

        let mut edges = Vec::new();
        queue.drain(&mut edges);

        assert_eq!(edges.len(), QUEUE_CAPACITY);
        assert_eq!(queue.dropped(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_task_wakes_on_push_from_thread() {
        let queue = std::sync::Arc::new(EdgeQueue::default());
        let waiting = std::sync::Arc::clone(&queue);
        let waiter = tokio::spawn(async move { waiting.wait().await });
        // Let the waiter find the queue empty and park.
        tokio::task::yield_now().await;

        let pusher = std::sync::Arc::clone(&queue);
        std::thread::spawn(move || pusher.push(edge(25, 7)))
            .join()
            .unwrap();
        waiter.await.unwrap();

        let mut edges = Vec::new();
        queue.drain(&mut edges);
        assert_eq!(edges, vec![edge(25, 7)]);
    }
}
