//! Bounded body reads.

use bytes::{Bytes, BytesMut};
use reqwest::Response;

use crate::{HttpError, TransportError};

/// Error bodies are read up to this size; the rest is dropped.
pub const MAX_ERROR_BODY_BYTES: u64 = 64 * 1024;

/// Reads a whole body, failing with [`HttpError::ResponseTooLarge`] past `limit` bytes (checked
/// against `Content-Length` first, then against what actually arrives).
pub async fn read_limited(
    context: &str,
    mut resp: Response,
    limit: u64,
) -> Result<Bytes, HttpError> {
    let too_large = || HttpError::ResponseTooLarge {
        context: context.to_owned(),
        limit,
    };
    if resp.content_length().is_some_and(|l| l > limit) {
        return Err(too_large());
    }
    let mut buf = BytesMut::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| TransportError::from_reqwest(context, &e))?
    {
        if (buf.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Reads a body up to `limit` bytes and drops the rest; a body that cannot be read gives what
/// arrived so far. For error answers, where the status matters more than the body.
pub async fn read_capped(mut resp: Response, limit: u64) -> Vec<u8> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut buf = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = limit - buf.len();
        if chunk.len() >= room {
            buf.extend_from_slice(&chunk[..room]);
            break;
        }
        buf.extend_from_slice(&chunk);
    }
    buf
}

/// Turns a non-success answer into [`HttpError::Status`], keeping up to
/// [`MAX_ERROR_BODY_BYTES`] of its body.
pub async fn status_error(context: &str, resp: Response) -> HttpError {
    let status = resp.status().as_u16();
    let url = crate::display_url(resp.url());
    let body = read_capped(resp, MAX_ERROR_BODY_BYTES).await;
    HttpError::Status {
        context: context.to_owned(),
        url,
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}
