//! Base-URL validation shared by every client builder.

use url::Url;

use crate::HttpError;

/// Parses a client's base URL: `http` or `https`, a host, and no credentials (credentials in
/// URLs end up in logs; they belong in the builders' secret setters).
pub fn parse_base_url(base: &str) -> Result<Url, HttpError> {
    let url = Url::parse(base).map_err(|e| {
        let hint = if e == url::ParseError::RelativeUrlWithoutBase {
            format!(" (write it with a scheme, e.g. https://{base})")
        } else {
            String::new()
        };
        HttpError::Config(format!("invalid base URL {base:?}: {e}{hint}"))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        // `host:port` parses as a URL whose scheme is the host.
        let hint = if base.contains("://") {
            String::new()
        } else {
            format!(" (write it with a scheme, e.g. https://{base})")
        };
        return Err(HttpError::Config(format!(
            "base URL {base:?} must be http or https, not {}{hint}",
            url.scheme()
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(HttpError::Config(
            "base URL must not contain credentials".to_owned(),
        ));
    }
    if url.cannot_be_a_base() || url.host_str().is_none_or(str::is_empty) {
        return Err(HttpError::Config(format!("base URL {base:?} has no host")));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_and_https_with_ports_and_paths() {
        assert_eq!(
            parse_base_url("https://quay.example.com:8443/api")
                .unwrap()
                .as_str(),
            "https://quay.example.com:8443/api"
        );
        parse_base_url("http://127.0.0.1:5000").unwrap();
    }

    #[test]
    fn refuses_credentials_other_schemes_and_missing_scheme() {
        let e = parse_base_url("https://user:pw@example.com").unwrap_err();
        assert!(!e.to_string().contains("pw"), "{e}");
        assert!(
            parse_base_url("ftp://example.com")
                .unwrap_err()
                .to_string()
                .contains("ftp")
        );
        // A scheme cannot start with a digit: a relative URL.
        let e = parse_base_url("127.0.0.1:8080").unwrap_err().to_string();
        assert!(e.contains("e.g. https://127.0.0.1:8080"), "{e}");
        // `localhost:8080` parses with `localhost` as its scheme.
        let e = parse_base_url("localhost:8080").unwrap_err().to_string();
        assert!(e.contains("e.g. https://localhost:8080"), "{e}");
    }
}
