#![doc = include_str!("../README.md")]

pub mod greenwave_stack;
pub mod koji_hub;
pub mod python_peer;
