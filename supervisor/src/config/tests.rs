use std::path::{Path, PathBuf};

use picluster_firmware::config::{LineId, NodeId, Polarity, Role};
use picluster_firmware::reference;
use picluster_firmware::units::{Duration, Milliamps, Millivolts};

use super::*;

/// The smallest valid file: a supply, the daemon's backend and a monitor; no nodes.
const BASE: &str = r#"supply = { kind = "charger", limit = "5.4A" }

[daemon]
backend = "sim"

[monitor]
chip = "ina219"
shunt_ohms = 0.01
max_current = "5.4A"
"#;

/// Two workers and a head, appended to [`BASE`].
const NODES: &str = r#"
[[node]]
name = "alpha.lan"
switch = { line = 17, active_low = false }
heartbeat = { line = 23 }
idle = "350mA"
boot_peak = "400mA"

[[node]]
name = "beta.lan"
switch = { line = 27, active_low = false }
heartbeat = { line = 24 }
idle = "350mA"
boot_peak = "400mA"

[[node]]
name = "head.lan"
role = "head"
idle = "400mA"
boot_peak = "750mA"
"#;

const ORIGIN: &str = "picluster.toml";

fn shipped_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/picluster.toml")
}

fn parse_error(text: &str) -> ConfigError {
    match parse(text, ORIGIN) {
        Ok(config) => panic!("expected an error, got {config:?}"),
        Err(error) => error,
    }
}

/// Returns the only problem of `error`, failing the test if there are more or fewer.
fn only_problem(error: &ConfigError) -> &Problem {
    assert_eq!(error.problems().len(), 1, "{error}");
    &error.problems()[0]
}

/// Returns the 1-based line of the first occurrence of `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    let offset = text.find(needle).expect("needle is in the text");
    text[..offset].matches('\n').count() + 1
}

#[test]
fn shipped_file_is_reference_cluster() {
    let config = load(&shipped_file()).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(config.cluster, reference::cluster());
}

#[test]
fn shipped_file_daemon_settings() {
    let config = load(&shipped_file()).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(config.supply, SupplyKind::Charger);
    assert_eq!(config.daemon.backend, Backend::Rppal);
    assert_eq!(config.daemon.restore_policy, RestorePolicy::Previous);
    assert_eq!(config.daemon.metrics_listen, DEFAULT_METRICS_LISTEN);
    assert_eq!(config.monitor.chip, MonitorChip::Ina219);
    assert_eq!(config.monitor.address, 0x40);
    assert_eq!(config.monitor.shunt_micro_ohms, 10_000);
    assert_eq!(config.monitor.max_current, Milliamps(5_400));
}

#[test]
fn bench_supply_is_one_line_change() {
    let text = std::fs::read_to_string(shipped_file()).unwrap();
    let charger = "supply = { kind = \"charger\", limit = \"5.4A\" }";
    let bench = "supply = { kind = \"bench\", voltage = \"5.1V\", limit = \"8A\" }";
    assert_eq!(text.matches(charger).count(), 1);
    let changed = text.replacen(charger, bench, 1);
    let changed_lines = text
        .lines()
        .zip(changed.lines())
        .filter(|(before, after)| before != after)
        .count();
    assert_eq!(changed_lines, 1);

    let config = parse(&changed, ORIGIN).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        config.supply,
        SupplyKind::Bench {
            voltage: Millivolts(5_100)
        }
    );
    assert_eq!(config.cluster.supply.limit, Milliamps(8_000));
    assert_eq!(config.cluster.supply.budget(), Milliamps(7_600));
    assert_eq!(config.monitor.max_current, Milliamps(8_000));
}

#[test]
fn minimal_file_takes_defaults() {
    let config = parse(BASE, ORIGIN).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(config.daemon.socket_path, Path::new(DEFAULT_SOCKET_PATH));
    assert_eq!(config.daemon.state_dir, Path::new(DEFAULT_STATE_DIR));
    assert_eq!(config.daemon.socket_group, None);
    assert_eq!(config.daemon.restore_policy, RestorePolicy::Previous);
    assert!(config.daemon.metrics_listen.ip().is_loopback());
    assert_eq!(config.daemon.journal_size_limit, DEFAULT_JOURNAL_SIZE_LIMIT);
    assert_eq!(config.daemon.journal_rotations, DEFAULT_JOURNAL_ROTATIONS);
    assert_eq!(config.monitor.i2c_bus, DEFAULT_I2C_BUS);
    assert_eq!(config.monitor.address, DEFAULT_MONITOR_ADDRESS);
    assert_eq!(config.cluster.supply, reference::supply());
    assert_eq!(config.cluster.timings, reference::timings());
    assert_eq!(config.cluster.recovery, reference::recovery());
    assert!(config.cluster.nodes.is_empty());
}

