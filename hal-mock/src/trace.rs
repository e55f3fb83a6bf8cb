//! Traces of a run: every change of the rail, the nodes' states and the lines' levels, as CSV
//! and as an SVG plot.

use std::io::{self, Write};

use picluster_firmware::config::{ClusterConfig, LineId};
use picluster_firmware::state::StateKind;
use picluster_firmware::units::{Instant, Milliamps, Millivolts};

use crate::node::Phase;
use crate::scenario::Scenario;

/// The state of everything traced at one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceRow {
    /// When.
    pub at: Instant,
    /// Supply voltage at the monitor.
    pub voltage: Millivolts,
    /// True total current.
    pub current: Milliamps,
    /// The controller's newest valid measured current.
    pub measured: Option<Milliamps>,
    /// Each node's controller state (configuration order).
    pub states: Vec<Option<StateKind>>,
    /// Each node's physical phase.
    pub phases: Vec<Phase>,
    /// Each traced line's level, in [`Trace::lines`] order.
    pub levels: Vec<bool>,
}

impl TraceRow {
    fn same_values(&self, other: &TraceRow) -> bool {
        self.voltage == other.voltage
            && self.current == other.current
            && self.measured == other.measured
            && self.states == other.states
            && self.phases == other.phases
            && self.levels == other.levels
    }
}

/// A run's trace: one row per instant at which something changed.
#[derive(Clone, Debug)]
pub struct Trace {
    /// The scenario's name.
    pub scenario: String,
    /// Node names, in configuration order.
    pub nodes: Vec<String>,
    /// Traced lines with a label naming node and use.
    pub lines: Vec<(LineId, String)>,
    /// The rows, in time order.
    pub rows: Vec<TraceRow>,
    /// The supply's rated current, drawn on the plot.
    pub supply_limit: Milliamps,
    /// The controller's budget, drawn on the plot.
    pub budget: Milliamps,
    /// The controller's under-voltage trip level, drawn on the plot.
    pub under_voltage: Millivolts,
}

impl Trace {
    /// Starts an empty trace for a scenario's cluster.
    pub fn new(scenario: &Scenario) -> Self {
        let supply_limit = scenario.cluster.world.supply.limit;
        Self::for_cluster(&scenario.name, &scenario.cluster.config, supply_limit)
    }

    /// Starts an empty trace of `config`'s supply, nodes and lines, on a supply rated
    /// `supply_limit`.
    pub fn for_cluster<const N: usize>(
        name: &str,
        config: &ClusterConfig<N>,
        supply_limit: Milliamps,
    ) -> Self {
        let mut lines = Vec::new();
        for node in &config.nodes {
            let name = node.name.as_str();
            let short = name.split('.').next().unwrap_or(name);
            if let Some(switch) = node.switch {
                lines.push((switch.line, format!("{short} switch")));
            }
            if let Some(reset) = node.reset {
                lines.push((reset.line, format!("{short} run")));
            }
            if let Some(line) = node.heartbeat {
                lines.push((line, format!("{short} heartbeat")));
            }
        }
        Self {
            scenario: name.to_owned(),
            nodes: config
                .nodes
                .iter()
                .map(|n| n.name.as_str().to_owned())
                .collect(),
            lines,
            rows: Vec::new(),
            supply_limit,
            budget: config.supply.budget(),
            under_voltage: config.supply.under_voltage,
        }
    }

    /// Adds a row unless nothing but the time changed since the last one.
    pub fn push(&mut self, row: TraceRow) {
        match self.rows.last_mut() {
            Some(last) if last.same_values(&row) => {}
            Some(last) if last.at == row.at => *last = row,
            _ => self.rows.push(row),
        }
    }

    /// Writes the trace as CSV: time, voltage, current, measured current, each node's state
    /// and phase, each line's level.
    pub fn write_csv(&self, mut out: impl Write) -> io::Result<()> {
        let mut header = vec![
            "time_s".to_owned(),
            "supply_mv".to_owned(),
            "current_ma".to_owned(),
            "measured_ma".to_owned(),
        ];
        for node in &self.nodes {
            header.push(format!("{node} state"));
            header.push(format!("{node} phase"));
        }
        for (line, label) in &self.lines {
            header.push(format!("line {} ({label})", line.0));
        }
        writeln!(out, "{}", header.join(","))?;
        for row in &self.rows {
            let mut fields = vec![
                format!("{:.6}", row.at.as_micros() as f64 / 1e6),
                row.voltage.0.to_string(),
                row.current.0.to_string(),
                row.measured.map_or(String::new(), |m| m.0.to_string()),
            ];
            for (state, phase) in row.states.iter().zip(&row.phases) {
                fields.push(state.map_or("-", |s| s.name()).to_owned());
                fields.push(phase.name().to_owned());
            }
            for level in &row.levels {
                fields.push(u8::from(*level).to_string());
            }
            writeln!(out, "{}", fields.join(","))?;
        }
        Ok(())
    }

    /// Returns the trace as CSV text.
    pub fn to_csv(&self) -> String {
        let mut bytes = Vec::new();
        self.write_csv(&mut bytes)
            .expect("writing to a vector cannot fail");
        String::from_utf8(bytes).expect("the CSV is built from UTF-8 text")
    }
}
