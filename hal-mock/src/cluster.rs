//! A simulated cluster: the controller's configuration and the world that matches it.

use picluster_firmware::config::{ClusterConfig, NodeConfig};
use picluster_firmware::reference::{self, MAX_NODES};

use crate::monitor::MonitorSpec;
use crate::node::{Behaviour, BoardModel, NodeSpec};
use crate::supply::SupplySpec;
use crate::world::{World, WorldSpec};

/// The board behind each reference hostname.
const REFERENCE_BOARDS: [(&str, BoardModel); 4] = [
    ("raspberrypi0.lan", BoardModel::Pi2ModelB),
    ("raspberrypi1.lan", BoardModel::Pi2ModelB),
    ("raspberrypi2.lan", BoardModel::Pi3ModelB),
    ("raspberrypi3.lan", BoardModel::Pi1ModelBRev2),
];

/// A cluster to simulate: the controller's configuration and the world's contents.
#[derive(Clone, Debug)]
pub struct SimCluster {
    /// The controller's configuration.
    pub config: ClusterConfig<MAX_NODES>,
    /// The nodes, supply and cabling of the world, in the configuration's node order.
    pub world: WorldSpec,
    /// The current monitor.
    pub monitor: MonitorSpec,
}

impl SimCluster {
    /// Returns the reference cluster: two Pi 2 Model B workers, a Pi 3 Model B head and a Pi 1 Model
    /// B rev 2 worker on a 5.4 A USB charger, every node with a healthy 1 Hz agent.
    pub fn reference(seed: u64) -> Self {
        let config = reference::cluster();
        let nodes = config
            .nodes
            .iter()
            .enumerate()
            .map(|(index, node)| {
                let board = reference_board(&node.name).unwrap_or(BoardModel::Pi2ModelB);
                node_spec(node, board, node_seed(seed, index))
            })
            .collect();
        Self {
            config,
            world: WorldSpec {
                nodes,
                supply: SupplySpec::reference_charger(),
                cable_milliohms: WorldSpec::CABLE_MILLIOHMS,
            },
            monitor: MonitorSpec::reference(),
        }
    }

    /// Builds the world with the monitor chip on its bus.
    pub fn build_world(&self) -> World {
        let world = World::new(self.world.clone());
        self.monitor.attach(&world);
        world
    }
}

/// Returns the board of a reference hostname.
pub fn reference_board(name: &str) -> Option<BoardModel> {
    REFERENCE_BOARDS
        .iter()
        .find(|(host, _)| *host == name)
        .map(|(_, board)| *board)
}

/// Builds a node's world spec from its controller configuration.
pub fn node_spec(node: &NodeConfig, board: BoardModel, seed: u64) -> NodeSpec {
    NodeSpec {
        name: node.name.as_str().to_owned(),
        board,
        switch: node.switch.map(|line| (line.line, line.polarity)),
        run: node.reset.map(|line| (line.line, line.polarity)),
        heartbeat_line: node.heartbeat,
        behaviour: Behaviour::healthy(),
        hang_at: None,
        initially_running: false,
        seed,
    }
}

/// Derives a node's seed from the scenario's, so nodes jitter independently.
pub fn node_seed(seed: u64, index: usize) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(index as u64 + 1)
}
