#![doc = include_str!("../README.md")]

mod appr;
mod error;
mod http;
pub mod oci;
mod rest;

pub use appr::{
    AppRegistryClient, AppRegistryClientBuilder, AppRegistryOptions, AppRegistryVersion,
    DeletedRelease, PackageSummary, PushRelease, ReleaseContent, ReleaseManifest, Visibility,
};
pub use error::{Api, ErrorKind, QuayError, RemoteError};
pub use http::ClientBuilder;
pub use oci::{
    CopyOptions, CopyReport, ImageReference, ImageToPush, RegistryAuth, RegistryClient,
    RegistryClientBuilder, RegistryOptions, copy_image,
};
pub use omps_http::{HttpSettings, TransportError, TransportKind};
pub use rest::{
    InitializedUser, NewProxyCache, NewRepository, Organization, ProxyCacheConfig, QuayRestClient,
    QuayRestClientBuilder, QuayRestOptions, Repository, RepositoryQuery, Robot, Tag, TagQuery,
};
pub use secrecy::{ExposeSecret, SecretString};
