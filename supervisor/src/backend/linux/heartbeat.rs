//! Heartbeat inputs on the GPIO character device: one request for every heartbeat line, with
//! edge detection on both edges and kernel timestamps.

use std::collections::VecDeque;
use std::future::Future;
use std::path::Path;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use gpiocdev::Request;
use gpiocdev::line::{Bias, EdgeDetection, EdgeEvent, EdgeKind, EventClock, Value, Values};
use gpiocdev::tokio::AsyncRequest;
use picluster_firmware::config::NodeId;
use picluster_firmware::units::Instant;
use tracing::warn;

use super::CONSUMER;
use super::kernel_clock::KernelClock;
use crate::backend::Edge;

/// Kernel buffer per line, in events. A line counts as noisy at 40 edges in 100 ms, and the
/// daemon collects edges at least once per sample interval, so 64 events hold a noisy burst
/// between two collections.
const EVENTS_PER_LINE: u32 = 64;

/// Largest kernel event buffer a request may ask for: 16 events for each of the 64 lines a
/// request can hold (`GPIO_V2_LINES_MAX`), as the GPIO character device documents it.
const MAX_EVENT_BUFFER: u32 = 1_024;

/// The requested heartbeat lines and the node each belongs to.
#[derive(Debug)]
pub struct HeartbeatLines {
    request: AsyncRequest,
    /// Events read by [`HeartbeatLines::wait`] and not yet collected.
    pending: VecDeque<EdgeEvent>,
    nodes: Vec<(u32, NodeId)>,
    clock: KernelClock,
    next_seqno: Option<u32>,
    lost: u64,
}

impl HeartbeatLines {
    /// Requests `lines` (offset and node) of `chip` as inputs with the internal pull-down on,
    /// so that a disconnected worker reads a steady low instead of a floating input. Returns
    /// the lines and each one's present level, in the order given.
    ///
    /// Must run inside a tokio runtime, which watches the request for events; the caller
    /// checks that one is running.
    pub fn claim(
        chip: &Path,
        lines: &[(u32, NodeId)],
        clock: KernelClock,
    ) -> Result<(Self, Vec<bool>), gpiocdev::Error> {
        let offsets: Vec<u32> = lines.iter().map(|(offset, _)| *offset).collect();
        let buffer = (EVENTS_PER_LINE * offsets.len() as u32).min(MAX_EVENT_BUFFER);
        let request = Request::builder()
            .on_chip(chip)
            .with_consumer(CONSUMER)
            .with_kernel_event_buffer_size(buffer)
            .with_lines(&offsets)
            .as_input()
            .with_bias(Bias::PullDown)
            .with_edge_detection(EdgeDetection::BothEdges)
            .with_event_clock(EventClock::Monotonic)
            .request()?;

        let mut values = Values::from_offsets(&offsets);
        request.values(&mut values)?;
        let levels = offsets
            .iter()
            .map(|offset| values.get(*offset) == Some(Value::Active))
            .collect();

        let heartbeats = Self {
            request: AsyncRequest::new(request),
            pending: VecDeque::new(),
            nodes: lines.to_vec(),
            clock,
            next_seqno: None,
            lost: 0,
        };
        Ok((heartbeats, levels))
    }

    /// Appends every edge read so far, oldest first, stamped on the daemon's clock and never
    /// later than `now`.
    pub fn collect(&mut self, now: Instant, edges: &mut Vec<Edge>) {
        while let Some(result) = self.try_read() {
            match result {
                Ok(event) => self.pending.push_back(event),
                Err(error) => {
                    warn!(error = %error, "reading a heartbeat edge failed");
                    break;
                }
            }
        }
        while let Some(event) = self.pending.pop_front() {
            self.count_lost(event.seqno);
            let Some(node) = self.node_of(event.offset) else {
                continue;
            };
            edges.push(Edge {
                at: self.clock.to_instant(event.timestamp_ns).min(now),
                node,
                high: event.kind == EdgeKind::Rising,
            });
        }
    }

    /// Completes when an edge waits to be collected.
    ///
    /// Cancel-safe: an edge read here is kept until [`HeartbeatLines::collect`].
    pub async fn wait(&mut self) {
        if !self.pending.is_empty() {
            return;
        }
        match self.request.read_edge_event().await {
            Ok(event) => self.pending.push_back(event),
            Err(error) => {
                warn!(error = %error, "waiting for heartbeat edges failed");
                std::future::pending::<()>().await;
            }
        }
    }

    /// Reads one edge if the runtime has seen the request become readable, without waiting.
    /// Every read goes through [`AsyncRequest`], which keeps its readiness flag in step with
    /// the kernel's queue.
    fn try_read(&self) -> Option<gpiocdev::Result<EdgeEvent>> {
        let mut read = pin!(self.request.read_edge_event());
        let mut context = Context::from_waker(Waker::noop());
        match read.as_mut().poll(&mut context) {
            Poll::Ready(result) => Some(result),
            Poll::Pending => None,
        }
    }

    fn node_of(&self, offset: u32) -> Option<NodeId> {
        self.nodes
            .iter()
            .find(|(line, _)| *line == offset)
            .map(|(_, node)| *node)
    }

    /// Counts events the kernel dropped from a full buffer: its sequence numbers then skip.
    fn count_lost(&mut self, seqno: u32) {
        if let Some(expected) = self.next_seqno
            && seqno > expected
        {
            let lost = u64::from(seqno - expected);
            self.lost += lost;
            warn!(
                lost,
                total_lost = self.lost,
                "the kernel dropped heartbeat edges from a full buffer"
            );
        }
        self.next_seqno = Some(seqno.wrapping_add(1));
    }
}
