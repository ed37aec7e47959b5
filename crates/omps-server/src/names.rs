//! Organization and repository names: one grammar for the URL, the package file and the
//! configuration, Quay's repository-name rule `^[a-z0-9][a-z0-9._-]{0,254}$`. Anything else is
//! refused at the edge (400), so no store ever sees a name Quay would not accept.

/// The grammar, as documented.
pub const GRAMMAR: &str = "^[a-z0-9][a-z0-9._-]{0,254}$";

/// The longest name.
pub const MAX_LEN: usize = 255;

fn check(what: &str, name: &str) -> Result<(), String> {
    let bytes = name.as_bytes();
    let first_ok = bytes
        .first()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let rest_ok = bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(b));
    if first_ok && rest_ok && bytes.len() <= MAX_LEN {
        Ok(())
    } else {
        Err(format!(
            "{what} name {name:?} is not valid: it must match {GRAMMAR} (lowercase letters, digits, '.', '_', '-'; a letter or digit first; at most {MAX_LEN} characters)"
        ))
    }
}

/// Checks an organization (namespace) name.
pub fn check_organization(name: &str) -> Result<(), String> {
    check("organization", name)
}

/// Checks a repository (package) name.
pub fn check_repository(name: &str) -> Result<(), String> {
    check("repository", name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grammar() {
        for ok in [
            "o",
            "myorg",
            "public-org",
            "with.dot",
            "a_b",
            "0",
            "etcd-operator",
        ] {
            assert!(check_organization(ok).is_ok(), "{ok}");
            assert!(check_repository(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(MAX_LEN + 1);
        for bad in [
            "", "my org!", ".hidden", "ab%2Fcd", "ab/cd", "Upper", "-dash", "_under", "a b", "é",
            &long,
        ] {
            let e = check_organization(bad).unwrap_err();
            assert!(e.contains(GRAMMAR), "{e}");
            assert!(check_repository(bad).is_err(), "{bad}");
        }
        assert!(check_repository(&"a".repeat(MAX_LEN)).is_ok());
    }
}
