//! Drives the controller through a cold start of the reference cluster and prints each
//! decision: the three workers are switched on one inrush window apart, within the budget.
//!
//! Run with `cargo run -p picluster-firmware --example cold_start`.

use picluster_firmware::config::{NodeId, Role};
use picluster_firmware::controller::{Action, Command, Controller, NodeStart, Sample};
use picluster_firmware::reference::{self, MAX_NODES};
use picluster_firmware::units::{Duration, Instant, Milliamps, Millivolts};

/// The example's monitor delivers a sample every 100 ms.
const SAMPLE_PERIOD: Duration = Duration::from_millis(100);

fn main() {
    let config = reference::cluster();
    let now = Instant::ZERO;
    // Only the head is powered: it runs the controller.
    let start: Vec<NodeStart> = config
        .nodes
        .iter()
        .map(|node| NodeStart {
            switch_on: node.role == Role::Head,
            ..NodeStart::default()
        })
        .collect();
    let mut controller: Controller<MAX_NODES> =
        Controller::new(config.clone(), now, &start).expect("the reference cluster is valid");
    let mut powered: Vec<bool> = start.iter().map(|node| node.switch_on).collect();

    let draw = |powered: &[bool]| -> Milliamps {
        let on = config.nodes.iter().zip(powered).filter(|(_, on)| **on);
        on.map(|(node, _)| node.idle)
            .fold(Milliamps(0), |sum, idle| sum + idle)
    };

    let mut now = now;
    controller.sample(
        now,
        Sample {
            voltage: Millivolts(5_050),
            current: Some(draw(&powered)),
        },
    );
    for (id, node) in config.nodes_with_ids() {
        if node.role == Role::Worker {
            let result = controller.command(now, id, Command::On);
            println!("{now}  operator: on {} -> {result:?}", node.name);
        }
    }

    while now < Instant::from_secs(15) {
        while let Some(action) = controller.next_action() {
            print_action(
                now,
                &config.nodes[action_node(&action).index()].name,
                &action,
            );
            if let Action::Switch { node, on } = action {
                powered[node.index()] = on;
            }
        }
        now = now + SAMPLE_PERIOD;
        let sample = Sample {
            voltage: Millivolts(5_050),
            current: Some(draw(&powered)),
        };
        controller.sample(now, sample);
    }
    println!(
        "{now}  draw {} of a {} budget",
        draw(&powered),
        config.supply.budget()
    );
}

fn action_node(action: &Action) -> NodeId {
    match action {
        Action::Switch { node, .. } | Action::Reset { node, .. } => *node,
        Action::Event(event) => event.node.unwrap_or(NodeId(0)),
    }
}

fn print_action(now: Instant, name: &str, action: &Action) {
    match action {
        Action::Switch { on, .. } => {
            println!("{now}  switch {name} {}", if *on { "on" } else { "off" })
        }
        Action::Reset { asserted, .. } => {
            println!("{now}  reset line of {name} asserted={asserted}")
        }
        Action::Event(event) if event.node.is_some() => {
            println!("{now}  event {name}: {:?}", event.kind)
        }
        Action::Event(event) => println!("{now}  event supply: {:?}", event.kind),
    }
}
