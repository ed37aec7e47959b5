#![doc = include_str!("../README.md")]

pub mod apply;
pub mod credentials;
mod error;
pub mod mirror;
pub mod preflight;

pub use error::ToolsError;
