#![doc = include_str!("../README.md")]

pub mod apply;
mod appr;
pub mod credentials;
mod error;
mod http;
pub mod mirror;
pub mod oauth;
pub mod oci;
pub mod preflight;
mod rest;

pub use appr::{
    AppRegistryClient, AppRegistryClientBuilder, AppRegistryVersion, DeletedRelease,
    PackageSummary, PushRelease, ReleaseContent, ReleaseManifest, Visibility,
};
pub use error::{Api, ErrorKind, QuayError, RemoteError};
pub use oci::{
    CopyOptions, CopyReport, RegistryAuth, RegistryClient, RegistryClientBuilder, copy_image,
};
pub use rest::*;
pub use secrecy::{ExposeSecret, SecretString};
