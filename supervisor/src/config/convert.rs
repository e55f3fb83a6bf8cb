//! Conversion of the parsed file into [`Config`], with every check that needs more than one
//! value: the supervisor's own checks here, the firmware's in [`ClusterConfig::validate`].

use std::ops::Range;
use std::path::{Path, PathBuf};

use heapless::String as FixedString;
use picluster_firmware::config::{
    ClusterConfig, ConfigProblem, LineId, NAME_CAPACITY, NodeConfig, Polarity, QuarantinePower,
    RecoveryConfig, Role, SupplyConfig, SwitchLine, Timings,
};
use picluster_firmware::reference::{self, MAX_NODES};
use picluster_firmware::units::{Duration, Milliamps, Millivolts};
use toml::Spanned;

use super::Config;
use super::error::{Finding, Location};
use super::file::{
    DaemonTable, FileTable, MonitorTable, NodeTable, OutputTable, ProtectionTable,
    QuarantinePowerName, RecoveryTable, RoleName, SupplyKindName, SupplyTable, TimingsTable,
};
use super::problems::{FileSpans, NodeSpans, describe_problem};
use super::settings::{
    CHARGER_VOLTAGE, DEFAULT_GPIO_CHIP, DEFAULT_I2C_BUS, DEFAULT_JOURNAL_ROTATIONS,
    DEFAULT_JOURNAL_SIZE_LIMIT, DEFAULT_METRICS_LISTEN, DEFAULT_MONITOR_ADDRESS,
    DEFAULT_SOCKET_PATH, DEFAULT_STATE_DIR, DaemonSettings, I2cMode, LinuxSettings,
    MonitorSettings, RestorePolicy, SimSettings, SupplyKind,
};

/// Default switch-verification step. Estimate: every board draws at least 100 mA within a
/// second of power-on (SoC, USB hub and Ethernet come up at once), the figure the reference
/// cluster uses.
pub const DEFAULT_MIN_STEP: Milliamps = Milliamps(100);

/// Default priority of a worker: lowest, so it is shed first.
pub const DEFAULT_WORKER_PRIORITY: u8 = 0;

/// Default priority of the head; the head is never shed, so the value only orders status.
pub const DEFAULT_HEAD_PRIORITY: u8 = u8::MAX;

/// Smallest journal rotation size. Estimate: 64 KiB is about 200 events of 300 bytes, and
/// smaller files would rotate so often that the kept files cover only minutes.
const MIN_JOURNAL_SIZE_LIMIT: u64 = 64 * 1024;

/// The voltage range a bench supply may be set to: USB 2.0 allows 4.75 V to 5.25 V at a
/// port, and the boards are powered through micro-USB like any USB device.
const BENCH_VOLTAGE_RANGE: Range<i32> = 4_750..5_251;

/// The I2C addresses the INA219 and INA226 straps select: 0x40 to 0x4F.
const MONITOR_ADDRESSES: std::ops::RangeInclusive<u8> = 0x40..=0x4F;

/// Collects findings while the file is converted.
pub(super) struct Checks<'a> {
    text: &'a str,
    findings: Vec<Finding>,
}

impl<'a> Checks<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Checks {
            text,
            findings: Vec::new(),
        }
    }

    /// Records a problem with `key` at `span`.
    pub(super) fn report(&mut self, span: Option<Range<usize>>, key: &str, message: String) {
        self.findings.push(Finding {
            span,
            key: Some(key.to_owned()),
            message,
        });
    }

    /// Returns the line number of `span`, for messages that point at a second place.
    pub(super) fn line_of(&self, span: &Range<usize>) -> usize {
        Location::of_offset(self.text, span.start).line
    }

    /// Returns the findings ordered by position; those without one come last.
    pub(super) fn into_findings(mut self) -> Vec<Finding> {
        self.findings
            .sort_by_key(|finding| finding.span.as_ref().map_or(usize::MAX, |span| span.start));
        self.findings
    }
}

