//! Prints the cost of one controller step for a 4-node and a 64-node cluster, side by side.
//!
//! A step is one input (a supply sample or a heartbeat edge) with its full pass over the
//! cluster and the drain of its actions, as the daemon does it. Every node is running with a
//! live heartbeat, the steady state the controller spends nearly all its time in.
//!
//! Run with `cargo bench -p picluster-firmware --bench controller_step`.

use std::hint::black_box;
use std::time::Instant as WallClock;

use heapless::{String, Vec};
use picluster_firmware::config::SwitchLine;
use picluster_firmware::config::{ClusterConfig, LineId, NodeConfig, NodeId, Polarity, Role};
use picluster_firmware::controller::{Controller, NodeStart, Sample};
use picluster_firmware::reference;
use picluster_firmware::units::{Duration, Instant, Milliamps, Millivolts};

const STEPS: u64 = 200_000;

fn cluster(nodes: usize) -> ClusterConfig<64> {
    let mut config = ClusterConfig {
        supply: reference::supply(),
        timings: reference::timings(),
        recovery: reference::recovery(),
        nodes: Vec::new(),
    };
    // A bench supply large enough for 64 boards, so every node can be on.
    config.supply.limit = Milliamps(100_000);
    for index in 0..nodes {
        let role = if index == 0 { Role::Head } else { Role::Worker };
        let line = |offset: usize| LineId((index * 3 + offset) as u32);
        let switch = SwitchLine {
            line: line(0),
            polarity: Polarity::ActiveHigh,
        };
        let node = NodeConfig {
            name: String::try_from(format!("node{index}").as_str()).unwrap(),
            role,
            priority: index as u8,
            switch: (role == Role::Worker).then_some(switch),
            reset: None,
            heartbeat: (role == Role::Worker).then_some(line(1)),
            boot_peak: Milliamps(450),
            idle: Milliamps(400),
            min_step: Milliamps(100),
        };
        config.nodes.push(node).unwrap();
    }
    config
}

/// Returns nanoseconds per step for a cluster of `nodes`.
fn measure(nodes: usize) -> f64 {
    let config = cluster(nodes);
    let start: std::vec::Vec<NodeStart> = (0..nodes)
        .map(|_| NodeStart {
            switch_on: true,
            ..NodeStart::default()
        })
        .collect();
    let mut now = Instant::ZERO;
    let mut controller = Controller::<64>::new(config, now, &start).unwrap();
    let draw = Milliamps(400 * nodes as i32);
    let sample = Sample {
        voltage: Millivolts(5_050),
        current: Some(draw),
    };

    let mut level = false;
    let mut step = |now: Instant, index: u64, controller: &mut Controller<64>| {
        // Each node's line toggles every 500 ms; samples arrive in between.
        let node = (index % nodes as u64) as u8;
        if node == 0 {
            controller.sample(now, sample);
        } else {
            level = !level;
            controller.heartbeat_edge(now, NodeId(node), level);
        }
        while let Some(action) = controller.next_action() {
            black_box(action);
        }
    };

    // Warm up past the boot grace so every node is running.
    let per_step = Duration::from_micros(500_000 / nodes as u64);
    for index in 0..(nodes as u64 * 400) {
        now = now + per_step;
        step(now, index, &mut controller);
    }

    let started = WallClock::now();
    for index in 0..STEPS {
        now = now + per_step;
        step(now, index, &mut controller);
    }
    started.elapsed().as_nanos() as f64 / STEPS as f64
}

fn main() {
    let small = measure(4);
    let large = measure(64);
    println!("controller step, {STEPS} steps each (samples and heartbeat edges):");
    println!("  4 nodes:  {small:8.0} ns/step");
    println!("  64 nodes: {large:8.0} ns/step");
    println!("  ratio 64/4: {:.1}", large / small);
}
