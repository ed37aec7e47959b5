//! Per-organization rewrites of OMPS: package name suffix, registry replacement, CSV annotations.
//!
//! Rules are compiled once (at server start-up) with [`Rewrites::compile`], so a bad regular
//! expression or template is a configuration error, never a request failure.

use std::fmt::Write as _;

use regex::Regex;

use crate::error::Error;
use crate::limits::YamlLimits;
use crate::tree::ManifestTree;
use crate::yaml::{self, Yaml};

/// One `replace_registry` rule as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRule {
    /// Text (or pattern, with `regexp`) to replace.
    pub old: String,
    /// Replacement; with `regexp` a Python-style template (`\1`, `\g<1>`, `\g<name>`, `\\`).
    pub new: String,
    /// Whether `old` is a regular expression (multi-line mode).
    pub regexp: bool,
}

/// One `csv_annotations` item as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvAnnotation {
    /// Annotation key.
    pub name: String,
    /// Template: `{package_name}` is the suffixed package name, `{{`/`}}` are literal braces.
    pub value: String,
}

/// An organization's rewrite settings as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RewriteConfig {
    /// Appended to the package name unless it already ends with it.
    pub package_name_suffix: Option<String>,
    /// Applied in order to every YAML file.
    pub replace_registry: Vec<RegistryRule>,
    /// Set on every CSV.
    pub csv_annotations: Vec<CsvAnnotation>,
}

#[derive(Debug, Clone)]
enum Replacer {
    Literal { old: String, new: String },
    Regex { pattern: Regex, template: String },
}

#[derive(Debug, Clone)]
enum TemplatePart {
    Text(String),
    PackageName,
}

/// Compiled, validated rewrites of one organization.
#[derive(Debug, Clone, Default)]
pub struct Rewrites {
    suffix: Option<String>,
    replacers: Vec<Replacer>,
    annotations: Vec<(String, Vec<TemplatePart>)>,
}

impl Rewrites {
    /// Validates and compiles `config`; `org` names the organization in error messages.
    pub fn compile(org: &str, config: &RewriteConfig) -> Result<Self, Error> {
        let mut replacers = Vec::new();
        for (i, rule) in config.replace_registry.iter().enumerate() {
            if rule.regexp {
                let pattern = Regex::new(&format!("(?m){}", rule.old)).map_err(|e| {
                    Error::Config(format!("organization {org}: replace_registry rule {i} ({:?}): unsupported regular expression: {e}", rule.old))
                })?;
                let template = python_template_to_rust(&rule.new).map_err(|e| {
                    Error::Config(format!(
                        "organization {org}: replace_registry rule {i}: {e}"
                    ))
                })?;
                replacers.push(Replacer::Regex { pattern, template });
            } else {
                replacers.push(Replacer::Literal {
                    old: rule.old.clone(),
                    new: rule.new.clone(),
                });
            }
        }
        let mut annotations = Vec::new();
        for item in &config.csv_annotations {
            let parts = parse_format_template(&item.value).map_err(|e| {
                Error::Config(format!(
                    "organization {org}: csv_annotations {:?}: {e}",
                    item.name
                ))
            })?;
            annotations.push((item.name.clone(), parts));
        }
        Ok(Self {
            suffix: config.package_name_suffix.clone().filter(|s| !s.is_empty()),
            replacers,
            annotations,
        })
    }

    /// The package name after the suffix rule (`etcd` + `etcd` stays `etcd`).
    pub fn suffixed_name(&self, name: &str) -> String {
        match &self.suffix {
            Some(suffix) if !name.ends_with(suffix.as_str()) => format!("{name}{suffix}"),
            _ => name.to_owned(),
        }
    }

    /// Applies all rewrites in OMPS's order: suffix, registry replacement, CSV annotations.
    /// Returns the (possibly suffixed) package name.
    pub fn apply(
        &self,
        tree: &mut ManifestTree,
        package_file: &str,
        package_name: &str,
        limits: &YamlLimits,
    ) -> Result<String, Error> {
        let name = self.suffixed_name(package_name);
        if name != package_name {
            set_package_name(tree, package_file, &name, limits)?;
        }
        self.replace_registries(tree)?;
        self.annotate_csvs(tree, &name, limits)?;
        Ok(name)
    }

    /// Runs the `replace_registry` rules over every `.yaml`/`.yml` file (any case, recursively).
    pub fn replace_registries(&self, tree: &mut ManifestTree) -> Result<(), Error> {
        if self.replacers.is_empty() {
            return Ok(());
        }
        for path in yaml_paths(tree) {
            let data = tree.get(&path).unwrap_or_default();
            let mut text = std::str::from_utf8(data)
                .map_err(|_| Error::YamlFile {
                    path: path.clone(),
                    source: None,
                })?
                .to_owned();
            for replacer in &self.replacers {
                text = match replacer {
                    Replacer::Literal { old, new } if !old.is_empty() => {
                        text.replace(old.as_str(), new)
                    }
                    Replacer::Literal { .. } => text,
                    Replacer::Regex { pattern, template } => {
                        pattern.replace_all(&text, template.as_str()).into_owned()
                    }
                };
            }
            tree.insert(path, text.into_bytes());
        }
        Ok(())
    }