/// Converts the parsed file and runs every check. Returns the findings if any check failed.
pub(super) fn convert(file: FileTable, checks: &mut Checks<'_>) -> Option<Config> {
    let daemon = daemon_settings(file.daemon.into_inner(), checks);
    let supply_kind = supply_kind(&file.supply, checks);

    let protection_span = file.protection.as_ref().map(Spanned::span);
    let protection = file.protection.map(Spanned::into_inner).unwrap_or_default();
    let mut spans = FileSpans::new(file.supply.get_ref().limit.span());
    let supply = supply_config(&file.supply.into_inner(), &protection, &mut spans);
    spans.protection = protection_span;
    check_voltage_levels(supply_kind, &supply, &spans, checks);

    let monitor = monitor_settings(file.monitor, supply.limit, checks);

    spans.timings = file.timings.as_ref().map(Spanned::span);
    let timings = timings(
        file.timings.map(Spanned::into_inner).unwrap_or_default(),
        &mut spans,
    );
    let recovery = recovery(file.recovery.map(Spanned::into_inner).unwrap_or_default());

    let nodes = nodes(file.nodes, checks, &mut spans);
    let cluster = ClusterConfig {
        supply,
        timings,
        recovery,
        nodes,
    };

    if let Err(found) = cluster.validate() {
        // With no budget at all, every boot peak is over it; those follow from the headroom.
        let no_budget = found
            .problems
            .iter()
            .any(|problem| matches!(problem, ConfigProblem::NoBudget { .. }));
        for problem in &found.problems {
            if no_budget && matches!(problem, ConfigProblem::BootPeakOverBudget { .. }) {
                continue;
            }
            describe_problem(problem, &spans, checks);
        }
        if found.dropped > 0 {
            checks.report(
                None,
                "node",
                format!(
                    "{} more problems were found but not listed; fix those above and check again",
                    found.dropped
                ),
            );
        }
    }

    let failed = !checks.findings.is_empty();
    (!failed).then_some(Config {
        daemon,
        supply: supply_kind,
        monitor,
        cluster,
    })
}

fn daemon_settings(table: DaemonTable, checks: &mut Checks<'_>) -> DaemonSettings {
    let socket_path = absolute_path(
        table.socket_path,
        DEFAULT_SOCKET_PATH,
        "socket_path",
        checks,
    );
    let state_dir = absolute_path(table.state_dir, DEFAULT_STATE_DIR, "state_dir", checks);

    if let Some(group) = &table.socket_group
        && group.get_ref().trim().is_empty()
    {
        checks.report(
            Some(group.span()),
            "socket_group",
            "socket_group is empty; name a group, or remove the key to keep the daemon's own group"
                .to_owned(),
        );
    }

    let journal_size_limit = table
        .journal_size_limit
        .map_or(DEFAULT_JOURNAL_SIZE_LIMIT, |size| {
            if size.get_ref().0 < MIN_JOURNAL_SIZE_LIMIT {
                checks.report(
                    Some(size.span()),
                    "journal_size_limit",
                    format!(
                        "journal_size_limit of {} bytes is below the minimum of 64KiB; \
                         a smaller journal would rotate every few hundred events",
                        size.get_ref().0
                    ),
                );
            }
            size.into_inner().0
        });

    let journal_rotations =
        table
            .journal_rotations
            .map_or(DEFAULT_JOURNAL_ROTATIONS, |rotations| {
                if *rotations.get_ref() == 0 {
                    checks.report(
                        Some(rotations.span()),
                        "journal_rotations",
                        "journal_rotations is 0, so every rotation would delete the journal's \
                     events; keep at least 1 rotated file"
                            .to_owned(),
                    );
                }
                rotations.into_inner()
            });

    let linux = table.linux.map_or(
        LinuxSettings {
            gpio_chip: PathBuf::from(DEFAULT_GPIO_CHIP),
            i2c_mode: I2cMode::default(),
        },
        |linux| LinuxSettings {
            gpio_chip: absolute_path(linux.gpio_chip, DEFAULT_GPIO_CHIP, "gpio_chip", checks),
            i2c_mode: linux.i2c_mode.unwrap_or_default(),
        },
    );

    let sim = table.sim.map_or(
        SimSettings {
            speed: 1.0,
            scenario: None,
        },
        |sim| SimSettings {
            speed: sim_speed(sim.speed, checks),
            scenario: sim.scenario,
        },
    );

    DaemonSettings {
        backend: table.backend,
        restore_policy: table.restore_policy.unwrap_or(RestorePolicy::Previous),
        socket_path,
        socket_group: table.socket_group.map(Spanned::into_inner),
        state_dir,
        journal_size_limit,
        journal_rotations,
        metrics_listen: table.metrics_listen.unwrap_or(DEFAULT_METRICS_LISTEN),
        linux,
        sim,
    }
}

