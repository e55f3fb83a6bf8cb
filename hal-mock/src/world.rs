//! The shared simulated world: virtual time, GPIO lines, the I2C bus, the supply and the
//! nodes.
//!
//! [`World`] is a cheap handle (an `Arc<Mutex<..>>`). Every pin and bus handle keeps a clone,
//! so they are `Send` and a tokio daemon can keep them in different tasks. Time moves only when
//! someone calls [`World::advance_to`]: the world then makes every change due until then, in
//! order (node phases, heartbeat edges, supply hiccups), and each change takes effect at its
//! own instant. A pin write takes effect at the world's present time.
//!
//! The lock is reentrant: a thread that holds a [`WorldLock`] can keep calling the world,
//! its pins and its bus without taking the lock again, while other threads wait. The scenario
//! runner holds one for its whole run, so a monitor read's five register transfers take no
//! lock of their own.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use embedded_hal::i2c::Operation;
use parking_lot::{ReentrantMutex, ReentrantMutexGuard};
use picluster_firmware::config::LineId;
use picluster_firmware::units::{Duration, Instant, Milliamps, Millivolts};

use crate::i2c::{self, BusContext, DeviceFault, DeviceSlot, I2cDevice, I2cError, SimI2c};
use crate::line::{ClaimError, Edge, LINE_COUNT, Line, Pull};
use crate::node::{Behaviour, NodeModel, NodeSpec, Phase, RelayFault};
use crate::pin::{SimInputPin, SimOutputPin};
use crate::rail::{RailHistory, RailPoint};
use crate::supply::{SupplyModel, SupplySpec};

/// Everything needed to build a world.
#[derive(Clone, Debug)]
pub struct WorldSpec {
    /// The nodes, head included.
    pub nodes: Vec<NodeSpec>,
    /// The shared supply.
    pub supply: SupplySpec,
    /// Resistance of each node's power cable and switch, in milliohms.
    pub cable_milliohms: u32,
}

impl WorldSpec {
    /// Estimate: a 1 m USB cable with 24 AWG power wires plus a load switch drops about
    /// 0.1 V at 1 A.
    pub const CABLE_MILLIOHMS: u32 = 100;
}

/// The use of a node's line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LineRole {
    Switch,
    Run,
    Heartbeat,
}

/// A node as seen from outside the world.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeSnapshot {
    /// The physical phase.
    pub phase: Phase,
    /// The current the node draws.
    pub current: Milliamps,
    /// The voltage at the board.
    pub board_voltage: Millivolts,
    /// The `get_throttled` under-voltage bits (0x1 now, 0x10000 since start).
    pub throttled: u32,
    /// OS starts so far.
    pub boots: u32,
    /// Brown-outs so far.
    pub brown_outs: u32,
    /// The relay fault in force.
    pub relay: RelayFault,
}

/// The world's time, next change, edge count and rail, read under one lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorldStatus {
    /// The world's present time.
    pub now: Instant,
    /// The next time something changes by itself, if anything will.
    pub next_change: Option<Instant>,
    /// Level changes on all lines since the world started.
    pub edge_count: u64,
    /// The rail now.
    pub rail: RailPoint,
}

/// The world's state; reached through [`World`].
#[derive(Debug)]
pub(crate) struct WorldState {
    now: Instant,
    lines: Vec<Line>,
    wiring: BTreeMap<u32, (usize, LineRole)>,
    nodes: Vec<NodeModel>,
    supply: SupplyModel,
    cable_milliohms: u32,
    rail: RailHistory,
    /// The bus's devices, indexed by address: a transfer finds its device without a search.
    devices: Vec<Option<DeviceSlot>>,
    /// Level changes on all lines.
    edge_count: u64,
    /// The next change as last computed; `None` after anything it depends on changed.
    next_change_memo: Option<Option<Instant>>,
    /// Counts the times the world settled or a line changed level. Apart from the time, a
    /// status read at one revision stays true until the revision changes.
    revision: u64,
}

/// A handle on the simulated world; clones share it.
#[derive(Clone, Debug)]
pub struct World {
    // The mutex keeps other threads out; the cell hands this thread one mutable borrow at a
    // time. No method calls back into the world while it borrows the state.
    state: Arc<ReentrantMutex<RefCell<WorldState>>>,
}

/// The world locked by one thread, from [`World::lock`] until the guard drops.
#[must_use = "the world is unlocked again when the guard drops"]
pub struct WorldLock<'a> {
    _guard: ReentrantMutexGuard<'a, RefCell<WorldState>>,
}

impl fmt::Debug for WorldLock<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorldLock").finish_non_exhaustive()
    }
}