    /// Sets the configured annotations on every CSV (a YAML file whose root mapping has
    /// `kind: ClusterServiceVersion`).
    pub fn annotate_csvs(
        &self,
        tree: &mut ManifestTree,
        package_name: &str,
        limits: &YamlLimits,
    ) -> Result<(), Error> {
        if self.annotations.is_empty() {
            return Ok(());
        }
        for path in yaml_paths(tree) {
            let data = tree.get(&path).unwrap_or_default();
            let fail = |source| Error::YamlFile {
                path: path.clone(),
                source,
            };
            let text = std::str::from_utf8(data).map_err(|_| fail(None))?;
            let Some(Yaml::Map(mut doc)) = yaml::parse(text, limits).map_err(|e| fail(Some(e)))?
            else {
                continue;
            };
            if doc.get("kind").and_then(Yaml::as_str) != Some("ClusterServiceVersion") {
                continue;
            }
            let metadata = entry_map(&mut doc, "metadata");
            let annotations = entry_map(metadata, "annotations");
            for (key, parts) in &self.annotations {
                annotations.insert(
                    Yaml::Str(key.clone()),
                    Yaml::Str(render(parts, package_name)),
                );
            }
            tree.insert(path, yaml::emit(&Yaml::Map(doc), false).into_bytes());
        }
        Ok(())
    }
}

/// `map[key]` as a mapping, created (or replaced when not a mapping) as needed.
fn entry_map<'a>(map: &'a mut crate::yaml::Mapping, key: &str) -> &'a mut crate::yaml::Mapping {
    if !matches!(map.get(key), Some(Yaml::Map(_))) {
        map.insert(
            Yaml::Str(key.to_owned()),
            Yaml::Map(crate::yaml::Mapping::new()),
        );
    }
    match map.get_mut(key) {
        Some(Yaml::Map(m)) => m,
        _ => unreachable!("inserted above"),
    }
}

fn yaml_paths(tree: &ManifestTree) -> Vec<String> {
    tree.iter()
        .map(|(p, _)| p)
        .filter(|p| {
            let name = p.rsplit('/').next().unwrap_or(p);
            let ext = std::path::Path::new(name)
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("");
            ext.eq_ignore_ascii_case("yaml") || ext.eq_ignore_ascii_case("yml")
        })
        .map(str::to_owned)
        .collect()
}

/// Replaces only the `packageName` scalar of `package_file`; every other byte stays.
pub fn set_package_name(
    tree: &mut ManifestTree,
    package_file: &str,
    name: &str,
    limits: &YamlLimits,
) -> Result<(), Error> {
    let fail = |source| Error::YamlFile {
        path: package_file.to_owned(),
        source,
    };
    let data = tree.get(package_file).ok_or_else(|| fail(None))?;
    let text = std::str::from_utf8(data).map_err(|_| fail(None))?;
    let (start, end, _style) = yaml::top_level_value_span(text, "packageName", limits)
        .map_err(|e| fail(Some(e)))?
        .ok_or_else(|| fail(None))?;
    let scalar = yaml::emit(&Yaml::Str(name.to_owned()), false);
    let mut out = String::with_capacity(text.len() + name.len());
    out.push_str(&text[..start]);
    out.push_str(scalar.trim_end_matches('\n'));
    out.push_str(&text[end..]);
    tree.insert(package_file, out.into_bytes());
    Ok(())
}

/// Translates a Python `re.sub` replacement template to the `regex` crate's syntax.
pub fn python_template_to_rust(template: &str) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.next() {
                None => return Err("bad escape (end of pattern) in template".into()),
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('f') => out.push('\u{c}'),
                Some('v') => out.push('\u{b}'),
                Some('a') => out.push('\u{7}'),
                Some('b') => out.push('\u{8}'),
                Some('g') => {
                    if chars.next() != Some('<') {
                        return Err("missing < after \\g in template".into());
                    }
                    let name: String = chars.by_ref().take_while(|c| *c != '>').collect();
                    let valid = !name.is_empty()
                        && (name.chars().all(|c| c.is_ascii_digit())
                            || name.chars().all(|c| c.is_alphanumeric() || c == '_'));
                    if !valid {
                        return Err(format!("bad group name {name:?} in template"));
                    }
                    let _ = write!(out, "${{{name}}}");
                }
                Some(d) if d.is_ascii_digit() => {
                    let mut num = d.to_string();
                    if let Some(&next) = chars.peek() {
                        if next.is_ascii_digit() {
                            num.push(next);
                            chars.next();
                        }
                    }
                    let _ = write!(
                        out,
                        "${{{}}}",
                        num.trim_start_matches('0').parse::<u32>().unwrap_or(0)
                    );
                }
                Some(l) if l.is_ascii_alphabetic() => {
                    return Err(format!("bad escape \\{l} in template"));
                }
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
            },
            other => out.push(other),
        }
    }
    Ok(out)
}