/// Returns the path, or `default` when absent; a relative path is reported, because the
/// daemon's working folder is not fixed.
fn absolute_path(
    value: Option<Spanned<PathBuf>>,
    default: &str,
    key: &str,
    checks: &mut Checks<'_>,
) -> PathBuf {
    let Some(value) = value else {
        return PathBuf::from(default);
    };
    if !Path::is_absolute(value.get_ref()) {
        checks.report(
            Some(value.span()),
            key,
            format!(
                "{key} \"{}\" is a relative path; write an absolute one, such as \"{default}\"",
                value.get_ref().display()
            ),
        );
    }
    value.into_inner()
}

fn sim_speed(speed: Option<Spanned<f64>>, checks: &mut Checks<'_>) -> f64 {
    let Some(speed) = speed else {
        return 1.0;
    };
    let value = *speed.get_ref();
    if !(value.is_finite() && value > 0.0) {
        checks.report(
            Some(speed.span()),
            "speed",
            format!("speed {value} must be a number above 0 (1 runs in real time)"),
        );
    }
    value
}

fn supply_kind(supply: &Spanned<SupplyTable>, checks: &mut Checks<'_>) -> SupplyKind {
    let table = supply.get_ref();
    match (table.kind.get_ref(), &table.voltage) {
        (SupplyKindName::Charger, None) => SupplyKind::Charger,
        (SupplyKindName::Charger, Some(voltage)) => {
            checks.report(
                Some(voltage.span()),
                "voltage",
                "`voltage` is a key of kind = \"bench\" only: a charger delivers USB's 5 V; \
                 remove it, or set kind = \"bench\""
                    .to_owned(),
            );
            SupplyKind::Charger
        }
        (SupplyKindName::Bench, Some(voltage)) => {
            let volts = voltage.get_ref().0;
            if !BENCH_VOLTAGE_RANGE.contains(&volts.0) {
                checks.report(
                    Some(voltage.span()),
                    "voltage",
                    format!(
                        "bench supply voltage {volts} is outside 4750 mV to 5250 mV, the range \
                         USB allows and the boards expect at their micro-USB input"
                    ),
                );
            }
            SupplyKind::Bench { voltage: volts }
        }
        (SupplyKindName::Bench, None) => {
            checks.report(
                Some(supply.span()),
                "voltage",
                "a bench supply needs `voltage`, the voltage it is set to, such as \"5.1V\""
                    .to_owned(),
            );
            SupplyKind::Bench {
                voltage: CHARGER_VOLTAGE,
            }
        }
    }
}

/// Builds the firmware's supply settings; absent keys take the reference cluster's values.
fn supply_config(
    supply: &SupplyTable,
    protection: &ProtectionTable,
    spans: &mut FileSpans,
) -> SupplyConfig {
    let defaults = reference::supply();
    spans.headroom = protection.headroom.as_ref().map(Spanned::span);
    spans.under_voltage = protection.under_voltage.as_ref().map(Spanned::span);
    spans.under_voltage_clear = protection.under_voltage_clear.as_ref().map(Spanned::span);

    SupplyConfig {
        limit: supply.limit.get_ref().0,
        headroom: current_or(&protection.headroom, defaults.headroom),
        under_voltage: voltage_or(&protection.under_voltage, defaults.under_voltage),
        under_voltage_clear: voltage_or(
            &protection.under_voltage_clear,
            defaults.under_voltage_clear,
        ),
        over_current_hysteresis: current_or(
            &protection.over_current_hysteresis,
            defaults.over_current_hysteresis,
        ),
    }
}