impl World {
    /// Builds a world at time zero, with lines biased as wired and every node as its spec gives.
    pub fn new(spec: WorldSpec) -> Self {
        let now = Instant::ZERO;
        let mut lines: Vec<Line> = (0..LINE_COUNT)
            .map(|id| Line::new(LineId(id), Pull::None))
            .collect();
        let mut wiring = BTreeMap::new();
        let mut nodes = Vec::new();
        for (index, node_spec) in spec.nodes.into_iter().enumerate() {
            wire_node(&node_spec, index, &mut lines, &mut wiring);
            nodes.push(NodeModel::new(node_spec, now));
        }
        let supply = SupplyModel::new(spec.supply);
        let voltage = supply.voltage(now, Milliamps(0));
        let mut state = WorldState {
            now,
            lines,
            wiring,
            nodes,
            supply,
            cable_milliohms: spec.cable_milliohms,
            rail: RailHistory::new(now, Milliamps(0), voltage),
            devices: (0..=u8::MAX).map(|_| None).collect(),
            edge_count: 0,
            next_change_memo: None,
            revision: 0,
        };
        state.settle();
        Self {
            state: Arc::new(ReentrantMutex::new(RefCell::new(state))),
        }
    }

    /// Locks the world for the calling thread until the returned guard drops.
    ///
    /// Other threads wait for the world meanwhile. This thread's calls on the world, its pins
    /// and its bus take the lock again by a check of the owner, without an atomic operation.
    /// So a caller that makes many calls in a row (the scenario runner, for a whole run) pays
    /// for one lock instead of one per call. Holding it is never needed for correctness,
    /// because each call locks the world for its own length either way.
    pub fn lock(&self) -> WorldLock<'_> {
        WorldLock {
            _guard: self.state.lock(),
        }
    }

    /// Runs `action` on the state with the world locked.
    ///
    /// A panic in `action` leaves the state as far as it got: every change is made whole
    /// before the next line of code runs, so the state stays consistent enough to inspect.
    pub(crate) fn with_state<T>(&self, action: impl FnOnce(&mut WorldState) -> T) -> T {
        let guard = self.state.lock();
        let mut state = guard.borrow_mut();
        action(&mut state)
    }

    /// Returns the world's present time.
    pub fn now(&self) -> Instant {
        self.with_state(|state| state.now)
    }

    /// Returns the next time something in the world changes by itself, if anything will.
    pub fn next_change(&self) -> Option<Instant> {
        self.with_state(|state| state.next_change())
    }

    /// Moves time forward to `until`, making every change due on the way at its own instant,
    /// and returns the world's status then. A time in the past leaves the world as it is.
    pub fn advance_to(&self, until: Instant) -> WorldStatus {
        self.with_state(|state| {
            state.advance_to(until);
            state.status()
        })
    }

    /// Returns the present time, the next change, the edge count and the rail in one look.
    pub fn status(&self) -> WorldStatus {
        self.with_state(|state| state.status())
    }

    /// Returns the status with its revision, for [`status_since`](Self::status_since).
    pub(crate) fn status_with_revision(&self) -> (WorldStatus, u64) {
        self.with_state(|state| (state.status(), state.revision))
    }

    /// Moves time forward as [`advance_to`](Self::advance_to) does. Returns the status and its
    /// revision if the world changed since `revision`. Returns `None` when a status read at
    /// `revision` is still true apart from the time, which is then `until` or later.
    pub(crate) fn advance_to_since(
        &self,
        until: Instant,
        revision: u64,
    ) -> Option<(WorldStatus, u64)> {
        self.with_state(|state| {
            state.advance_to(until);
            (state.revision != revision).then(|| (state.status(), state.revision))
        })
    }

    /// Returns the status and its revision if the world changed since `revision`, or `None`
    /// when a status read at `revision` is still true apart from the time.
    pub(crate) fn status_since(&self, revision: u64) -> Option<(WorldStatus, u64)> {
        self.with_state(|state| {
            (state.revision != revision).then(|| (state.status(), state.revision))
        })
    }

    /// Moves time forward by `span` and returns the world's status then.
    pub fn advance_by(&self, span: Duration) -> WorldStatus {
        self.with_state(|state| {
            let until = state.now + span;
            state.advance_to(until);
            state.status()
        })
    }

    /// Claims `line` as an output for the holder `label`. The line keeps its present level,
    /// which the pin drives until it is set.
    pub fn claim_output(&self, line: LineId, label: &str) -> Result<SimOutputPin, ClaimError> {
        self.with_state(|state| -> Result<(), ClaimError> {
            state.claim(line, label)?;
            let entry = &mut state.lines[line.0 as usize];
            entry.head_drive = Some(entry.level);
            state.settle_line(line.0 as usize);
            Ok(())
        })?;
        Ok(SimOutputPin::new(self.clone(), line))
    }

    /// Claims `line` as an input for the holder `label`, with a bias (`None` keeps the line's
    /// present one).
    pub fn claim_input(
        &self,
        line: LineId,
        label: &str,
        pull: Option<Pull>,
    ) -> Result<SimInputPin, ClaimError> {
        let cursor = self.with_state(|state| -> Result<u64, ClaimError> {
            state.claim(line, label)?;
            if let Some(pull) = pull {
                state.lines[line.0 as usize].pull = pull;
                state.settle_line(line.0 as usize);
                state.settle();
            }
            Ok(state.lines[line.0 as usize].changes)
        })?;
        Ok(SimInputPin::new(self.clone(), line, cursor))
    }

    /// Returns a handle on the I2C bus.
    pub fn i2c(&self) -> SimI2c {
        SimI2c::new(self.clone())
    }

    /// Puts a device on the bus at `address`, replacing any device there.
    pub fn attach_device(&self, address: u8, device: Box<dyn I2cDevice>) {
        self.with_state(|state| {
            state.devices[usize::from(address)] = Some(DeviceSlot::new(device))
        });
    }

    /// Injects a fault into the device at `address`; returns `false` if there is none.
    pub fn inject_device_fault(&self, address: u8, fault: DeviceFault) -> bool {
        self.with_state(|state| {
            let now = state.now;
            match &mut state.devices[usize::from(address)] {
                Some(slot) => {
                    slot.inject(now, fault);
                    true
                }
                None => false,
            }
        })
    }

    /// Returns a line's level.
    pub fn line_level(&self, line: LineId) -> bool {
        self.with_state(|state| state.lines[line.0 as usize].level)
    }

    /// Returns how many times a line changed level since the world started.
    pub fn line_changes(&self, line: LineId) -> u64 {
        self.with_state(|state| state.lines[line.0 as usize].changes)
    }

    /// Returns the number of level changes on all lines since the world started.
    pub fn edge_count(&self) -> u64 {
        self.with_state(|state| state.edge_count)
    }

    /// Returns a line's kept edges, oldest first.
    pub fn edges(&self, line: LineId) -> Vec<Edge> {
        self.with_state(|state| {
            let entry = &state.lines[line.0 as usize];
            entry.history.iter().map(|(_, edge)| *edge).collect()
        })
    }

    /// Returns the label of the handle holding a line, if any.
    pub fn line_holder(&self, line: LineId) -> Option<String> {
        self.with_state(|state| state.lines[line.0 as usize].holder.clone())
    }

    /// Makes every pin operation on `line` fail (`true`), as after a GPIO chip removal, or
    /// work again (`false`).
    pub fn set_line_fault(&self, line: LineId, faulted: bool) {
        self.with_state(|state| state.lines[line.0 as usize].faulted = faulted);
    }

    /// Returns the rail now: total current and supply voltage.
    pub fn rail(&self) -> RailPoint {
        self.with_state(|state| state.rail.latest())
    }

    /// Returns the number of nodes.
    pub fn node_count(&self) -> usize {
        self.with_state(|state| state.nodes.len())
    }

    /// Returns the index of the node named `name`.
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.with_state(|state| state.nodes.iter().position(|node| node.spec().name == name))
    }

    /// Returns a node's name.
    pub fn node_name(&self, node: usize) -> String {
        self.with_state(|state| state.nodes[node].spec().name.clone())
    }

    /// Returns a node's physical state.
    pub fn node(&self, node: usize) -> NodeSnapshot {
        self.with_state(|state| {
            let model = &state.nodes[node];
            NodeSnapshot {
                phase: model.phase(),
                current: model.current(),
                board_voltage: model.board_voltage(),
                throttled: model.throttled(),
                boots: model.boots(),
                brown_outs: model.brown_outs(),
                relay: model.relay_fault(),
            }
        })
    }

    /// Hangs a node's OS now, if it runs.
    pub fn hang(&self, node: usize) {
        self.mutate_node(node, |model, _| model.hang());
    }

    /// Starts or stops a stress load on every core of a node.
    pub fn set_stress(&self, node: usize, on: bool) {
        self.mutate_node(node, |model, _| model.set_stress(on));
    }

    /// Sets the current drawn by USB devices on a node's ports.
    pub fn set_usb_load(&self, node: usize, load: Milliamps) {
        self.mutate_node(node, |model, _| model.set_usb_load(load));
    }

    /// Replaces a node's heartbeat behaviour.
    pub fn set_behaviour(&self, node: usize, behaviour: Behaviour) {
        self.mutate_node(node, |model, now| model.set_behaviour(now, behaviour));
    }

    /// Sets or clears a fault of a node's power switch.
    pub fn set_relay_fault(&self, node: usize, fault: RelayFault) {
        self.with_state(|state| {
            let now = state.now;
            let line_high = state.nodes[node]
                .spec()
                .switch
                .is_some_and(|(line, _)| state.lines[line.0 as usize].level);
            state.nodes[node].set_relay_fault(now, fault, line_high);
            state.settle();
        });
    }

    /// Disconnects (`true`) or reconnects a node's heartbeat wire at the head's input.
    pub fn set_heartbeat_disconnected(&self, node: usize, disconnected: bool) {
        self.with_state(|state| {
            if let Some(line) = state.nodes[node].spec().heartbeat_line {
                state.lines[line.0 as usize].disconnected = disconnected;
                state.settle_line(line.0 as usize);
                state.settle();
            }
        });
    }

    /// Returns the supply's parameters.
    pub fn supply(&self) -> SupplySpec {
        self.with_state(|state| state.supply.spec())
    }

    /// Replaces the supply's parameters, as when a charger degrades.
    pub fn set_supply(&self, spec: SupplySpec) {
        self.with_state(|state| {
            state.supply.set_spec(spec);
            state.settle();
        });
    }

    /// Returns whether the supply output is collapsed in a hiccup.
    pub fn supply_off(&self) -> bool {
        self.with_state(|state| state.supply.is_off(state.now))
    }

    /// Returns the number of supply hiccups so far.
    pub fn hiccups(&self) -> u32 {
        self.with_state(|state| state.supply.hiccups())
    }

    fn mutate_node(&self, node: usize, change: impl FnOnce(&mut NodeModel, Instant)) {
        self.with_state(|state| {
            let now = state.now;
            change(&mut state.nodes[node], now);
            state.settle();
        });
    }
}

