#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod board;
pub mod config;
pub mod controller;
pub mod event;
pub mod heartbeat;
pub mod monitor;
pub mod protection;
pub mod recovery;
pub mod reference;
pub mod state;
pub mod units;
