#![doc = include_str!("../README.md")]

pub mod certs;
pub mod courier;
pub mod fake_quay;
pub mod fixtures;
pub mod greenwave_stack;
pub mod hostile_yaml;
mod http;
#[cfg(feature = "ims-fake")]
pub mod ims_fake;
pub mod koji_hub;
#[cfg(feature = "kube-api")]
pub mod kube_api;
pub mod mock;
pub mod moto;
pub mod oci_image;
pub mod peers;
pub mod python_peer;
pub mod registry;
#[cfg(feature = "registry-token")]
pub mod registry_token;
pub mod server;
pub mod skopeo;
pub mod zip_forge;
