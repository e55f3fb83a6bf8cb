//! Reading scenario files: defaults, cluster changes and rejected input.

use picluster_firmware::config::Role;
use picluster_firmware::units::{Duration, Milliamps};
use picluster_hal_mock::scenario::Action;
use picluster_hal_mock::{BoardModel, RunOptions, Scenario, ScenarioError, run};

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::from_toml(text, "test.toml")
}

fn error_text(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("the scenario was accepted"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn minimal_file_builds_reference_cluster() {
    let scenario = parse("name = \"minimal\"\nduration = \"10 s\"\n").unwrap();
    let names: Vec<&str> = scenario
        .cluster
        .config
        .nodes
        .iter()
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "raspberrypi0.lan",
            "raspberrypi1.lan",
            "raspberrypi2.lan",
            "raspberrypi3.lan"
        ]
    );
    assert_eq!(scenario.cluster.config.nodes[2].role, Role::Head);
    assert_eq!(
        scenario.cluster.world.nodes[3].board,
        BoardModel::Pi1ModelBRev2
    );
    assert_eq!(scenario.cluster.world.supply.limit, Milliamps(5_400));
    assert_eq!(scenario.duration, Duration::from_secs(10));
}

#[test]
fn misspelled_key_names_key_and_line() {
    let text = "name = \"typo\"\nduration = \"10 s\"\n\n[[events]]\nat = \"5 s\"\n\
                action = \"hang\"\nnod = \"raspberrypi1.lan\"\n";
    let message = error_text(text);
    assert!(message.contains("test.toml"), "{message}");
    assert!(message.contains("unknown field `nod`"), "{message}");
    assert!(message.contains("line 4"), "{message}");
}

#[test]
fn unknown_top_level_key_is_rejected() {
    let message = error_text("name = \"x\"\nduration = \"1 s\"\nsead = 3\n");
    assert!(message.contains("unknown field `sead`"), "{message}");
    assert!(message.contains("expected one of"), "{message}");
}

#[test]
fn unknown_node_is_rejected_with_known_names() {
    let text = "name = \"x\"\nduration = \"1 s\"\n[[events]]\nat = \"0 s\"\n\
                action = \"hang\"\nnode = \"raspberrypi9.lan\"\n";
    let message = error_text(text);
    assert!(message.contains("events[0]"), "{message}");
    assert!(
        message.contains("unknown node \"raspberrypi9.lan\""),
        "{message}"
    );
    assert!(message.contains("raspberrypi3.lan"), "{message}");
}

#[test]
fn quantity_without_unit_is_rejected() {
    let message = error_text("name = \"x\"\nduration = \"30\"\n");
    assert!(message.contains("a duration with a unit"), "{message}");
}

#[test]
fn unknown_state_in_check_is_rejected() {
    let text = "name = \"x\"\nduration = \"1 s\"\n[[checks]]\ncheck = \"final-state\"\n\
                node = \"raspberrypi0.lan\"\nstate = \"asleep\"\n";
    let message = error_text(text);
    assert!(message.contains("unknown state \"asleep\""), "{message}");
}

#[test]
fn new_node_joins_config_and_world() {
    let text = r#"
name = "five nodes"
duration = "1 s"

[[nodes]]
name = "raspberrypi4.lan"
board = "pi3-model-b"
role = "worker"
priority = 5
switch_line = 16
reset_line = 19
heartbeat_line = 26
heartbeat = { kind = "kernel-led" }
"#;
    let scenario = parse(text).unwrap();
    let node = &scenario.cluster.config.nodes[4];
    assert_eq!(node.boot_peak, Milliamps(750));
    assert_eq!(node.switch.map(|s| s.line.0), Some(16));
    assert_eq!(scenario.cluster.world.nodes[4].board, BoardModel::Pi3ModelB);
}

#[test]
fn line_used_twice_is_a_configuration_problem() {
    let text = "name = \"x\"\nduration = \"1 s\"\n[[nodes]]\nname = \"raspberrypi1.lan\"\n\
                switch_line = 17\n";
    let message = error_text(text);
    assert!(message.contains("LineUsedTwice"), "{message}");
}

#[test]
fn events_are_sorted_by_time() {
    let text = r#"
name = "order"
duration = "10 s"
[[events]]
at = "5 s"
action = "stress"
node = "raspberrypi0.lan"
[[events]]
at = "2 s"
action = "hang"
node = "raspberrypi1.lan"
"#;
    let scenario = parse(text).unwrap();
    assert_eq!(scenario.events[0].action, Action::Hang(1));
    assert_eq!(scenario.events[1].action, Action::Stress(0, true));
}

#[test]
fn trace_has_csv_rows_and_svg_plot() {
    let scenario = parse("name = \"trace\"\nduration = \"40 s\"\n").unwrap();
    let options = RunOptions {
        trace: true,
        ..RunOptions::default()
    };
    let report = run(&scenario, options).unwrap();
    let trace = report.trace.expect("tracing was requested");
    let csv = trace.to_csv();
    let mut rows = csv.lines();
    let header = rows.next().unwrap();
    assert!(header.starts_with("time_s,supply_mv,current_ma,measured_ma"));
    assert!(header.contains("raspberrypi0.lan state"));
    assert!(header.contains("line 17 (raspberrypi0 switch)"));
    let columns = header.split(',').count();
    assert!(rows.clone().count() > 10);
    assert!(rows.all(|row| row.split(',').count() == columns));

    let svg = trace.to_svg().unwrap();
    assert!(svg.starts_with("<svg"));
    assert!(svg.contains("supply current"));
    assert!(svg.contains("raspberrypi3.lan"));
}
