#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod clock;
pub mod cluster;
pub mod i2c;
pub mod ina;
pub mod line;
pub mod monitor;
pub mod node;
pub mod pin;
pub mod plot;
pub mod rail;
pub mod rng;
pub mod scenario;
pub mod supply;
pub mod trace;
pub mod world;

pub use clock::{Pacer, Pacing};
pub use cluster::SimCluster;
pub use i2c::{DeviceFault, I2cDevice, I2cError, SimI2c};
pub use line::{ClaimError, Edge, Pull};
pub use monitor::{MonitorChip, MonitorSpec, SimMonitor, SimSampleSource};
pub use node::{Behaviour, BoardModel, NodeSpec, Phase, RelayFault};
pub use pin::{PinError, SimInputPin, SimOutputPin};
pub use scenario::{Report, RunOptions, Scenario, ScenarioError, run};
pub use supply::{Overload, SupplySpec};
pub use trace::Trace;
pub use world::{NodeSnapshot, World, WorldLock, WorldSpec, WorldStatus};
