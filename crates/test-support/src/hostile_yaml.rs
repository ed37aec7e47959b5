//! Hostile YAML generators for the tests of bounded parsers.

use std::fmt::Write as _;

/// A "billion laughs" document: an anchor of ten scalars and nine levels of ten aliases each
/// (10^10 nodes once expanded), nested under `under` when given (`robot_config:`), so it can
/// hide below a key a strict configuration accepts.
pub fn alias_bomb(under: Option<&str>) -> String {
    let (mut out, indent) = match under {
        Some(key) => (format!("{key}:\n"), "  "),
        None => (String::new(), ""),
    };
    let _ = writeln!(out, "{indent}a: &a [x, x, x, x, x, x, x, x, x, x]");
    for i in 0..9 {
        let prev = if i == 0 {
            "a".to_owned()
        } else {
            format!("l{}", i - 1)
        };
        let refs = vec![format!("*{prev}"); 10].join(", ");
        let _ = writeln!(out, "{indent}l{i}: &l{i} [{refs}]");
    }
    out
}

/// Flow sequences nested `depth` deep around one scalar.
pub fn deep_nesting(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let bomb = alias_bomb(Some("robot_config"));
        assert!(bomb.starts_with("robot_config:\n  a: &a ["));
        assert!(bomb.contains("  l8: &l8 [*l7, *l7,"));
        assert_eq!(bomb.lines().count(), 11);
        assert!(alias_bomb(None).starts_with("a: &a"));
        assert_eq!(deep_nesting(2), "[[1]]");
    }
}