#[test]
fn node_defaults_and_polarity() {
    let text = format!("{BASE}{NODES}");
    let config = parse(&text, ORIGIN).unwrap_or_else(|error| panic!("{error}"));
    let alpha = &config.cluster.nodes[0];
    assert_eq!(alpha.role, Role::Worker);
    assert_eq!(alpha.priority, DEFAULT_WORKER_PRIORITY);
    assert_eq!(alpha.min_step, DEFAULT_MIN_STEP);
    assert_eq!(alpha.switch.unwrap().line, LineId(17));
    assert_eq!(alpha.switch.unwrap().polarity, Polarity::ActiveHigh);
    assert_eq!(alpha.heartbeat, Some(LineId(23)));
    let head = &config.cluster.nodes[2];
    assert_eq!(head.role, Role::Head);
    assert_eq!(head.priority, DEFAULT_HEAD_PRIORITY);
    assert_eq!(config.cluster.node_by_name("beta.lan"), Some(NodeId(1)));
}

#[test]
fn misspelled_switch_key_names_closest() {
    let text = format!(
        "{BASE}\n[[node]]\nname = \"alpha.lan\"\n\
         switch = {{ line = 17, active_lo = true }}\nidle = \"350mA\"\nboot_peak = \"400mA\"\n"
    );
    let error = parse_error(&text);
    let problem = only_problem(&error);
    assert_eq!(error.origin(), "picluster.toml");
    assert_eq!(
        problem.location,
        Some(Location {
            line: 13,
            column: 23
        })
    );
    assert_eq!(problem.key.as_deref(), Some("active_lo"));
    assert_eq!(problem.closest.as_deref(), Some("active_low"));
    let output = error.to_string();
    assert!(output.starts_with("picluster.toml:13:23: "), "{output}");
    assert!(output.contains("`active_lo`"), "{output}");
    assert!(output.contains("did you mean `active_low`?"), "{output}");
}

#[test]
fn misspelled_key_in_switch_table() {
    let text = format!(
        "{BASE}\n[[node]]\nname = \"alpha.lan\"\nidle = \"350mA\"\nboot_peak = \"400mA\"\n\
         \n[node.switch]\nline = 17\nactive_lo = true\n"
    );
    let error = parse_error(&text);
    let problem = only_problem(&error);
    let location = problem.location.expect("the problem has a location");
    assert_eq!(location.line, line_of(&text, "active_lo"));
    assert_eq!(location.column, 1);
    assert_eq!(problem.key.as_deref(), Some("active_lo"));
    assert_eq!(problem.closest.as_deref(), Some("active_low"));
}

#[test]
fn charger_with_shunt_key_rejected() {
    let text = BASE.replacen(
        "supply = { kind = \"charger\", limit = \"5.4A\" }",
        "[supply]\nkind = \"charger\"\nlimit = \"5.4A\"\nshunt_ohms = 0.01\n",
        1,
    );
    let error = parse_error(&text);
    let problem = only_problem(&error);
    assert_eq!(error.origin(), "picluster.toml");
    assert_eq!(problem.location.map(|location| location.line), Some(4));
    assert_eq!(problem.key.as_deref(), Some("shunt_ohms"));
    assert_eq!(problem.closest, None);
    let output = error.to_string();
    assert!(output.starts_with("picluster.toml:4:1: "), "{output}");
    assert!(
        output.contains("`shunt_ohms` is a key of [monitor]"),
        "{output}"
    );
}

#[test]
fn charger_with_shunt_key_inline_rejected() {
    let text = BASE.replacen(
        "limit = \"5.4A\" }",
        "limit = \"5.4A\", shunt_ohms = 0.01 }",
        1,
    );
    let error = parse_error(&text);
    let problem = only_problem(&error);
    assert_eq!(problem.location.map(|location| location.line), Some(1));
    assert_eq!(problem.key.as_deref(), Some("shunt_ohms"));
}

#[test]
fn charger_with_voltage_rejected() {
    let text = BASE.replacen(
        "limit = \"5.4A\" }",
        "limit = \"5.4A\", voltage = \"5.1V\" }",
        1,
    );
    let error = parse_error(&text);
    let problem = only_problem(&error);
    assert_eq!(problem.location.map(|location| location.line), Some(1));
    assert_eq!(problem.key.as_deref(), Some("voltage"));
    assert!(
        problem.message.contains("kind = \"bench\" only"),
        "{}",
        problem.message
    );
}

