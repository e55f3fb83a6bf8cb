//! End-to-end tests of the `picluster` binary: `picluster sim` on the simulated reference
//! cluster, driven through the CLI, each test in its own temporary folder.

mod common;

use std::path::{Path, PathBuf};

use common::{Sim, text};
use picluster::backend::sim::WorldRecord;
use picluster::protocol::{EventDetail, StatusReport};

/// The shipped configuration of the reference cluster.
const SHIPPED_CONFIG: &str = include_str!("../../config/picluster.toml");

/// Exit codes documented in `picluster --help`.
const EXIT_FAILED: i32 = 1;
const EXIT_UNREACHABLE: i32 = 3;

/// A measured draw agrees with the powered nodes when it is within this of their idle sum:
/// the smallest node step (100 mA in the reference configuration) would show as a mismatch.
const DRAW_TOLERANCE_MA: i32 = 100;

fn node<'a>(status: &'a StatusReport, name: &str) -> &'a picluster::protocol::NodeReport {
    status
        .nodes
        .iter()
        .find(|node| node.name == name)
        .unwrap_or_else(|| panic!("{name} is in the status"))
}

fn world(sim: &Sim) -> WorldRecord {
    let bytes = std::fs::read(sim.dir.join("world.json")).expect("the sim wrote its world file");
    serde_json::from_slice(&bytes).expect("the world file is valid")
}

#[test]
fn status_lists_four_nodes_with_head_marked() {
    let folder = tempfile::tempdir().unwrap();
    let sim = Sim::start(folder.path(), &[]);

    let status = sim.status();
    let names: Vec<&str> = status.nodes.iter().map(|node| node.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "raspberrypi0.lan",
            "raspberrypi1.lan",
            "raspberrypi2.lan",
            "raspberrypi3.lan"
        ]
    );
    assert_eq!(node(&status, "raspberrypi2.lan").role, "head");

    let table = sim.cli(&["status"]);
    assert!(table.status.success());
    let table = text(&table.stdout);
    let head_line = table
        .lines()
        .find(|line| line.starts_with("raspberrypi2.lan"))
        .expect("the head has a row");
    assert!(head_line.contains("(*)"), "{table}");
    let marked = table
        .lines()
        .filter(|line| line.contains(".lan (*)"))
        .count();
    assert_eq!(marked, 1, "{table}");
}

#[test]
fn sim_powers_workers_up_staggered() {
    let folder = tempfile::tempdir().unwrap();
    let sim = Sim::start(folder.path(), &[]);
    sim.wait_all_running();

    let admitted: Vec<(String, u64)> = sim
        .events(&[])
        .into_iter()
        .filter_map(|event| match event.detail {
            EventDetail::StateChanged { to, cause, .. }
                if to == "powering-on" && cause == "admitted" =>
            {
                Some((event.node.unwrap_or_default(), event.unix_ms))
            }
            _ => None,
        })
        .collect();
    let order: Vec<&str> = admitted.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        order,
        ["raspberrypi0.lan", "raspberrypi1.lan", "raspberrypi3.lan"]
    );
    // Each power-on waits for the previous one's 3 s inrush window.
    for pair in admitted.windows(2) {
        assert!(pair[1].1 - pair[0].1 >= 3_000, "{admitted:?}");
    }
}

