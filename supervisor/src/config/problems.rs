//! Messages for the firmware's [`ConfigProblem`]s, placed at the key to fix.

use std::ops::Range;

use picluster_firmware::config::{ConfigProblem, LineId, NodeId};

use super::convert::Checks;
use super::file::NodeTable;

/// Positions of the values that firmware problems refer to.
#[derive(Debug)]
pub(super) struct FileSpans {
    pub limit: Range<usize>,
    pub protection: Option<Range<usize>>,
    pub headroom: Option<Range<usize>>,
    pub under_voltage: Option<Range<usize>>,
    pub under_voltage_clear: Option<Range<usize>>,
    pub timings: Option<Range<usize>>,
    /// Each timing key written in the file, by its firmware name.
    pub timing_keys: Vec<(&'static str, Range<usize>)>,
    /// One entry per node, in file order.
    pub nodes: Vec<NodeSpans>,
}

impl FileSpans {
    pub(super) fn new(limit: Range<usize>) -> Self {
        FileSpans {
            limit,
            protection: None,
            headroom: None,
            under_voltage: None,
            under_voltage_clear: None,
            timings: None,
            timing_keys: Vec::new(),
            nodes: Vec::new(),
        }
    }

    fn timing(&self, name: &str) -> Option<Range<usize>> {
        self.timing_keys
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, span)| span.clone())
    }
}

/// Positions of one node's keys.
#[derive(Debug)]
pub(super) struct NodeSpans {
    /// The name as written, even when it is not a usable name.
    pub name: String,
    pub name_span: Range<usize>,
    pub name_valid: bool,
    pub table: Range<usize>,
    pub switch: Option<Range<usize>>,
    /// Each line the node uses: the table naming it (`switch`, `reset`, `heartbeat`), the
    /// line and where its value is.
    pub uses: Vec<(&'static str, u32, Range<usize>)>,
    pub boot_peak: Range<usize>,
    pub min_step: Option<Range<usize>>,
}

impl NodeSpans {
    pub(super) fn of(table: &NodeTable, table_span: Range<usize>, name_valid: bool) -> Self {
        let mut uses = Vec::new();
        if let Some(switch) = &table.switch {
            let line = &switch.get_ref().line;
            uses.push(("switch", *line.get_ref(), line.span()));
        }
        if let Some(reset) = &table.reset {
            let line = &reset.get_ref().line;
            uses.push(("reset", *line.get_ref(), line.span()));
        }
        if let Some(heartbeat) = &table.heartbeat {
            let line = &heartbeat.get_ref().line;
            uses.push(("heartbeat", *line.get_ref(), line.span()));
        }
        NodeSpans {
            name: table.name.get_ref().clone(),
            name_span: table.name.span(),
            name_valid,
            table: table_span,
            switch: table.switch.as_ref().map(|switch| switch.span()),
            uses,
            boot_peak: table.boot_peak.span(),
            min_step: table.min_step.as_ref().map(|step| step.span()),
        }
    }

