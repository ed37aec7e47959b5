#![doc = include_str!("../README.md")]

mod client;
mod error;
mod manifests;
mod types;
mod value;
pub mod xmlrpc;

pub use client::{
    Client, ClientBuilder, DEFAULT_MAX_RETRIES, DEFAULT_RETRY_BASE_DELAY, DEFAULT_TIMEOUT,
    DEFAULT_TRANSFER_TIMEOUT, Idempotency, MethodCall,
};
pub use error::{
    FAULT_GENERIC_ERROR, FAULT_PARAMETER_ERROR, FAULT_SERVER_OFFLINE, KojiError, fault_name,
};
pub use manifests::{
    ArchiveSource, Checksum, ManifestsArchive, OPERATOR_MANIFESTS_BTYPE, archive_source, join_url,
    relative_url, typeinfo_archive_url,
};
pub use omps_http::HttpSettings;
pub use types::{Archive, Build, BuildLog, BuildRef, BuildState, ChecksumType, ListArchives};
pub use value::{Value, from_value, to_value};
pub use xmlrpc::{DecodeError, Fault, Limits};

/// Koji keyword arguments: a struct with the extra member `__starstar = true`, sent as the
/// last positional parameter; the hub turns its other members into keyword arguments.
pub fn kwargs<K: Into<String>>(members: impl IntoIterator<Item = (K, Value)>) -> Value {
    let mut map: std::collections::BTreeMap<String, Value> =
        members.into_iter().map(|(k, v)| (k.into(), v)).collect();
    map.insert("__starstar".to_owned(), Value::Bool(true));
    Value::Struct(map)
}