#[test]
fn worker_off_on_cycle_change_measured_state() {
    let folder = tempfile::tempdir().unwrap();
    let sim = Sim::start(folder.path(), &[]);
    let before = sim.wait_all_running();

    let off = sim.cli(&["off", "raspberrypi1"]);
    assert!(off.status.success(), "{}", text(&off.stderr));
    assert!(text(&off.stdout).contains("raspberrypi1.lan: off, measured -"));
    let status = sim.status();
    let worker = node(&status, "raspberrypi1.lan");
    assert!(!worker.powered);
    assert_eq!(worker.power_source, "measured");
    assert_eq!(worker.state, "off");
    let drop = before.supply.milliamps.unwrap() - status.supply.milliamps.unwrap();
    assert!(drop >= 100, "the draw fell by {drop} mA only");

    let on = sim.cli(&["on", "1"]);
    assert!(on.status.success(), "{}", text(&on.stderr));
    let worker = node(&sim.status(), "raspberrypi1.lan").clone();
    assert!(worker.powered);
    assert_eq!(worker.power_source, "measured");

    let power_ons = worker.power_ons;
    let cycle = sim.cli(&["cycle", "raspberrypi1.lan"]);
    assert!(cycle.status.success(), "{}", text(&cycle.stderr));
    let worker = node(&sim.status(), "raspberrypi1.lan").clone();
    assert_eq!(worker.power_ons, power_ons + 1);
    assert!(worker.powered);
    assert_eq!(worker.power_source, "measured");
    let causes: Vec<String> = sim
        .events(&["--node", "raspberrypi1"])
        .into_iter()
        .filter_map(|event| match event.detail {
            EventDetail::StateChanged { cause, .. } => Some(cause),
            _ => None,
        })
        .collect();
    assert!(
        causes.contains(&"min-off-elapsed".to_string()),
        "{causes:?}"
    );
}

#[test]
fn head_off_is_rejected_with_clear_message() {
    let folder = tempfile::tempdir().unwrap();
    let sim = Sim::start(folder.path(), &[]);

    let off = sim.cli(&["off", "raspberrypi2"]);
    assert_eq!(off.status.code(), Some(EXIT_FAILED));
    let message = text(&off.stderr);
    assert!(
        message.contains("raspberrypi2.lan is the head node"),
        "{message}"
    );
    assert!(message.contains("never switched"), "{message}");
    assert!(node(&sim.status(), "raspberrypi2.lan").powered);
}

#[test]
fn restart_after_kill_adopts_lines_without_change() {
    let folder = tempfile::tempdir().unwrap();
    let mut sim = Sim::start(folder.path(), &["--restore-policy", "always-on"]);
    sim.wait_all_running();
    let off = sim.cli(&["off", "1"]);
    assert!(off.status.success(), "{}", text(&off.stderr));
    let before_kill = world(&sim);

    sim.kill9();
    sim.restart(&["--restore-policy", "always-on"]);
    let status = sim.wait_for("nodes 0 and 3 run again", |status| {
        ["raspberrypi0.lan", "raspberrypi3.lan"]
            .iter()
            .all(|name| node(status, name).state == "running")
    });

    assert!(node(&status, "raspberrypi0.lan").powered);
    assert!(node(&status, "raspberrypi3.lan").powered);
    let node1 = node(&status, "raspberrypi1.lan");
    assert!(!node1.powered);
    assert_eq!(node1.state, "off");
    assert_eq!(node1.power_source, "adopted");
    let measured = status.supply.milliamps.unwrap();
    let expected = status.supply.expected_milliamps;
    assert_eq!(expected, 350 + 400 + 400);
    assert!(
        (measured - expected).abs() < DRAW_TOLERANCE_MA,
        "measured {measured} mA, expected {expected} mA"
    );
    let started = sim
        .events(&[])
        .into_iter()
        .filter_map(|event| match event.detail {
            EventDetail::DaemonStarted { head_booted, .. } => Some(head_booted),
            _ => None,
        })
        .collect::<Vec<bool>>();
    assert_eq!(started, [true, false]);

    let stopped = sim.terminate();
    assert!(stopped.success(), "{}", sim.log());
    let after = world(&sim);
    for (old, new) in before_kill.nodes.iter().zip(&after.nodes) {
        assert_eq!(old.switch_high, new.switch_high, "{}", new.name);
        assert_eq!(new.switch_changes, 0, "{} switch line changed", new.name);
        assert_eq!(new.reset_changes, 0, "{} reset line changed", new.name);
    }
}

#[test]
fn sigterm_stops_without_changing_any_line() {
    let folder = tempfile::tempdir().unwrap();
    let mut sim = Sim::start(folder.path(), &[]);
    sim.wait_all_running();
    let running = world(&sim);

    let stopped = sim.terminate();
    assert!(stopped.success(), "{}", sim.log());
    assert_eq!(world(&sim), running);
    assert!(!sim.socket.exists(), "the socket file is removed on stop");
    let log = sim.log();
    assert!(log.contains("every line keeps its level"), "{log}");
}