fn parse_format_template(template: &str) -> Result<Vec<TemplatePart>, String> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '{' => {
                let field: String = chars.by_ref().take_while(|c| *c != '}').collect();
                if field != "package_name" {
                    return Err(format!(
                        "unknown placeholder {{{field}}} (only {{package_name}} is allowed)"
                    ));
                }
                parts.push(TemplatePart::Text(std::mem::take(&mut text)));
                parts.push(TemplatePart::PackageName);
            }
            '}' => return Err("single '}' encountered in template".into()),
            other => text.push(other),
        }
    }
    parts.push(TemplatePart::Text(text));
    Ok(parts)
}

fn render(parts: &[TemplatePart], package_name: &str) -> String {
    parts
        .iter()
        .map(|p| match p {
            TemplatePart::Text(t) => t.as_str(),
            TemplatePart::PackageName => package_name,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrites(config: &RewriteConfig) -> Rewrites {
        Rewrites::compile("org", config).unwrap()
    }

    #[test]
    fn templates_translate() {
        assert_eq!(
            python_template_to_rust(r"\1-\g<2>-\g<name>-\\-$").unwrap(),
            r"${1}-${2}-${name}-\-$$"
        );
        assert_eq!(python_template_to_rust(r"\10x").unwrap(), "${10}x");
        assert!(python_template_to_rust(r"\q").is_err());
        assert!(python_template_to_rust(r"\g<>").is_err());
    }

    #[test]
    fn regex_rule_multiline_example_from_spec() {
        let r = rewrites(&RewriteConfig {
            replace_registry: vec![RegistryRule {
                old: "reg_old$".into(),
                new: "reg_new".into(),
                regexp: true,
            }],
            ..RewriteConfig::default()
        });
        let mut tree = ManifestTree::new();
        tree.insert(
            "a.yaml",
            b"x: Registry reg_old will be replaced using a regexp: reg_old\ny: reg_old\n".to_vec(),
        );
        r.replace_registries(&mut tree).unwrap();
        assert_eq!(
            tree.get("a.yaml").unwrap(),
            b"x: Registry reg_old will be replaced using a regexp: reg_new\ny: reg_new\n"
        );
    }

    #[test]
    fn rules_apply_in_order_to_yaml_files_only() {
        let r = rewrites(&RewriteConfig {
            replace_registry: vec![
                RegistryRule {
                    old: "quay.io/old".into(),
                    new: "registry.example/mid".into(),
                    regexp: false,
                },
                RegistryRule {
                    old: r"registry\.example/(\w+)".into(),
                    new: r"final/\1/$x".into(),
                    regexp: true,
                },
            ],
            ..RewriteConfig::default()
        });
        let mut tree = ManifestTree::new();
        tree.insert("v/csv.YML", b"image: quay.io/old/op:1\n".to_vec());
        tree.insert("README.md", b"quay.io/old\n".to_vec());
        r.replace_registries(&mut tree).unwrap();
        assert_eq!(
            tree.get("v/csv.YML").unwrap(),
            b"image: final/mid/$x/op:1\n"
        );
        assert_eq!(tree.get("README.md").unwrap(), b"quay.io/old\n");
    }

    #[test]
    fn non_utf8_yaml_is_a_package_error() {
        let r = rewrites(&RewriteConfig {
            replace_registry: vec![RegistryRule {
                old: "a".into(),
                new: "b".into(),
                regexp: false,
            }],
            ..RewriteConfig::default()
        });
        let mut tree = ManifestTree::new();
        tree.insert("dir/bad.yaml", vec![0xff, 0xfe]);
        assert_eq!(
            r.replace_registries(&mut tree).unwrap_err().to_string(),
            "Failed to process yaml file /dir/bad.yaml"
        );
    }

    #[test]
    fn bad_configuration_is_rejected_at_compile_time() {
        let look_around = RewriteConfig {
            replace_registry: vec![RegistryRule {
                old: "(?<=a)b".into(),
                new: "c".into(),
                regexp: true,
            }],
            ..RewriteConfig::default()
        };
        let e = Rewrites::compile("myorg", &look_around).unwrap_err();
        assert!(e.to_string().contains("organization myorg"), "{e}");
        let bad_template = RewriteConfig {
            csv_annotations: vec![CsvAnnotation {
                name: "k".into(),
                value: "{package}".into(),
            }],
            ..RewriteConfig::default()
        };
        assert!(matches!(
            Rewrites::compile("o", &bad_template),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn suffix_keeps_every_other_byte() {
        let r = rewrites(&RewriteConfig {
            package_name_suffix: Some("-sfx".into()),
            ..RewriteConfig::default()
        });
        let original = "# keep me\npackageName: int-test   # trailing comment\nchannels:\n- name: beta\n  currentCSV: x\n";
        let mut tree = ManifestTree::new();
        tree.insert("p.yaml", original.as_bytes().to_vec());
        let name = r
            .apply(&mut tree, "p.yaml", "int-test", &YamlLimits::default())
            .unwrap();
        assert_eq!(name, "int-test-sfx");
        assert_eq!(
            std::str::from_utf8(tree.get("p.yaml").unwrap()).unwrap(),
            original.replace("int-test ", "int-test-sfx ")
        );
        // Already suffixed names stay.
        assert_eq!(r.suffixed_name("etcd-sfx"), "etcd-sfx");
        let etcd = rewrites(&RewriteConfig {
            package_name_suffix: Some("etcd".into()),
            ..RewriteConfig::default()
        });
        assert_eq!(etcd.suffixed_name("etcd"), "etcd");
    }

    #[test]
    fn csv_annotations_with_template_and_no_folding() {
        let r = rewrites(&RewriteConfig {
            package_name_suffix: Some("-test-suffix".into()),
            csv_annotations: vec![
                CsvAnnotation {
                    name: "foo".into(),
                    value: "package.{package_name}".into(),
                },
                CsvAnnotation {
                    name: "braces".into(),
                    value: "{{x}}".into(),
                },
            ],
            ..RewriteConfig::default()
        });
        let long = format!(
            "[{}]",
            (0..300)
                .map(|i| format!("{{\"kind\": \"K{i}\"}}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let csv = format!(
            "kind: ClusterServiceVersion\nmetadata:\n  name: x\n  annotations:\n    alm-examples: '{long}'\nspec: {{}}\n"
        );
        let mut tree = ManifestTree::new();
        tree.insert("p.yaml", b"packageName: int-test\n".to_vec());
        tree.insert("1.0/csv.yaml", csv.into_bytes());
        tree.insert("1.0/crd.yaml", b"kind: CustomResourceDefinition\n".to_vec());
        r.apply(&mut tree, "p.yaml", "int-test", &YamlLimits::default())
            .unwrap();
        let text = std::str::from_utf8(tree.get("1.0/csv.yaml").unwrap()).unwrap();
        let doc = yaml::parse(text, &YamlLimits::default()).unwrap().unwrap();
        let ann = doc.get("metadata").unwrap().get("annotations").unwrap();
        assert_eq!(
            ann.get("foo").unwrap().as_str(),
            Some("package.int-test-test-suffix")
        );
        assert_eq!(ann.get("braces").unwrap().as_str(), Some("{x}"));
        assert_eq!(
            ann.get("alm-examples").unwrap().as_str(),
            Some(long.as_str())
        );
        assert!(
            text.lines().any(|l| l.len() > long.len()),
            "alm-examples must stay on one line"
        );
        assert_eq!(
            tree.get("1.0/crd.yaml").unwrap(),
            b"kind: CustomResourceDefinition\n"
        );
    }

    #[test]
    fn annotations_created_when_missing_and_bad_yaml_reported() {
        let r = rewrites(&RewriteConfig {
            csv_annotations: vec![CsvAnnotation {
                name: "a".into(),
                value: "v-{package_name}".into(),
            }],
            ..RewriteConfig::default()
        });
        let mut tree = ManifestTree::new();
        tree.insert("csv.yaml", b"kind: ClusterServiceVersion\n".to_vec());
        tree.insert("list.yaml", b"- not a mapping\n".to_vec());
        r.annotate_csvs(&mut tree, "etcd", &YamlLimits::default())
            .unwrap();
        let doc = yaml::parse(
            std::str::from_utf8(tree.get("csv.yaml").unwrap()).unwrap(),
            &YamlLimits::default(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            doc.get("metadata")
                .unwrap()
                .get("annotations")
                .unwrap()
                .get("a")
                .unwrap()
                .as_str(),
            Some("v-etcd")
        );
        assert_eq!(tree.get("list.yaml").unwrap(), b"- not a mapping\n");
        tree.insert("x/broken.yaml", b"a: [\n".to_vec());
        assert_eq!(
            r.annotate_csvs(&mut tree, "etcd", &YamlLimits::default())
                .unwrap_err()
                .to_string(),
            "Failed to process yaml file /x/broken.yaml"
        );
    }
}
