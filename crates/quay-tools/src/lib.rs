#![doc = include_str!("../README.md")]

pub mod apply;
pub mod credentials;
mod error;
mod file;
pub mod mirror;
pub mod preflight;

pub use error::ToolsError;
pub use file::MAX_CONFIG_BYTES;
