#![doc = include_str!("../README.md")]

#[cfg(feature = "kube-api")]
pub mod kube_api;