/// Biases and records the lines a node is wired to.
fn wire_node(
    spec: &NodeSpec,
    index: usize,
    lines: &mut [Line],
    wiring: &mut BTreeMap<u32, (usize, LineRole)>,
) {
    if let Some((line, polarity)) = spec.switch {
        // The switch's enable input is biased to "off", so a head reboot leaves nodes
        // unpowered. A running node was left on by an earlier daemon, which drives the line.
        let off_level = polarity.level_for(false);
        let entry = &mut lines[line.0 as usize];
        entry.pull = if off_level { Pull::Up } else { Pull::Down };
        entry.level = off_level;
        if spec.initially_running {
            entry.head_drive = Some(polarity.level_for(true));
            entry.level = polarity.level_for(true);
        }
        wiring.insert(line.0, (index, LineRole::Switch));
    }
    if let Some((line, polarity)) = spec.run {
        // Undriven, the head's line rests at the level that leaves RUN released: the Pi's own
        // pull-up when RUN is wired directly (active low), the MOSFET's gate pull-down when
        // it is driven through one (active high).
        let released = polarity.level_for(false);
        let entry = &mut lines[line.0 as usize];
        entry.pull = if released { Pull::Up } else { Pull::Down };
        entry.level = released;
        wiring.insert(line.0, (index, LineRole::Run));
    }
    if let Some(line) = spec.heartbeat_line {
        // The head biases its heartbeat inputs low, so an unpowered node reads low.
        lines[line.0 as usize].pull = Pull::Down;
        wiring.insert(line.0, (index, LineRole::Heartbeat));
    }
}

