//! Organization and repository names: one grammar for the URL, the package file and the
//! configuration, Quay's repository-name rule `^[a-z0-9][a-z0-9._-]{0,254}$`. Anything else is
//! refused at the edge (400), so no store ever sees a name Quay would not accept.

/// The grammar, as documented.
pub const GRAMMAR: &str = "^[a-z0-9][a-z0-9._-]{0,254}$";

/// The longest name.
pub const MAX_LEN: usize = 255;

/// The longest caller-supplied name a message repeats.
pub const SHOWN_MAX: usize = 64;

/// A caller-supplied name (organization, repository, version, NVR) as a message or log line may
/// show it: as is when it is short printable ASCII, escaped and quoted when it holds anything
/// else (control characters cannot split a log line or forge one), withheld when it is longer
/// than [`SHOWN_MAX`] bytes.
#[must_use]
pub fn shown(name: &str) -> String {
    if name.len() > SHOWN_MAX {
        format!("({} bytes, not shown)", name.len())
    } else if name.bytes().all(|b| b.is_ascii_graphic()) {
        name.to_owned()
    } else {
        format!("{name:?}")
    }
}

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
            "{what} name {} is not valid: it must match {GRAMMAR} (lowercase letters, digits, '.', '_', '-'; a letter or digit first; at most {MAX_LEN} characters)",
            shown(name)
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
        // Overlong and control-character names are not echoed as they are.
        assert!(!check_organization(&long).unwrap_err().contains(&long));
        let e = check_repository("a\nforged log line\u{1b}[31m").unwrap_err();
        assert!(!e.contains('\n') && !e.contains('\u{1b}'), "{e}");
        assert_eq!(shown("1.0.0"), "1.0.0");
        assert_eq!(shown("a b"), "\"a b\"");
    }
}
