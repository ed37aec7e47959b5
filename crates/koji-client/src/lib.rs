//! Async Koji XML-RPC client with its own codec and operator-manifest lookup.
//!
//! Status: placeholder. The client arrives with the koji/greenwave issue.