#[test]
fn bench_without_voltage_rejected() {
    let text = BASE.replacen("kind = \"charger\"", "kind = \"bench\"", 1);
    let error = parse_error(&text);
    let problem = only_problem(&error);
    assert_eq!(problem.key.as_deref(), Some("voltage"));
    assert!(
        problem.message.contains("needs `voltage`"),
        "{}",
        problem.message
    );
}

#[test]
fn bench_voltage_outside_usb_range_rejected() {
    let text = BASE.replacen(
        "kind = \"charger\"",
        "kind = \"bench\", voltage = \"12V\"",
        1,
    );
    let problem = only_problem(&parse_error(&text)).clone();
    assert_eq!(problem.key.as_deref(), Some("voltage"));
    assert!(problem.message.contains("12000 mV"), "{}", problem.message);
}

#[test]
fn misspelled_supply_kind_suggests_charger() {
    let text = BASE.replacen("kind = \"charger\"", "kind = \"chargr\"", 1);
    let error = parse_error(&text);
    let problem = only_problem(&error);
    assert_eq!(problem.location.map(|location| location.line), Some(1));
    assert_eq!(problem.key.as_deref(), Some("kind"));
    assert_eq!(problem.closest.as_deref(), Some("charger"));
}

#[test]
fn current_without_unit_rejected() {
    let text = BASE.replacen("max_current = \"5.4A\"", "max_current = 5400", 1);
    let error = parse_error(&text);
    let problem = only_problem(&error);
    assert_eq!(problem.location.map(|location| location.line), Some(9));
    assert_eq!(problem.key.as_deref(), Some("max_current"));
    assert!(problem.message.contains("\"400mA\""), "{}", problem.message);
}

#[test]
fn root_key_after_table_gets_hint() {
    let text = "[daemon]\nbackend = \"sim\"\nsupply = { kind = \"charger\", limit = \"5.4A\" }\n";
    let error = parse_error(text);
    let problem = only_problem(&error);
    assert_eq!(problem.location.map(|location| location.line), Some(3));
    assert_eq!(problem.key.as_deref(), Some("supply"));
    assert!(
        problem.message.contains("before the first [table] header"),
        "{}",
        problem.message
    );
}

#[test]
fn line_used_twice_names_both_nodes() {
    let text = format!("{BASE}{NODES}").replacen("line = 27", "line = 17", 1);
    let error = parse_error(&text);
    let problem = only_problem(&error);
    assert_eq!(
        problem.location.map(|location| location.line),
        Some(line_of(
            &text,
            "line = 17, active_low = false }\nheartbeat = { line = 24"
        ))
    );
    assert_eq!(problem.key.as_deref(), Some("line"));
    assert!(problem.message.contains("alpha.lan"), "{}", problem.message);
    assert!(problem.message.contains("beta.lan"), "{}", problem.message);
    let first_line = line_of(&text, "line = 17");
    assert!(
        problem
            .message
            .contains(&format!("file line {first_line})")),
        "{}",
        problem.message
    );
    assert!(
        problem.message.starts_with("GPIO line 17 is used by both"),
        "{}",
        problem.message
    );
}

#[test]
fn line_used_twice_within_one_node() {
    let text = format!("{BASE}{NODES}").replacen(
        "heartbeat = { line = 23 }",
        "heartbeat = { line = 17 }",
        1,
    );
    let error = parse_error(&text);
    let problem = only_problem(&error);
    assert_eq!(
        problem.location.map(|location| location.line),
        Some(line_of(&text, "heartbeat = { line = 17 }"))
    );
    assert!(
        problem.message.contains("used twice by alpha.lan"),
        "{}",
        problem.message
    );
}

#[test]
fn switchable_head_rejected() {
    let text = format!("{BASE}{NODES}").replacen(
        "role = \"head\"\n",
        "role = \"head\"\nswitch = { line = 5, active_low = false }\n",
        1,
    );
    let error = parse_error(&text);
    let problem = only_problem(&error);
    assert_eq!(
        problem.location.map(|location| location.line),
        Some(line_of(&text, "switch = { line = 5"))
    );
    assert_eq!(problem.key.as_deref(), Some("switch"));
    assert!(
        problem.message.contains("head.lan is the head node"),
        "{}",
        problem.message
    );
}

