//! Async client for the Greenwave decision API.
//!
//! Status: placeholder. The client arrives with the koji/greenwave issue.