fn current_or(
    value: &Option<Spanned<super::quantity::CurrentValue>>,
    default: Milliamps,
) -> Milliamps {
    value.as_ref().map_or(default, |value| value.get_ref().0)
}

fn voltage_or(
    value: &Option<Spanned<super::quantity::VoltageValue>>,
    default: Millivolts,
) -> Millivolts {
    value.as_ref().map_or(default, |value| value.get_ref().0)
}

/// Reports an under-voltage clear level the supply cannot reach with no load.
fn check_voltage_levels(
    kind: SupplyKind,
    supply: &SupplyConfig,
    spans: &FileSpans,
    checks: &mut Checks<'_>,
) {
    let nominal = kind.nominal_voltage();
    if supply.under_voltage_clear >= nominal {
        let span = spans
            .under_voltage_clear
            .clone()
            .or_else(|| spans.protection.clone());
        checks.report(
            span,
            "under_voltage_clear",
            format!(
                "under_voltage_clear {} is not below the supply's nominal {nominal}, so an \
                 under-voltage trip could never clear; lower it",
                supply.under_voltage_clear
            ),
        );
    }
}

fn monitor_settings(
    table: Spanned<MonitorTable>,
    supply_limit: Milliamps,
    checks: &mut Checks<'_>,
) -> MonitorSettings {
    let table = table.into_inner();

    let address = table.address.map_or(DEFAULT_MONITOR_ADDRESS, |address| {
        let value = *address.get_ref();
        if !MONITOR_ADDRESSES.contains(&value) {
            checks.report(
                Some(address.span()),
                "address",
                format!(
                    "address {value:#04x} is not one an INA219 or INA226 can have; \
                     the A0 and A1 straps select 0x40 to 0x4F"
                ),
            );
        }
        value
    });

    let shunt_micro_ohms = shunt_micro_ohms(&table.shunt_ohms, checks);
    let max_current = table
        .max_current
        .as_ref()
        .map_or(supply_limit, |current| current.get_ref().0);
    let max_current_span = table.max_current.as_ref().map(Spanned::span);
    if max_current < supply_limit {
        checks.report(
            max_current_span.clone(),
            "max_current",
            format!(
                "max_current {max_current} is below the supply limit {supply_limit}, so a draw \
                 near the limit would overflow the monitor; set it to at least {supply_limit}"
            ),
        );
    }

    if let Some(micro_ohms) = shunt_micro_ohms {
        // Milliamps times micro-ohms is nanovolts.
        let drop_microvolts = i64::from(max_current.0) * i64::from(micro_ohms) / 1_000;
        let range = table.chip.shunt_range_microvolts();
        if drop_microvolts > range as i64 {
            let subject = match max_current_span {
                Some(_) => "max_current",
                None => "max_current (the supply limit)",
            };
            checks.report(
                Some(table.shunt_ohms.span()),
                "shunt_ohms",
                format!(
                    "the shunt drops {drop_microvolts} uV at {subject} {max_current}, beyond \
                     the chip's {range} uV range; use a smaller shunt or another chip"
                ),
            );
        }
    }

    MonitorSettings {
        chip: table.chip,
        i2c_bus: table.i2c_bus.unwrap_or(DEFAULT_I2C_BUS),
        address,
        shunt_micro_ohms: shunt_micro_ohms.unwrap_or(0),
        max_current,
        i2c_clock: table.i2c_clock,
    }
}

/// Converts `shunt_ohms` to whole micro-ohms, reporting values that cannot be a shunt.
fn shunt_micro_ohms(shunt_ohms: &Spanned<f64>, checks: &mut Checks<'_>) -> Option<u32> {
    let ohms = *shunt_ohms.get_ref();
    let micro_ohms = (ohms * 1e6).round();
    if ohms.is_finite() && micro_ohms >= 1.0 && micro_ohms <= f64::from(u32::MAX) {
        return Some(micro_ohms as u32);
    }
    checks.report(
        Some(shunt_ohms.span()),
        "shunt_ohms",
        format!("shunt_ohms {ohms} must be between 0.000001 and 4294 ohms, such as 0.01"),
    );
    None
}

