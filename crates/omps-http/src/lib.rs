#![doc = include_str!("../README.md")]

mod body;
mod error;
pub mod oauth;
mod settings;
mod transport;
mod url_check;

pub use body::{MAX_ERROR_BODY_BYTES, read_capped, read_limited, status_error};
pub use error::HttpError;
pub use settings::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_RETRIES, DEFAULT_READ_TIMEOUT,
    DEFAULT_RETRY_BASE_DELAY, DEFAULT_TIMEOUT, HttpSettings, MAX_RETRY_AFTER,
};
pub use transport::{TransportError, TransportKind, display_url};
pub use url_check::parse_base_url;
