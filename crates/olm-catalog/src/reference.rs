//! Image reference grammar check (the distribution `reference` grammar, as upstream's
//! `ParseNormalizedNamed` applies it to bundle and related images, rule M14). Validation only:
//! splitting a reference for pulling is the registry client's job.

/// `alpha-numeric [separator alpha-numeric]*` with separator `[_.]|__|[-]*`.
fn path_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() {
        return false;
    }
    let mut i = 0;
    let run = |i: &mut usize| {
        let s = *i;
        while *i < b.len() && (b[*i].is_ascii_lowercase() || b[*i].is_ascii_digit()) {
            *i += 1;
        }
        *i > s
    };
    if !run(&mut i) {
        return false;
    }
    while i < b.len() {
        let sep_start = i;
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if b.get(i) == Some(&b'_') {
                    i += 1;
                }
            }
            b'-' => {
                while b.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == sep_start || !run(&mut i) {
            return false;
        }
    }
    true
}

fn domain_component(c: &str) -> bool {
    let b = c.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
}

fn domain(d: &str) -> bool {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        match rest.split_once(']') {
            Some((v6, after)) => {
                if !v6.contains(':') || !v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
                    return false;
                }
                ("v6", after.strip_prefix(':'))
            }
            None => return false,
        }
    } else {
        match d.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (d, None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    host == "v6" && d.starts_with('[') || host.split('.').all(domain_component)
}

fn tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn digest(d: &str) -> Result<(), String> {
    let (algo, hex) = d
        .split_once(':')
        .ok_or_else(|| "invalid reference format".to_owned())?;
    let algo_ok = algo.split(['+', '.', '-', '_']).all(|c| {
        c.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
            && c.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    if !algo_ok || hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("invalid reference format".into());
    }
    let want = match algo {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err("unsupported digest algorithm".into()),
    };
    if hex.len() != want {
        return Err("invalid checksum digest length".into());
    }
    if hex.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err("invalid checksum digest format".into());
    }
    Ok(())
}

/// Checks `s` as a (normalizable) image reference: `[domain/]path[:tag][@digest]`.
pub fn validate(s: &str) -> Result<(), String> {
    if s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return Err(format!(
            "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
        ));
    }
    let (rest, dig) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    let (name, tg) = match rest.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, Some(t)),
        _ => (rest, None),
    };
    if let Some(t) = tg {
        if !tag(t) {
            return Err("invalid reference format".into());
        }
    }
    if let Some(d) = dig {
        digest(d)?;
    }
    let (dom, path) = match name.split_once('/') {
        Some((first, remainder))
            if first.contains(['.', ':']) || first == "localhost" || first.starts_with('[') =>
        {
            (Some(first), remainder)
        }
        _ => (None, name),
    };
    if let Some(d) = dom {
        if !domain(d) {
            return Err("invalid reference format".into());
        }
    }
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err("invalid reference format: repository name must be lowercase".into());
    }
    if !path.split('/').all(path_component) {
        return Err("invalid reference format".into());
    }
    if name.len() > 255 {
        return Err("repository name must not be more than 255 characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_and_invalid_references() {
        let d = format!("sha256:{}", "a".repeat(64));
        for ok in [
            "quay.io/org/repo:1.0".to_owned(),
            "ubuntu".to_owned(),
            "localhost:5000/a/b".to_owned(),
            format!("registry.example/x@{d}"),
            format!("r.example:443/a__b/c-d.e:v1_x@{d}"),
            "[::1]:5000/x".to_owned(),
        ] {
            validate(&ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for (bad, msg) in [
            (
                "Quay.io/Org/repo",
                "invalid reference format: repository name must be lowercase",
            ),
            ("quay.io/org/repo:", "invalid reference format"),
            ("quay.io//repo", "invalid reference format"),
            ("quay.io/org/repo@sha256:abc", "invalid reference format"),
            ("-bad.example/x", "invalid reference format"),
            (
                "quay.io/a/b@md5:0123456789abcdef0123456789abcdef",
                "unsupported digest algorithm",
            ),
        ] {
            assert_eq!(validate(bad).unwrap_err(), msg, "{bad}");
        }
        assert!(validate(&"a".repeat(64)).unwrap_err().contains("64-byte"));
    }
}