#[test]
fn malformed_configuration_is_rejected() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("picluster.toml");
    // Misspell `active_low` in the first node's switch table.
    let switch_line = SHIPPED_CONFIG
        .lines()
        .find(|line| line.starts_with("switch = {") && line.contains("active_low"))
        .expect("the shipped configuration has a switch table");
    let misspelled = switch_line.replace("active_low", "active_lo");
    let malformed = SHIPPED_CONFIG.replacen(switch_line, &misspelled, 1);
    std::fs::write(&path, malformed).unwrap();
    let path_text = path.to_str().unwrap();

    let check = std::process::Command::new(common::BIN)
        .args(["check-config", path_text])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(EXIT_FAILED));
    let message = text(&check.stderr);
    assert!(message.contains(path_text), "{message}");
    assert!(message.contains("active_lo"), "{message}");
    assert!(message.contains("active_low"), "{message}");

    let daemon = std::process::Command::new(common::BIN)
        .args(["daemon", "--config", path_text])
        .output()
        .unwrap();
    assert_eq!(daemon.status.code(), Some(EXIT_FAILED));
    assert!(text(&daemon.stderr).contains("active_lo"));
}

#[test]
fn shipped_configuration_passes_check() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("picluster.toml");
    std::fs::write(&path, SHIPPED_CONFIG).unwrap();
    let check = std::process::Command::new(common::BIN)
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check.stderr));
    assert!(text(&check.stdout).contains("valid"));
}

#[test]
fn second_daemon_on_same_socket_is_refused() {
    let folder = tempfile::tempdir().unwrap();
    let sim = Sim::start(folder.path(), &[]);

    let second = std::process::Command::new(common::BIN)
        .args(["sim", "--dir"])
        .arg(folder.path())
        .args(["--speed", common::SPEED, "--no-metrics"])
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(EXIT_FAILED));
    let message = text(&second.stderr);
    assert!(message.contains("already running"), "{message}");
    assert!(message.contains("picluster.sock"), "{message}");
    assert!(sim.cli(&["status"]).status.success());
}