    /// Returns the uses of `line`, in the order the node's tables name them.
    fn uses_of(&self, line: LineId) -> impl Iterator<Item = &(&'static str, u32, Range<usize>)> {
        self.uses.iter().filter(move |(_, used, _)| *used == line.0)
    }
}

/// Reports one firmware problem at the key an operator has to change.
pub(super) fn describe_problem(
    problem: &ConfigProblem,
    spans: &FileSpans,
    checks: &mut Checks<'_>,
) {
    let node = |id: NodeId| &spans.nodes[id.index()];
    match *problem {
        ConfigProblem::HeadSwitchable { node: id } => {
            let node = node(id);
            checks.report(
                node.switch.clone(),
                "switch",
                format!(
                    "{} is the head node but has a `switch`: the daemon could cut its own \
                     power; remove `switch`, or set role = \"worker\" if this board is not the \
                     head",
                    node.name
                ),
            );
        }
        ConfigProblem::WorkerWithoutSwitch { node: id } => {
            let node = node(id);
            checks.report(
                Some(node.name_span.clone()),
                "switch",
                format!(
                    "worker {} has no `switch`, so nothing can power it; add \
                     switch = {{ line = N, active_low = false }}, or set role = \"head\"",
                    node.name
                ),
            );
        }
        ConfigProblem::LineUsedTwice {
            line,
            first,
            second,
        } => describe_line_used_twice(line, node(first), node(second), checks),
        ConfigProblem::NoBudget { limit, headroom } => {
            let span = spans.headroom.clone().or_else(|| Some(spans.limit.clone()));
            checks.report(
                span,
                "headroom",
                format!(
                    "headroom {headroom} is not below the supply limit {limit}, which leaves \
                     no budget for any node; lower `headroom` below {limit}"
                ),
            );
        }
        ConfigProblem::BootPeakOverBudget {
            node: id,
            boot_peak,
            budget,
        } => {
            let node = node(id);
            checks.report(
                Some(node.boot_peak.clone()),
                "boot_peak",
                format!(
                    "{}'s boot_peak {boot_peak} is over the supply budget {budget} (limit \
                     minus headroom), so it could never be switched on; check `boot_peak`, \
                     raise the supply `limit` or lower `headroom`",
                    node.name
                ),
            );
        }
        ConfigProblem::MinStepNotPositive { node: id, min_step } => {
            let node = node(id);
            let span = node.min_step.clone().unwrap_or(node.table.clone());
            checks.report(
                Some(span),
                "min_step",
                format!(
                    "{}'s min_step {min_step} must be above 0 mA, or a stuck switch could not \
                     be told apart from a working one",
                    node.name
                ),
            );
        }
        ConfigProblem::UnderVoltageHysteresis { trip, clear } => {
            let span = spans
                .under_voltage_clear
                .clone()
                .or_else(|| spans.under_voltage.clone())
                .or_else(|| spans.protection.clone());
            checks.report(
                span,
                "under_voltage_clear",
                format!(
                    "under_voltage_clear {clear} must be above under_voltage {trip}, or the \
                     trip would clear while the voltage is still low"
                ),
            );
        }
        ConfigProblem::ZeroTiming { name } => {
            let span = spans.timing(name).or_else(|| spans.timings.clone());
            checks.report(span, name, format!("{name} must be longer than 0 s"));
        }
        ConfigProblem::VerifyLongerThanInrush { verify, inrush } => {
            let span = spans
                .timing("verify_window")
                .or_else(|| spans.timing("inrush_window"))
                .or_else(|| spans.timings.clone());
            checks.report(
                span,
                "verify_window",
                format!(
                    "verify_window {verify} is longer than inrush_window {inrush}, so the next \
                     node's power-on could fall inside the check; shorten `verify_window` or \
                     lengthen `inrush_window`"
                ),
            );
        }
        ConfigProblem::NoCyclesAllowed => {
            let span = spans.timing("max_cycles").or_else(|| spans.timings.clone());
            checks.report(
                span,
                "max_cycles",
                "max_cycles is 0, so every lost heartbeat would quarantine the node at once; \
                 allow at least 1"
                    .to_owned(),
            );
        }
        ConfigProblem::DuplicateName { first, second } => {
            let (first_node, second_node) = (node(first), node(second));
            // An unusable name is already reported; the firmware saw an empty stand-in.
            if first_node.name_valid && second_node.name_valid {
                let first_line = checks.line_of(&first_node.name_span);
                checks.report(
                    Some(second_node.name_span.clone()),
                    "name",
                    format!(
                        "name {} is already used by node {} (line {first_line}); give each node \
                         its own name",
                        second_node.name, first.0
                    ),
                );
            }
        }
        ConfigProblem::NodesChanged => {
            // Only a reload raises this, and the daemon checks the nodes before it, with its
            // own message; a file on its own cannot produce it.
            checks.report(
                None,
                "node",
                "the nodes' names, roles or lines differ from the running configuration; \
                 restart the daemon to apply them"
                    .to_owned(),
            );
        }
    }
}

fn describe_line_used_twice(
    line: LineId,
    first: &NodeSpans,
    second: &NodeSpans,
    checks: &mut Checks<'_>,
) {
    let same_node = std::ptr::eq(first, second);
    let mut second_uses = second.uses_of(line);
    let first_use = first.uses_of(line).next();
    let second_use = if same_node {
        second_uses.nth(1)
    } else {
        second_uses.next()
    };
    let (Some((first_key, _, first_span)), Some((second_key, _, second_span))) =
        (first_use, second_use)
    else {
        checks.report(
            Some(second.table.clone()),
            "line",
            format!(
                "GPIO line {} is used twice; give each use its own line",
                line.0
            ),
        );
        return;
    };

    let message = if same_node {
        format!(
            "GPIO line {} is used twice by {}, in `{first_key}` and `{second_key}`; give each use \
             its own line",
            line.0, second.name
        )
    } else {
        let first_line = checks.line_of(first_span);
        format!(
            "GPIO line {} is used by both {} (`{first_key}`, file line {first_line}) and {} \
             (`{second_key}`); give each node its own line",
            line.0, first.name, second.name
        )
    };
    checks.report(Some(second_span.clone()), "line", message);
}