/// Builds the firmware timings; absent keys take the reference cluster's values.
fn timings(table: TimingsTable, spans: &mut FileSpans) -> Timings {
    let defaults = reference::timings();
    let mut duration = |name: &'static str, value: Option<Spanned<_>>, default: Duration| {
        take(name, value, spans).map_or(default, |value: super::quantity::DurationValue| value.0)
    };
    let inrush_window = duration("inrush_window", table.inrush_window, defaults.inrush_window);
    let boot_grace = duration("boot_grace", table.boot_grace, defaults.boot_grace);
    let heartbeat_timeout = duration(
        "heartbeat_timeout",
        table.heartbeat_timeout,
        defaults.heartbeat_timeout,
    );
    let debounce = duration("debounce", table.debounce, defaults.debounce);
    let noisy_window = duration("noisy_window", table.noisy_window, defaults.noisy_window);
    let min_off_time = duration("min_off_time", table.min_off_time, defaults.min_off_time);
    let verify_window = duration("verify_window", table.verify_window, defaults.verify_window);
    let trip_delay = duration("trip_delay", table.trip_delay, defaults.trip_delay);
    let reset_pulse = duration("reset_pulse", table.reset_pulse, defaults.reset_pulse);
    let backoff = duration("backoff", table.backoff, defaults.backoff);
    let cycle_window = duration("cycle_window", table.cycle_window, defaults.cycle_window);
    let telemetry_timeout = duration(
        "telemetry_timeout",
        table.telemetry_timeout,
        defaults.telemetry_timeout,
    );

    Timings {
        inrush_window,
        boot_grace,
        heartbeat_timeout,
        debounce,
        noisy_window,
        noisy_edges: take("noisy_edges", table.noisy_edges, spans).unwrap_or(defaults.noisy_edges),
        min_off_time,
        verify_window,
        trip_delay,
        reset_pulse,
        backoff,
        max_cycles: take("max_cycles", table.max_cycles, spans).unwrap_or(defaults.max_cycles),
        cycle_window,
        telemetry_timeout,
    }
}

/// Records the span of timing `name` and returns its value.
fn take<T>(name: &'static str, value: Option<Spanned<T>>, spans: &mut FileSpans) -> Option<T> {
    let value = value?;
    spans.timing_keys.push((name, value.span()));
    Some(value.into_inner())
}

fn recovery(table: RecoveryTable) -> RecoveryConfig {
    let defaults = reference::recovery();
    RecoveryConfig {
        reset_first: table.reset_first.unwrap_or(defaults.reset_first),
        quarantine_power: match table.quarantine_power {
            None => defaults.quarantine_power,
            Some(QuarantinePowerName::Off) => QuarantinePower::Off,
            Some(QuarantinePowerName::On) => QuarantinePower::On,
        },
    }
}

/// Builds the firmware's node table in file order and records where each node's keys are.
fn nodes(
    tables: Vec<Spanned<NodeTable>>,
    checks: &mut Checks<'_>,
    spans: &mut FileSpans,
) -> heapless::Vec<NodeConfig, MAX_NODES> {
    let mut nodes = heapless::Vec::new();
    let mut first_head: Option<(String, Range<usize>)> = None;

    for (index, table) in tables.into_iter().enumerate() {
        let table_span = table.span();
        let table = table.into_inner();
        let name = table.name.get_ref().clone();

        if index == MAX_NODES {
            checks.report(
                Some(table_span),
                "node",
                format!(
                    "{name} is node {index}, but a daemon supervises at most {MAX_NODES} nodes; \
                     split the cluster between two head nodes"
                ),
            );
            break;
        }

        let role = match table.role.unwrap_or(RoleName::Worker) {
            RoleName::Worker => Role::Worker,
            RoleName::Head => Role::Head,
        };
        if role == Role::Head {
            check_head(&table, &mut first_head, checks);
        }

        let fixed_name = node_name(&table.name, checks);
        let node_spans = NodeSpans::of(&table, table_span, fixed_name.is_some());
        let node = node_config(table, role, fixed_name.unwrap_or_default());
        spans.nodes.push(node_spans);
        // `index < MAX_NODES` was checked above, so the push always succeeds.
        let _ = nodes.push(node);
    }
    nodes
}