#[test]
fn second_head_rejected() {
    let text = format!("{BASE}{NODES}").replacen(
        "name = \"beta.lan\"\nswitch = { line = 27, active_low = false }\nheartbeat = { line = 24 }\n",
        "name = \"beta.lan\"\nrole = \"head\"\n",
        1,
    );
    let error = parse_error(&text);
    let problem = only_problem(&error);
    assert_eq!(
        problem.location.map(|location| location.line),
        Some(line_of(&text, "head.lan"))
    );
    assert!(
        problem.message.contains("second head node after beta.lan"),
        "{}",
        problem.message
    );
}

#[test]
fn headroom_at_limit_rejected() {
    let text = format!("{BASE}\n[protection]\nheadroom = \"5.4A\"\n");
    let error = parse_error(&text);
    let problem = only_problem(&error);
    assert_eq!(
        problem.location.map(|location| location.line),
        Some(line_of(&text, "headroom"))
    );
    assert_eq!(problem.key.as_deref(), Some("headroom"));
    assert!(
        problem
            .message
            .contains("5400 mA is not below the supply limit 5400 mA"),
        "{}",
        problem.message
    );
}

#[test]
fn boot_peak_over_budget_rejected() {
    let text =
        format!("{BASE}{NODES}").replacen("boot_peak = \"400mA\"", "boot_peak = \"5.1A\"", 1);
    let error = parse_error(&text);
    let problem = only_problem(&error);
    assert_eq!(
        problem.location.map(|location| location.line),
        Some(line_of(&text, "5.1A"))
    );
    assert_eq!(problem.key.as_deref(), Some("boot_peak"));
    assert!(
        problem.message.contains("alpha.lan's boot_peak 5100 mA"),
        "{}",
        problem.message
    );
    assert!(
        problem.message.contains("budget 5000 mA"),
        "{}",
        problem.message
    );
}

#[test]
fn worker_without_switch_rejected() {
    let text =
        format!("{BASE}{NODES}").replacen("switch = { line = 27, active_low = false }\n", "", 1);
    let error = parse_error(&text);
    let problem = only_problem(&error);
    assert_eq!(
        problem.location.map(|location| location.line),
        Some(line_of(&text, "beta.lan"))
    );
    assert_eq!(problem.key.as_deref(), Some("switch"));
}

#[test]
fn zero_timing_names_key() {
    let text = format!("{BASE}\n[timings]\nmin_off_time = \"0s\"\n");
    let error = parse_error(&text);
    let problem = only_problem(&error);
    assert_eq!(
        problem.location.map(|location| location.line),
        Some(line_of(&text, "min_off_time"))
    );
    assert_eq!(problem.key.as_deref(), Some("min_off_time"));
}

#[test]
fn every_problem_reported_in_line_order() {
    let text = format!(
        "{BASE}\n[protection]\nheadroom = \"6A\"\nunder_voltage_clear = \"4.7V\"\n\
         \n[timings]\nmax_cycles = 0\nverify_window = \"5s\"\n{NODES}"
    )
    .replacen("line = 27", "line = 17", 1);
    let error = parse_error(&text);
    let keys: Vec<&str> = error
        .problems()
        .iter()
        .filter_map(|problem| problem.key.as_deref())
        .collect();
    // With 6 A of headroom every boot peak is over the (empty) budget too; those follow from
    // the headroom and are not listed.
    assert_eq!(
        keys,
        [
            "headroom",
            "under_voltage_clear",
            "max_cycles",
            "verify_window",
            "line"
        ]
    );
    let lines: Vec<usize> = error
        .problems()
        .iter()
        .map(|problem| problem.location.expect("every problem has a line").line)
        .collect();
    assert!(lines.is_sorted(), "{lines:?}");
    assert_eq!(error.to_string().lines().count(), keys.len());
}

#[test]
fn duplicate_name_rejected() {
    let text = format!("{BASE}{NODES}").replacen("name = \"beta.lan\"", "name = \"alpha.lan\"", 1);
    let error = parse_error(&text);
    let problem = only_problem(&error);
    assert_eq!(problem.key.as_deref(), Some("name"));
    assert!(
        problem.message.contains("already used by node 0"),
        "{}",
        problem.message
    );
}

#[test]
fn index_like_name_rejected() {
    let text = format!("{BASE}{NODES}").replacen("name = \"beta.lan\"", "name = \"0-1\"", 1);
    let problem = only_problem(&parse_error(&text)).clone();
    assert_eq!(problem.key.as_deref(), Some("name"));
    assert!(
        problem.message.contains("reads as a node index"),
        "{}",
        problem.message
    );
}