impl WorldState {
    pub fn line(&self, line: LineId) -> &Line {
        &self.lines[line.0 as usize]
    }

    pub fn line_mut(&mut self, line: LineId) -> &mut Line {
        &mut self.lines[line.0 as usize]
    }

    fn claim(&mut self, line: LineId, label: &str) -> Result<(), ClaimError> {
        let Some(entry) = self.lines.get_mut(line.0 as usize) else {
            return Err(ClaimError::NoSuchLine { line });
        };
        if let Some(holder) = &entry.holder {
            return Err(ClaimError::Busy {
                line,
                holder: holder.clone(),
            });
        }
        entry.holder = Some(label.to_owned());
        Ok(())
    }

    /// Releases a claim; the line keeps its level and its driver.
    pub fn release(&mut self, line: LineId) {
        self.lines[line.0 as usize].holder = None;
    }

    /// Drives a line from the head side and lets the world react.
    pub fn drive(&mut self, line: LineId, level: bool) {
        self.lines[line.0 as usize].head_drive = Some(level);
        self.settle_line(line.0 as usize);
        self.settle();
    }

    pub fn i2c_transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), I2cError> {
        let context = BusContext {
            now: self.now,
            rail: &self.rail,
        };
        i2c::transact(
            self.devices[usize::from(address)].as_mut(),
            &context,
            address,
            operations,
        )
    }

    pub fn i2c_write_read(
        &mut self,
        address: u8,
        bytes: &[u8],
        buffer: &mut [u8],
    ) -> Result<(), I2cError> {
        let context = BusContext {
            now: self.now,
            rail: &self.rail,
        };
        let slot = self.devices[usize::from(address)].as_mut();
        i2c::write_read(slot, &context, address, bytes, buffer)
    }

    fn status(&mut self) -> WorldStatus {
        WorldStatus {
            now: self.now,
            next_change: self.next_change(),
            edge_count: self.edge_count,
            rail: self.rail.latest(),
        }
    }

    /// Returns the next change, computed again only after the nodes or the supply changed.
    ///
    /// Every change to a node or to the supply ends in [`settle`](Self::settle) or in an edge
    /// in [`settle_line`](Self::settle_line), and both forget the value. Debug builds check
    /// that a remembered value is still the one a fresh computation gives.
    fn next_change(&mut self) -> Option<Instant> {
        if let Some(next) = self.next_change_memo {
            debug_assert_eq!(
                next,
                self.compute_next_change(),
                "a node or the supply changed without the world settling"
            );
            return next;
        }
        let next = self.compute_next_change();
        self.next_change_memo = Some(next);
        next
    }

    fn compute_next_change(&self) -> Option<Instant> {
        let nodes = self.nodes.iter().filter_map(NodeModel::next_change);
        nodes.chain(self.supply.next_change()).min()
    }

    fn advance_to(&mut self, until: Instant) {
        let mut repeats = 0u32;
        let mut last = None;
        while let Some(at) = self.next_change().filter(|&at| at <= until) {
            let at = at.max(self.now);
            if last == Some(at) {
                repeats += 1;
                assert!(
                    repeats < 10_000,
                    "the world makes no progress at {at}: a model reports a change it never makes"
                );
            } else {
                repeats = 0;
                last = Some(at);
            }
            self.now = at;
            for node in &mut self.nodes {
                if node.next_change().is_some_and(|next| next <= at) {
                    node.advance(at);
                }
            }
            self.settle();
        }
        self.now = self.now.max(until);
    }

    /// Recomputes a line's level and passes a change to the node it is wired to.
    fn settle_line(&mut self, index: usize) {
        let now = self.now;
        let Some(edge) = self.lines[index].settle(now) else {
            return;
        };
        self.edge_count += 1;
        self.revision += 1;
        self.next_change_memo = None;
        match self.wiring.get(&edge.line.0) {
            Some(&(node, LineRole::Switch)) => self.nodes[node].set_switch_line(now, edge.high),
            Some(&(node, LineRole::Run)) => self.nodes[node].set_head_reset_line(now, edge.high),
            Some((_, LineRole::Heartbeat)) | None => {}
        }
    }

    /// Brings lines and the rail in line with the nodes' and the supply's state at `now`.
    fn settle(&mut self) {
        let now = self.now;
        for _ in 0..8 {
            for index in 0..self.nodes.len() {
                if let Some(line) = self.nodes[index].spec().heartbeat_line {
                    let drive = self.nodes[index].heartbeat_drive();
                    self.lines[line.0 as usize].node_drive = drive;
                    self.settle_line(line.0 as usize);
                }
            }

            let demand: i32 = self.nodes.iter().map(|node| node.current().0).sum();
            let load = if self.supply.is_off(now) { 0 } else { demand };
            let supply_changed = self.supply.observe(now, Milliamps(load));
            let voltage = self.supply.voltage(now, Milliamps(load));
            let load = if self.supply.is_off(now) { 0 } else { load };
            for node in &mut self.nodes {
                let cable_drop = node.current().0 * self.cable_milliohms as i32 / 1_000;
                let board = (voltage.0 - cable_drop).max(0);
                let board = if voltage.0 == 0 { 0 } else { board };
                node.observe_voltage(now, Millivolts(board));
            }
            self.rail.record(now, Milliamps(load), voltage);
            if !supply_changed {
                break;
            }
        }
        self.revision += 1;
        self.next_change_memo = None;
    }
}
