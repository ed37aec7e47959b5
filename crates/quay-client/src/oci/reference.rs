//! The one image-reference type of the workspace: `[registry[:port]/]path[:tag][@digest]`.

use std::fmt;

use crate::QuayError;

/// A parsed image reference: an optional registry host, the repository path, and an optional
/// tag and/or digest.
///
/// The registry part is recognised as Docker does: the first path component is a host when it
/// contains a `.` or a `:`, or is `localhost`. No default registry is assumed; callers that need
/// one (or must not have one) say so with [`ImageReference::require_registry`] or
/// [`ImageReference::require_no_registry`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageReference {
    /// `host[:port]`, when the reference names one.
    pub registry: Option<String>,
    /// Repository path (`org/repo`, `ns/sub/repo`).
    pub repository: String,
    /// Tag.
    pub tag: Option<String>,
    /// Digest (`sha256:<64 hex>`).
    pub digest: Option<String>,
}

fn invalid(input: &str, why: impl fmt::Display) -> QuayError {
    QuayError::InvalidArgument(format!("{input:?}: {why}"))
}

/// A path component: lowercase letters and digits, separated by `.`, `_`, `__` or dashes.
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || b"._-".contains(ch))
}

/// A tag: up to 128 of `[A-Za-z0-9_.-]`, not starting with `.` or `-`.
pub(crate) fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && !t.starts_with(['.', '-'])
}

fn valid_digest(d: &str) -> bool {
    d.strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn looks_like_host(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

impl ImageReference {
    /// Parses `[docker://][registry[:port]/]path[:tag][@sha256:<hex>]`. A URL (`https://...`)
    /// is refused with a message saying how to write the reference.
    pub fn parse(input: &str) -> Result<Self, QuayError> {
        let s = input.trim();
        let s = s.strip_prefix("docker://").unwrap_or(s);
        if s.contains("://") {
            return Err(invalid(
                input,
                "a URL is not an image reference; write it without a scheme or host prefix like \
                 https://, as [registry/]<org>/<repo>[:<tag>]",
            ));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                if !valid_digest(d) {
                    return Err(invalid(input, format!("invalid digest {d:?}")));
                }
                (r, Some(d.to_owned()))
            }
            None => (s, None),
        };
        let (registry, path) = match rest.split_once('/') {
            Some((first, path)) if looks_like_host(first) => (Some(first.to_owned()), path),
            _ => (None, rest),
        };
        // A tag is after the last ':' of the last component (a ':' before a '/' is a port).
        let (repository, tag) = match path.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, Some(t.to_owned())),
            _ => (path, None),
        };
        if let Some(t) = &tag {
            if !valid_tag(t) {
                return Err(invalid(input, format!("invalid tag {t:?}")));
            }
        }
        if registry.as_deref() == Some("") || repository.is_empty() {
            return Err(invalid(input, "no repository"));
        }
        if !repository.split('/').all(valid_component) || repository.len() > 255 {
            return Err(invalid(
                input,
                "the repository path takes lowercase letters, digits, '.', '_', '-' and '/'",
            ));
        }
        Ok(Self {
            registry,
            repository: repository.to_owned(),
            tag,
            digest,
        })
    }

    /// The digest when there is one, else the tag.
    pub fn reference(&self) -> Option<&str> {
        self.digest.as_deref().or(self.tag.as_deref())
    }

    /// Namespace (first path component) and the rest.
    pub fn split_namespace(&self) -> (&str, &str) {
        self.repository
            .split_once('/')
            .unwrap_or(("", self.repository.as_str()))
    }

    /// Refuses a reference without a registry host (`quay.example.com/...`, `127.0.0.1:5000/...`).
    pub fn require_registry(self, input: &str) -> Result<Self, QuayError> {
        if self.registry.is_none() {
            return Err(invalid(
                input,
                "must start with a registry host (e.g. quay.example.com/ or 127.0.0.1:5000/)",
            ));
        }
        Ok(self)
    }

    /// Refuses a reference that names a registry host, for places where the registry is given
    /// separately (a mirror's repository list).
    pub fn require_no_registry(self, input: &str) -> Result<Self, QuayError> {
        if self.registry.is_some() {
            return Err(invalid(
                input,
                "the first component looks like a host name; give <org>/<repo>[:<tag>]",
            ));
        }
        Ok(self)
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(r) = &self.registry {
            write!(f, "{r}/")?;
        }
        f.write_str(&self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(s: &str) -> (Option<String>, String, Option<String>, Option<String>) {
        let r = ImageReference::parse(s).unwrap();
        (r.registry, r.repository, r.tag, r.digest)
    }

    #[test]
    fn registries_paths_tags_and_digests() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            parts("127.0.0.1:5000/ns/etcd-bundle:0.9.4"),
            (
                Some("127.0.0.1:5000".into()),
                "ns/etcd-bundle".into(),
                Some("0.9.4".into()),
                None
            )
        );
        assert_eq!(
            parts("docker://quay.example.com/a/b/c"),
            (Some("quay.example.com".into()), "a/b/c".into(), None, None)
        );
        assert_eq!(parts("localhost/x:1").0.as_deref(), Some("localhost"));
        assert_eq!(
            parts(&format!("team/app@{d}")),
            (None, "team/app".into(), None, Some(d.clone()))
        );
        let r = ImageReference::parse(&format!("quay.io/team/app:1.0@{d}")).unwrap();
        assert_eq!(r.reference(), Some(d.as_str()));
        assert_eq!(r.to_string(), format!("quay.io/team/app:1.0@{d}"));
        assert_eq!(
            ImageReference::parse("team/app:1.0")
                .unwrap()
                .split_namespace(),
            ("team", "app")
        );
    }

    #[test]
    fn bad_references_say_why() {
        for (bad, why) in [
            ("https://quay.example.com/team/app:1", "without a scheme"),
            ("Team/App:1", "lowercase"),
            ("team/app:bad tag", "invalid tag"),
            ("team/app@sha256:zz", "invalid digest"),
            ("quay.example.com/", "no repository"),
            ("quay.example.com/ns/etcd:", "invalid tag"),
            ("team//app", "lowercase"),
        ] {
            let e = ImageReference::parse(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
        let e = ImageReference::parse("ns/etcd:1")
            .unwrap()
            .require_registry("ns/etcd:1")
            .unwrap_err();
        assert!(e.to_string().contains("registry host"), "{e}");
        let e = ImageReference::parse("quay.example.com/team/app:1")
            .unwrap()
            .require_no_registry("quay.example.com/team/app:1")
            .unwrap_err();
        assert!(e.to_string().contains("looks like a host name"), "{e}");
    }
}