fn node_config(table: NodeTable, role: Role, name: FixedString<NAME_CAPACITY>) -> NodeConfig {
    let default_priority = match role {
        Role::Worker => DEFAULT_WORKER_PRIORITY,
        Role::Head => DEFAULT_HEAD_PRIORITY,
    };
    NodeConfig {
        name,
        role,
        priority: table.priority.unwrap_or(default_priority),
        switch: table.switch.map(|switch| output_line(switch.get_ref())),
        reset: table.reset.map(|reset| output_line(reset.get_ref())),
        heartbeat: table
            .heartbeat
            .map(|heartbeat| LineId(*heartbeat.get_ref().line.get_ref())),
        boot_peak: table.boot_peak.get_ref().0,
        idle: table.idle.get_ref().0,
        min_step: table
            .min_step
            .map_or(DEFAULT_MIN_STEP, |step| step.get_ref().0),
    }
}

fn output_line(table: &OutputTable) -> SwitchLine {
    SwitchLine {
        line: LineId(*table.line.get_ref()),
        polarity: if table.active_low {
            Polarity::ActiveLow
        } else {
            Polarity::ActiveHigh
        },
    }
}

/// Reports a second head, and a reset or heartbeat line on a head.
fn check_head(
    table: &NodeTable,
    first_head: &mut Option<(String, Range<usize>)>,
    checks: &mut Checks<'_>,
) {
    let name = table.name.get_ref();
    match first_head {
        Some((first, first_span)) => {
            let first_line = checks.line_of(first_span);
            let message = format!(
                "{name} is a second head node after {first} (file line {first_line}); the head \
                 runs the daemon and there is one per cluster, so set role = \"worker\" on one"
            );
            checks.report(Some(table.name.span()), "role", message);
        }
        None => *first_head = Some((name.clone(), table.name.span())),
    }
    if let Some(reset) = &table.reset {
        checks.report(
            Some(reset.span()),
            "reset",
            format!(
                "{name} is the head node but has a `reset` line: the daemon could reset the \
                 board it runs on; remove `reset`"
            ),
        );
    }
    if let Some(heartbeat) = &table.heartbeat {
        checks.report(
            Some(heartbeat.span()),
            "heartbeat",
            format!(
                "{name} is the head node but has a `heartbeat` line: the head is never \
                 recovered, so the line would only be claimed for nothing; remove `heartbeat`"
            ),
        );
    }
}

/// Checks a node name and returns it in the firmware's fixed-size form, or `None` if it is
/// unusable.
fn node_name(
    name: &Spanned<String>,
    checks: &mut Checks<'_>,
) -> Option<FixedString<NAME_CAPACITY>> {
    let text = name.get_ref();
    let problem = name_problem(text);
    if let Some(problem) = &problem {
        checks.report(
            Some(name.span()),
            "name",
            format!("node name {text:?} {problem}"),
        );
    }
    problem
        .is_none()
        .then(|| FixedString::try_from(text.as_str()).ok())
        .flatten()
}

/// Returns why `name` cannot name a node, if it cannot.
fn name_problem(name: &str) -> Option<String> {
    let is_hostname_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    let looks_like_index = name
        .split('-')
        .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()));

    if name.is_empty() {
        Some("is empty; use the node's hostname".to_owned())
    } else if name.len() > NAME_CAPACITY {
        Some(format!(
            "is {} bytes long, over the {NAME_CAPACITY}-byte limit; use a shorter hostname",
            name.len()
        ))
    } else if !name.chars().all(is_hostname_char) {
        Some("is not a hostname: use letters, digits, '-' and '.' only".to_owned())
    } else if name
        .split('.')
        .any(|label| label.is_empty() || label.starts_with('-'))
    {
        Some("is not a hostname: a part between dots is empty or starts with '-'".to_owned())
    } else if looks_like_index {
        Some("reads as a node index or range in selectors; use the hostname".to_owned())
    } else if name == "all" {
        Some("is the selector for every worker; use the hostname".to_owned())
    } else {
        None
    }
}
