//! The OMPS HTTP service as a library: `app(state) -> Router` over pluggable backends.
//!
//! Status: placeholder. The server arrives with the omps-server issue.