#[test]
fn long_name_rejected() {
    let long = "a".repeat(33);
    let text = format!("{BASE}{NODES}").replacen("beta.lan", &long, 1);
    let problem = only_problem(&parse_error(&text)).clone();
    assert_eq!(problem.key.as_deref(), Some("name"));
    assert!(problem.message.contains("33 bytes"), "{}", problem.message);
}

#[test]
fn monitor_below_supply_limit_rejected() {
    let text = BASE.replacen("max_current = \"5.4A\"", "max_current = \"3.2A\"", 1);
    let problem = only_problem(&parse_error(&text)).clone();
    assert_eq!(problem.key.as_deref(), Some("max_current"));
    assert!(
        problem.message.contains("below the supply limit 5400 mA"),
        "{}",
        problem.message
    );
}

#[test]
fn shunt_drop_beyond_range_rejected() {
    let text = BASE
        .replacen("chip = \"ina219\"", "chip = \"ina226\"", 1)
        .replacen("shunt_ohms = 0.01", "shunt_ohms = 0.1", 1);
    let problem = only_problem(&parse_error(&text)).clone();
    assert_eq!(problem.key.as_deref(), Some("shunt_ohms"));
    assert!(problem.message.contains("540000 uV"), "{}", problem.message);
    assert!(problem.message.contains("81920 uV"), "{}", problem.message);
}

#[test]
fn monitor_address_outside_straps_rejected() {
    let text = BASE.replacen("chip = \"ina219\"", "chip = \"ina219\"\naddress = 0x3c", 1);
    let problem = only_problem(&parse_error(&text)).clone();
    assert_eq!(problem.key.as_deref(), Some("address"));
    assert!(problem.message.contains("0x3c"), "{}", problem.message);
}

#[test]
fn relative_socket_path_rejected() {
    let text = BASE.replacen(
        "backend = \"sim\"",
        "backend = \"sim\"\nsocket_path = \"run/x.sock\"",
        1,
    );
    let problem = only_problem(&parse_error(&text)).clone();
    assert_eq!(problem.location.map(|location| location.line), Some(5));
    assert_eq!(problem.key.as_deref(), Some("socket_path"));
}

#[test]
fn zero_journal_rotations_rejected() {
    let text = BASE.replacen(
        "backend = \"sim\"",
        "backend = \"sim\"\njournal_rotations = 0",
        1,
    );
    let problem = only_problem(&parse_error(&text)).clone();
    assert_eq!(problem.key.as_deref(), Some("journal_rotations"));
}

#[test]
fn backend_tables_read() {
    let text = BASE.replacen(
        "backend = \"sim\"\n",
        "backend = \"linux\"\nrestore_policy = \"always-on\"\n\n[daemon.linux]\n\
         gpio_chip = \"/dev/gpiochip4\"\n\n[daemon.sim]\nspeed = 10.0\n",
        1,
    );
    let config = parse(&text, ORIGIN).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(config.daemon.backend, Backend::Linux);
    assert_eq!(config.daemon.restore_policy, RestorePolicy::AlwaysOn);
    assert_eq!(config.daemon.linux.gpio_chip, Path::new("/dev/gpiochip4"));
    assert_eq!(config.daemon.sim.speed, 10.0);
}

#[test]
fn humane_durations_read() {
    let text = format!("{BASE}\n[timings]\nboot_grace = \"2min\"\ndebounce = \"2ms\"\n");
    let config = parse(&text, ORIGIN).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(config.cluster.timings.boot_grace, Duration::from_secs(120));
    assert_eq!(config.cluster.timings.debounce, Duration::from_millis(2));
}

#[test]
fn missing_file_named_in_error() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("no-such-file.toml");
    let error = load(&path).unwrap_err();
    assert_eq!(error.origin(), path.display().to_string());
    let problem = only_problem(&error);
    assert_eq!(problem.location, None);
    assert!(
        problem.message.contains("failed to read"),
        "{}",
        problem.message
    );
}

#[test]
fn syntax_error_located() {
    let text = format!("{BASE}\n[timings\n");
    let error = parse_error(&text);
    let problem = only_problem(&error);
    assert_eq!(
        problem.location.map(|location| location.line),
        Some(line_of(&text, "[timings"))
    );
}