#[test]
fn second_sim_fails_before_banner_naming_pid() {
    let folder = tempfile::tempdir().unwrap();
    let sim = Sim::start(folder.path(), &[]);

    let second = std::process::Command::new(common::BIN)
        .args(["sim", "--dir"])
        .arg(folder.path())
        .args(["--speed", common::SPEED, "--no-metrics"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();

    assert_eq!(second.status.code(), Some(EXIT_FAILED));
    assert_eq!(text(&second.stdout), "", "no banner before the failure");
    let message = text(&second.stderr);
    assert_eq!(message.matches("already running").count(), 1, "{message}");
    let pid = format!("(pid {})", sim.pid());
    assert!(message.contains(&pid), "{message}");
    assert!(message.contains("another --dir"), "{message}");
    assert!(!message.contains("systemctl"), "{message}");
    assert!(!message.contains("socket_path"), "{message}");
}

#[test]
fn sim_banner_names_running_executable() {
    let folder = tempfile::tempdir().unwrap();
    let sim = Sim::start(folder.path(), &[]);

    let commands = sim
        .banner
        .iter()
        .find(|line| line.contains(" status; "))
        .unwrap_or_else(|| panic!("the banner suggests commands: {:?}", sim.banner));
    let program = std::fs::canonicalize(common::BIN).unwrap();
    let expected = format!("{} status; {} watch;", program.display(), program.display());
    assert!(commands.contains(&expected), "{commands}");
}

#[test]
fn off_with_head_in_selection_touches_nothing() {
    let folder = tempfile::tempdir().unwrap();
    let sim = Sim::start(folder.path(), &[]);
    sim.wait_all_running();

    let off = sim.cli(&["off", "0,2"]);

    assert_eq!(off.status.code(), Some(EXIT_FAILED));
    let message = text(&off.stderr);
    assert!(
        message.contains("raspberrypi2.lan is the head node"),
        "{message}"
    );
    assert!(message.contains("leave the head out"), "{message}");
    assert_eq!(text(&off.stdout), "");
    let status = sim.status();
    assert!(node(&status, "raspberrypi0.lan").powered);
    assert_eq!(node(&status, "raspberrypi0.lan").state, "running");
    let operator_actions = sim
        .events(&[])
        .iter()
        .filter(|event| matches!(event.detail, EventDetail::OperatorAction { .. }))
        .count();
    assert_eq!(operator_actions, 0);
}

#[test]
fn events_node_accepts_index_and_rejects_unknown() {
    let folder = tempfile::tempdir().unwrap();
    let sim = Sim::start(folder.path(), &[]);
    sim.wait_all_running();

    let by_index = sim.events(&["--node", "1"]);
    assert!(!by_index.is_empty(), "node 1 has events");
    for event in &by_index {
        assert_eq!(event.node.as_deref(), Some("raspberrypi1.lan"), "{event:?}");
    }

    let by_range = sim.events(&["--node", "0-1", "--limit", "3"]);
    assert_eq!(by_range.len(), 3, "{by_range:?}");
    let nodes: std::collections::BTreeSet<String> = sim
        .events(&["--node", "raspberrypi[0-1]"])
        .into_iter()
        .filter_map(|event| event.node)
        .collect();
    let nodes: Vec<&str> = nodes.iter().map(String::as_str).collect();
    assert_eq!(nodes, ["raspberrypi0.lan", "raspberrypi1.lan"]);

    let unknown = sim.cli(&["events", "--node", "raspberrypi9"]);
    let action = sim.cli(&["off", "raspberrypi9"]);
    assert_eq!(unknown.status.code(), Some(EXIT_FAILED));
    assert_eq!(unknown.status.code(), action.status.code());
    let message = text(&unknown.stderr);
    assert!(message.contains("unknown node `raspberrypi9`"), "{message}");
    assert!(message.contains("did you mean"), "{message}");
    assert!(message.contains("Known nodes:"), "{message}");
    assert_eq!(message, text(&action.stderr));
}

#[test]
fn closed_pipe_ends_watch_quietly() {
    let folder = tempfile::tempdir().unwrap();
    let sim = Sim::start(folder.path(), &[]);

    for command in [
        &["watch", "--interval", "0.05"][..],
        &["status"],
        &["events"],
    ] {
        let mut child = std::process::Command::new(common::BIN)
            .args(command)
            .env("PICLUSTER_SOCKET", &sim.socket)
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end at once, as `head -0` would; the next write hits a broken pipe.
        drop(child.stdout.take());
        let mut stderr = child.stderr.take().unwrap();
        let status = common::wait_with_limit(child)
            .unwrap_or_else(|| panic!("{command:?} kept running after its stdout closed"));
        let mut message = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut message).unwrap();
        assert_eq!(status.code(), Some(0), "{command:?}: {message}");
        assert_eq!(message, "", "{command:?}");
    }
}

#[test]
fn events_show_each_action_with_cause() {
    let folder = tempfile::tempdir().unwrap();
    let sim = Sim::start(folder.path(), &[]);
    sim.wait_all_running();
    assert!(sim.cli(&["off", "3"]).status.success());
    assert!(sim.cli(&["hold", "3"]).status.success());

    let events = sim.events(&["--node", "raspberrypi3.lan"]);
    let actions: Vec<String> = events
        .iter()
        .filter_map(|event| match &event.detail {
            EventDetail::OperatorAction { action, uid, .. } => {
                assert_eq!(*uid, nix::unistd::getuid().as_raw());
                Some(action.name().to_string())
            }
            _ => None,
        })
        .collect();
    assert_eq!(actions, ["off", "hold"]);
    let changes: Vec<(String, String)> = events
        .iter()
        .filter_map(|event| match &event.detail {
            EventDetail::StateChanged { to, cause, .. } if cause == "operator" => {
                Some((to.clone(), cause.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("off".to_string(), "operator".to_string()),
            ("held".to_string(), "operator".to_string())
        ]
    );
    let verified = events.iter().any(|event| {
        matches!(event.detail, EventDetail::SwitchVerified { on: false, .. })
            && event.milliamps.is_some()
    });
    assert!(verified, "{events:#?}");

    let table = sim.cli(&["events", "--node", "raspberrypi3"]);
    assert!(table.status.success());
    assert!(text(&table.stdout).contains("running -> off (operator)"));
}

#[test]
fn sighup_with_invalid_configuration_keeps_running_one() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("picluster.toml");
    std::fs::write(&path, SHIPPED_CONFIG).unwrap();
    let sim_dir = folder.path().join("sim");
    let sim = Sim::start(&sim_dir, &["--config", path.to_str().unwrap()]);
    sim.wait_all_running();

    std::fs::write(&path, SHIPPED_CONFIG.replacen("[monitor]", "[monitr]", 1)).unwrap();
    let rejected = sim.follow_events(
        || sim.signal(nix::sys::signal::Signal::SIGHUP),
        |event| match event.map(|event| &event.detail) {
            Some(EventDetail::ConfigRejected { message }) => Some(message.clone()),
            _ => None,
        },
    );
    let message = rejected.expect("the reload is rejected with an event");
    assert!(message.contains("monitr"), "{message}");
    let status = sim.status();
    assert!(status.nodes.iter().all(|node| node.state == "running"));
}

#[test]
fn unreachable_daemon_exits_with_code_3() {
    let folder = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(common::BIN)
        .args(["status", "--socket"])
        .arg(folder.path().join("missing.sock"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_UNREACHABLE));
    assert!(text(&output.stderr).contains("cannot reach the picluster daemon"));
}

/// Writes the shipped configuration with `backend`, the socket and state in `folder`, and
/// `extra` appended; returns its path.
fn hardware_config(folder: &Path, backend: &str, extra: &str) -> PathBuf {
    let socket = folder.join("run/picluster.sock");
    let state = folder.join("state");
    let config = SHIPPED_CONFIG
        .replacen(
            "backend = \"rppal\"",
            &format!("backend = \"{backend}\""),
            1,
        )
        .replacen(
            "socket_path = \"/run/picluster/picluster.sock\"",
            &format!("socket_path = \"{}\"", socket.display()),
            1,
        )
        .replacen(
            "state_dir = \"/var/lib/picluster\"",
            &format!("state_dir = \"{}\"", state.display()),
            1,
        );
    let path = folder.join("picluster.toml");
    std::fs::write(&path, config + extra).unwrap();
    path
}

#[test]
fn linux_daemon_names_missing_gpio_chip() {
    let folder = tempfile::tempdir().unwrap();
    let chip = folder.path().join("no-such-gpiochip");
    let linux_table = format!("\n[daemon.linux]\ngpio_chip = \"{}\"\n", chip.display());
    let path = hardware_config(folder.path(), "linux", &linux_table);

    let daemon = std::process::Command::new(common::BIN)
        .arg("daemon")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();

    assert_eq!(daemon.status.code(), Some(EXIT_FAILED));
    let message = text(&daemon.stderr);
    let expected = format!("GPIO chip {} does not exist", chip.display());
    assert!(message.contains(&expected), "{message}");
    assert!(!folder.path().join("run/picluster.sock").exists());
}

/// The machine that runs the tests is not a Raspberry Pi, so rppal cannot identify it.
#[test]
fn rppal_daemon_off_a_pi_names_other_backends() {
    let folder = tempfile::tempdir().unwrap();
    let path = hardware_config(folder.path(), "rppal", "");

    let daemon = std::process::Command::new(common::BIN)
        .arg("daemon")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();

    assert_eq!(daemon.status.code(), Some(EXIT_FAILED));
    let message = text(&daemon.stderr);
    assert!(message.contains("runs only on a Raspberry Pi"), "{message}");
    assert!(message.contains("backend = \"linux\""), "{message}");
    // The wrong backend fails before the daemon creates its socket or state folders.
    assert!(!folder.path().join("run").exists());
    assert!(!folder.path().join("state").exists());
}
