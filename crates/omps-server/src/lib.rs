#![doc = include_str!("../README.md")]

pub mod access;
pub mod adapters;
pub mod admission;
pub mod app_registry_store;
pub mod backends;
pub mod config;
pub mod error;
pub mod listener;
pub mod local_store;
pub mod metrics;
pub mod names;
pub mod oci_store;
pub mod openapi;
mod push;
mod routes;
pub mod serve;
pub mod service;
pub mod spool;
mod state;

pub use config::{Config, ConfigError, Overrides};
pub use error::{ApiError, ErrorId};
pub use routes::app;
pub use service::version::bump_major;
pub use service::{PushError, PushOutcome, PushRequest, PushService, PushSource};
pub use state::{AppState, Backends};
