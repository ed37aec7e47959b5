#![doc = include_str!("../README.md")]

mod appr;
mod error;
mod http;
mod rest;

pub use appr::{
    AppRegistryClient, AppRegistryClientBuilder, AppRegistryVersion, DeletedRelease,
    PackageSummary, PushRelease, ReleaseContent, ReleaseManifest, Visibility,
};
pub use error::{Api, QuayError, RemoteError};
pub use rest::*;
pub use secrecy::{ExposeSecret, SecretString};
