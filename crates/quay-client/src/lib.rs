//! Async clients for Quay: App Registry (CNR), Quay REST API v1 and OCI registries.
//!
//! Status: placeholder. The clients arrive with the quay-client issue.
