//! Secrets named in configuration files: a literal value, an environment variable or a file.
//!
//! A key `password` may be given as `password` (literal, accepted for compatibility with the
//! original tools' files but reported as a warning), `password_env` (name of an environment
//! variable) or `password_file` (path of a file whose content, without the trailing newline, is
//! the secret). Giving more than one is an error. Values are never put into error messages.

use std::path::Path;

use secrecy::SecretString;

/// Largest secret file read (a token or password is far smaller).
const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// Looks environment variables up; a trait object so tests need not touch the process
/// environment.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment as an [`EnvLookup`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Where a resolved secret came from (for warnings; never the value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretOrigin {
    /// Written in the configuration file itself.
    Literal,
    /// Read from this environment variable.
    Env(String),
    /// Read from this file.
    File(String),
}

/// Reads a secret file: at most 64 KiB, trailing `\r`/`\n` removed, must not be empty.
pub fn read_secret_file(path: &Path) -> Result<SecretString, String> {
    use std::io::Read as _;
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_SECRET_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if text.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(format!(
            "{} is larger than {MAX_SECRET_FILE_BYTES} bytes; not a secret file",
            path.display()
        ));
    }
    let trimmed = text.trim_end_matches(['\r', '\n']);
    if trimmed.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(SecretString::from(trimmed.to_owned()))
}

/// Resolves the secret `key` of a JSON object (`key`, `key_env` or `key_file`). `Ok(None)` when
/// none of the three is present. Errors name the key, the variable or the file, never the value.
pub fn resolve(
    obj: &serde_json::Map<String, serde_json::Value>,
    key: &str,
    env: EnvLookup<'_>,
) -> Result<Option<(SecretString, SecretOrigin)>, String> {
    let env_key = format!("{key}_env");
    let file_key = format!("{key}_file");
    let given: Vec<&str> = [key, env_key.as_str(), file_key.as_str()]
        .into_iter()
        .filter(|k| obj.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
    if given.len() > 1 {
        return Err(format!(
            "give only one of {}, not {}",
            [key, &env_key, &file_key].join(" / "),
            given.join(" and ")
        ));
    }
    let Some(&which) = given.first() else {
        return Ok(None);
    };
    let as_str = |k: &str| -> Result<String, String> {
        match obj.get(k) {
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            // Numbers and booleans are accepted as literal secrets, as PyYAML read them.
            Some(serde_json::Value::Number(n)) if k == key => Ok(n.to_string()),
            _ => Err(format!("{k} must be a string")),
        }
    };
    if which == key {
        let v = as_str(key)?;
        if v.is_empty() {
            return Ok(None);
        }
        Ok(Some((SecretString::from(v), SecretOrigin::Literal)))
    } else if which == env_key {
        let var = as_str(&env_key)?;
        let v = env(&var)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("{env_key}: environment variable {var} is not set or empty"))?;
        Ok(Some((SecretString::from(v), SecretOrigin::Env(var))))
    } else {
        let path = as_str(&file_key)?;
        let secret = read_secret_file(Path::new(&path)).map_err(|e| format!("{file_key}: {e}"))?;
        Ok(Some((secret, SecretOrigin::File(path))))
    }
}

/// Whether `key` is one of the names [`resolve`] reads for `base`.
pub fn is_secret_key(key: &str, base: &str) -> bool {
    key == base
        || key
            .strip_prefix(base)
            .is_some_and(|rest| rest == "_env" || rest == "_file")
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret as _;

    fn obj(v: &serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn literal_env_and_file() {
        let env = |k: &str| (k == "TOKEN_VAR").then(|| "from-env".to_owned());
        let (s, o) = resolve(&obj(&serde_json::json!({"token": "lit"})), "token", &env)
            .unwrap()
            .unwrap();
        assert_eq!((s.expose_secret(), o), ("lit", SecretOrigin::Literal));
        let (s, o) = resolve(
            &obj(&serde_json::json!({"token_env": "TOKEN_VAR"})),
            "token",
            &env,
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.expose_secret(), "from-env");
        assert_eq!(o, SecretOrigin::Env("TOKEN_VAR".into()));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t");
        std::fs::write(&p, "from-file\n").unwrap();
        let (s, _) = resolve(
            &obj(&serde_json::json!({"token_file": p.to_str().unwrap()})),
            "token",
            &env,
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.expose_secret(), "from-file");
        assert!(
            resolve(&obj(&serde_json::json!({})), "token", &env)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn errors_never_contain_values() {
        let env = |_: &str| None;
        let e = resolve(
            &obj(&serde_json::json!({"token": "hunter2", "token_env": "X"})),
            "token",
            &env,
        )
        .err()
        .unwrap();
        assert!(e.contains("token_env"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        let e = resolve(
            &obj(&serde_json::json!({"token_env": "MISSING_VAR"})),
            "token",
            &env,
        )
        .err()
        .unwrap();
        assert!(e.contains("MISSING_VAR"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("empty");
        std::fs::write(&p, "\n").unwrap();
        assert!(read_secret_file(&p).is_err());
    }

    #[test]
    fn secret_key_names() {
        assert!(is_secret_key("token_env", "token"));
        assert!(is_secret_key("token", "token"));
        assert!(!is_secret_key("tokenx", "token"));
    }
}
