//! picluster: a power and GPIO supervisor for small Raspberry Pi clusters.
//!
//! The `picluster` binary is a daemon that runs the firmware's controller against a hardware
//! backend, and a CLI that talks to it through the control socket.

pub mod agent;
pub mod backend;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod metrics;
pub mod protocol;
pub mod selector;
pub mod sim;
pub mod socket;
pub mod store;