#[test]
fn i2c_mode_defaults_to_plain_i2c() {
    let config = parse(BASE, ORIGIN).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(config.daemon.linux.i2c_mode, I2cMode::I2c);
    assert_eq!(config.monitor.i2c_clock, None);
}

#[test]
fn i2c_mode_smbus_read() {
    let text = BASE.replacen(
        "backend = \"sim\"\n",
        "backend = \"linux\"\n\n[daemon.linux]\ni2c_mode = \"smbus\"\n",
        1,
    );
    let config = parse(&text, ORIGIN).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(config.daemon.linux.i2c_mode, I2cMode::Smbus);
    assert_eq!(config.daemon.linux.gpio_chip, Path::new(DEFAULT_GPIO_CHIP));
}

#[test]
fn misspelled_i2c_mode_suggests_smbus() {
    let text = BASE.replacen(
        "backend = \"sim\"\n",
        "backend = \"linux\"\n\n[daemon.linux]\ni2c_mode = \"smbuss\"\n",
        1,
    );
    let error = parse_error(&text);
    let problem = only_problem(&error);
    assert_eq!(
        problem.location,
        Some(Location {
            line: line_of(&text, "i2c_mode"),
            column: 12
        })
    );
    assert_eq!(problem.key.as_deref(), Some("i2c_mode"));
    assert_eq!(problem.closest.as_deref(), Some("smbus"));
    let output = error.to_string();
    assert!(output.starts_with("picluster.toml:7:12: "), "{output}");
    assert!(
        output.contains("Valid values: \"i2c\", \"smbus\"."),
        "{output}"
    );
}

#[test]
fn misspelled_i2c_mode_key_names_closest() {
    let text = BASE.replacen(
        "backend = \"sim\"\n",
        "backend = \"linux\"\n\n[daemon.linux]\ni2c_mod = \"smbus\"\n",
        1,
    );
    let error = parse_error(&text);
    let problem = only_problem(&error);
    assert_eq!(
        problem.location.map(|location| location.line),
        Some(line_of(&text, "i2c_mod"))
    );
    assert_eq!(problem.key.as_deref(), Some("i2c_mod"));
    assert_eq!(problem.closest.as_deref(), Some("i2c_mode"));
}

#[test]
fn monitor_i2c_clock_read() {
    let text = BASE.replacen(
        "chip = \"ina219\"",
        "chip = \"ina219\"\ni2c_clock = \"400kHz\"",
        1,
    );
    let config = parse(&text, ORIGIN).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(config.monitor.i2c_clock, Some(I2cClock::Fast));
    assert_eq!(I2cClock::Fast.hertz(), 400_000);
    assert_eq!(I2cClock::Standard.hertz(), 100_000);
}

#[test]
fn misspelled_i2c_clock_suggests_unit_case() {
    let text = BASE.replacen(
        "chip = \"ina219\"",
        "chip = \"ina219\"\ni2c_clock = \"400khz\"",
        1,
    );
    let error = parse_error(&text);
    let problem = only_problem(&error);
    assert_eq!(
        problem.location.map(|location| location.line),
        Some(line_of(&text, "i2c_clock"))
    );
    assert_eq!(problem.key.as_deref(), Some("i2c_clock"));
    assert_eq!(problem.closest.as_deref(), Some("400kHz"));
}

#[test]
fn i2c_clock_as_number_rejected() {
    let text = BASE.replacen(
        "chip = \"ina219\"",
        "chip = \"ina219\"\ni2c_clock = 400000",
        1,
    );
    let error = parse_error(&text);
    let problem = only_problem(&error);
    assert_eq!(
        problem.location.map(|location| location.line),
        Some(line_of(&text, "i2c_clock"))
    );
    assert_eq!(problem.key.as_deref(), Some("i2c_clock"));
    assert_eq!(
        error.to_string(),
        "picluster.toml:8:13: invalid type: integer `400000`, expected a clock with its unit, \
         \"100kHz\" or \"400kHz\""
    );
}

#[test]
fn i2c_clock_key_in_daemon_table_points_to_monitor() {
    let text = BASE.replacen(
        "backend = \"sim\"\n",
        "backend = \"sim\"\ni2c_clock = \"100kHz\"\n",
        1,
    );
    let error = parse_error(&text);
    let problem = only_problem(&error);
    assert_eq!(problem.key.as_deref(), Some("i2c_clock"));
    assert!(
        problem
            .message
            .contains("`i2c_clock` is a key of [monitor]"),
        "{}",
        problem.message
    );
}
