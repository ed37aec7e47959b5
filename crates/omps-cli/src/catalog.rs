//! `omps catalog ...`: file-based catalogs (render, migrate, validate, templates, add, push,
//! pull, upgrade graph). Thin: `olm-catalog` does the catalog work, `catalog-image` the images;
//! here only arguments, reading inputs, printing and the mapping of their errors onto the one
//! exit table ([`crate::error`]).

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use catalog_image::{BaseRef, CatalogImageError, ImageOptions, PulledImage};
use clap::{Args, Subcommand, ValueEnum};
use olm_catalog::graph::{to_dot, to_mermaid, upgrade_graphs};
use olm_catalog::{
    AddOptions, Catalog, CatalogError, CatalogLimits, DirKind, FileSet, Format, MigrateOptions,
    ObjectForm, Placement, RenderOptions, Rendered,
};
use quay_client::ImageReference;
use serde_json::{Value, json};

use crate::error::{CliError, Exit};
use crate::output::Output;
use crate::registry_args::{Registries, RegistryArgs, is_loopback, parse_image};

/// The base image `omps catalog push` uses without `--base` (what `opm generate dockerfile`
/// uses).
pub const DEFAULT_BASE: &str = "quay.io/operator-framework/opm:latest";

/// The help after `omps catalog --help`'s command list.
pub const CATALOG_HELP: &str =
    "Inputs: a path that exists is read from disk; anything else is an image reference
(registry[:port]/repository[:tag|@digest], the registry required).

Exit status (the table of `omps --help`): 0 done (validate: valid), 1 invalid or refused
(a catalog that breaks a rule, the wrong kind of input, a registry's 4xx), 2 usage or
unreadable input, 3 registry failure (5xx), 4 registry unreachable.

Examples:
  omps catalog render ./bundles/0.9.4 --image quay.example.com/ops/etcd-bundle:0.9.4 -o yaml
  omps catalog migrate ./etcd ./catalog
  omps catalog validate ./catalog
  omps catalog add ./catalog --bundle quay.example.com/ops/etcd-bundle:0.9.5
  omps catalog push ./catalog quay.example.com/ops/catalog:v1
  omps catalog graph ./catalog --package etcd --format dot | dot -Tsvg > etcd.svg";

/// `omps catalog ...`.
#[derive(Debug, Args)]
pub struct CatalogCmd {
    #[command(subcommand)]
    command: CatalogSub,
}

#[derive(Debug, Subcommand)]
enum CatalogSub {
    /// Render bundles (directory, zip or bundle image) into `olm.bundle` blobs; a catalog
    /// (directory, file or image) renders to its blobs.
    #[command(
        after_help = "Examples:\n  omps catalog render ./bundles/0.9.4 --image quay.example.com/ops/etcd-bundle:0.9.4\n  omps catalog render quay.example.com/ops/etcd-bundle:0.9.4 -o yaml\n  omps catalog render ./bundle --bundle-objects"
    )]
    Render(RenderArgs),
    /// Migrate a package-manifest directory (`*.package.yaml` + one folder per version) into a
    /// catalog directory.
    #[command(
        after_help = "Examples:\n  omps catalog migrate ./etcd ./catalog\n  omps catalog migrate ./etcd ./catalog --image-template 'quay.example.com/ops/{{.Package}}-bundle:{{.Version}}' -o yaml\n  omps catalog migrate ./etcd -"
    )]
    Migrate(MigrateArgs),
    /// Validate a catalog (directory, file or image) with every rule of `opm validate`.
    #[command(
        after_help = "Exit status: 0 valid, 1 invalid (the failures are printed), 2 unreadable input.\n\nExamples:\n  omps catalog validate ./catalog\n  omps catalog validate quay.example.com/ops/catalog:v1 -o json"
    )]
    Validate(ValidateArgs),
    /// Expand an `olm.template.basic` or `olm.semver` template (bundle images are pulled and
    /// rendered).
    #[command(
        after_help = "Examples:\n  omps catalog template basic basic.yaml > catalog/etcd/catalog.json\n  omps catalog template semver semver.yaml -o yaml"
    )]
    Template(TemplateArgs),
    /// Add a bundle (image, or a local bundle with --image) to a catalog directory: the
    /// package and channels are created as needed, only that package's file is rewritten.
    #[command(
        after_help = "Examples:\n  omps catalog add ./catalog --bundle quay.example.com/ops/etcd-bundle:0.9.5\n  omps catalog add ./catalog --bundle ./bundles/0.9.5 --image quay.example.com/ops/etcd-bundle:0.9.5 --channel stable --channel fast\n  omps catalog add ./catalog --bundle quay.example.com/ops/app-bundle:1.2.0 --semver-chain"
    )]
    Add(AddArgs),
    /// Validate a catalog directory and push it as a catalog image (no container builder):
    /// the configs layer on a base image, the configs label, opm's serving command.
    #[command(
        after_help = "Credentials (--username/--password-stdin, OMPS_REGISTRY_*) go to the target registry, and\nto the base image's registry only when it is the same one; --plain-http reaches the base only\non that registry or on this machine.\n\nExamples:\n  omps catalog push ./catalog quay.example.com/ops/catalog:v1\n  omps catalog push ./catalog 127.0.0.1:5000/ops/catalog:v1 --base scratch --plain-http -o json\n  omps catalog push ./catalog quay.example.com/ops/catalog:v1 --label team=ops"
    )]
    Push(PushArgs),
    /// Read a catalog image's configs into a directory (it must not exist or be empty).
    #[command(
        after_help = "Examples:\n  omps catalog pull quay.example.com/ops/catalog:v1 ./catalog\n  omps catalog pull 127.0.0.1:5000/ops/catalog:v1 ./catalog --plain-http -o json"
    )]
    Pull(PullArgs),
    /// The upgrade graph of each channel (replaces, skips, skipRange edges; channel heads
    /// marked) as Mermaid or Graphviz dot.
    #[command(
        after_help = "Mermaid: replaces edges are solid, skips and skipRange dotted; heads have a thick green border;\nbundles named by an edge but absent from the channel are dashed. Dot: one cluster per channel,\nheads with a double border, skips dashed, skipRange dotted.\n\nExamples:\n  omps catalog graph ./catalog\n  omps catalog graph ./catalog --package etcd --format dot | dot -Tsvg > etcd.svg\n  omps catalog graph quay.example.com/ops/catalog:v1 --package etcd"
    )]
    Graph(GraphArgs),
}

/// Format of the catalog text a command writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FbcFormat {
    /// One 4-space-indented JSON value per blob (as `opm`).
    Json,
    /// One `---` YAML document per blob, keys sorted (as `opm`).
    Yaml,
}

impl From<FbcFormat> for Format {
    fn from(f: FbcFormat) -> Self {
        match f {
            FbcFormat::Json => Format::Json,
            FbcFormat::Yaml => Format::Yaml,
        }
    }
}

/// Format of a command's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Lines for people.
    Text,
    /// One JSON document (on failure `{"result": "failure", "error": {...}}`).
    Json,
    /// The JSON document as YAML.
    Yaml,
}

/// Graph notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// A Mermaid flowchart.
    Mermaid,
    /// Graphviz dot.
    Dot,
}

/// Which template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TemplateKind {
    /// `schema: olm.template.basic`.
    Basic,
    /// `schema: olm.semver`.
    Semver,
}

impl TemplateKind {
    fn schema(self) -> &'static str {
        match self {
            TemplateKind::Basic => "olm.template.basic",
            TemplateKind::Semver => "olm.semver",
        }
    }
}

#[derive(Debug, Args)]
struct RenderArgs {
    /// Bundle directories, zips or bundle images; catalog directories, files or images.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = FbcFormat::Json)]
    output: FbcFormat,
    /// The bundle image reference written into a local bundle's blob (one bundle input only).
    #[arg(long, value_name = "REF", conflicts_with = "image_template")]
    image: Option<String>,
    /// Image reference template for local bundles: `{{.Package}}`, `{{.Name}}`, `{{.Version}}`.
    #[arg(long, value_name = "TEMPLATE")]
    image_template: Option<String>,
    /// Carry the manifests as `olm.bundle.object` properties instead of `olm.csv.metadata`.
    #[arg(long)]
    bundle_objects: bool,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(Debug, Args)]
struct MigrateArgs {
    /// A package-manifest directory (`*.package.yaml`, one folder per version).
    package_dir: PathBuf,
    /// The catalog directory to write (must not exist or be empty), or `-` for standard output.
    out: String,
    /// Format of the catalog files.
    #[arg(short, long, value_enum, default_value_t = FbcFormat::Json)]
    output: FbcFormat,
    /// Bundle image template (`{{.Package}}`, `{{.Name}}`, `{{.Version}}`); without one the
    /// bundles carry `olm.bundle.object` properties so that the catalog validates.
    #[arg(long, value_name = "TEMPLATE")]
    image_template: Option<String>,
}

#[derive(Debug, Args)]
struct ValidateArgs {
    /// A catalog directory, a catalog file, or a catalog image.
    catalog: String,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = ReportFormat::Text)]
    output: ReportFormat,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(Debug, Args)]
struct TemplateArgs {
    /// The template's kind; the file's `schema` must match it.
    kind: TemplateKind,
    /// The template file (YAML or JSON).
    file: PathBuf,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = FbcFormat::Json)]
    output: FbcFormat,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(Debug, Args)]
struct AddArgs {
    /// The catalog directory (created when missing).
    catalog: PathBuf,
    /// The bundle: an image reference, or a local bundle directory or zip (then --image).
    #[arg(long, value_name = "IMAGE|DIR")]
    bundle: String,
    /// The bundle's image reference, for a local --bundle.
    #[arg(long, value_name = "REF")]
    image: Option<String>,
    /// Channels to add it to (repeatable); default: the channels of its annotations.
    #[arg(long = "channel", value_name = "NAME")]
    channels: Vec<String>,
    /// Chain each channel by version (`replaces` the next lower version) instead of taking the
    /// CSV's replaces/skips/skipRange.
    #[arg(long)]
    semver_chain: bool,
    /// Format of a new package file (an existing one keeps its format).
    #[arg(long, value_enum, default_value_t = FbcFormat::Json)]
    format: FbcFormat,
    /// Report format.
    #[arg(short, long, value_enum, default_value_t = ReportFormat::Text)]
    output: ReportFormat,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(Debug, Args)]
struct PushArgs {
    /// The catalog directory.
    catalog: PathBuf,
    /// `registry[:port]/repository[:tag]` (tag defaults to `latest`).
    image: String,
    /// Base image (`scratch` for none: the image then holds the catalog only).
    #[arg(long, default_value = DEFAULT_BASE, value_name = "IMAGE")]
    base: String,
    /// Extra image label `KEY=VALUE` (repeatable).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
    /// Report format.
    #[arg(short, long, value_enum, default_value_t = ReportFormat::Text)]
    output: ReportFormat,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(Debug, Args)]
struct PullArgs {
    /// The catalog image.
    image: String,
    /// Directory to write the configs into (must not exist or be empty).
    dir: PathBuf,
    /// Report format.
    #[arg(short, long, value_enum, default_value_t = ReportFormat::Text)]
    output: ReportFormat,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(Debug, Args)]
struct GraphArgs {
    /// A catalog directory, a catalog file, or a catalog image.
    catalog: String,
    /// Only this package.
    #[arg(long, value_name = "NAME")]
    package: Option<String>,
    /// Notation.
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    format: GraphFormat,
    #[command(flatten)]
    registry: RegistryArgs,
}

impl CatalogCmd {
    /// The output format for failures: JSON only for the reports asked as JSON (a command whose
    /// stdout is a catalog or a graph keeps failures on stderr).
    pub fn output(&self) -> Output {
        let report = match &self.command {
            CatalogSub::Validate(a) => a.output,
            CatalogSub::Add(a) => a.output,
            CatalogSub::Push(a) => a.output,
            CatalogSub::Pull(a) => a.output,
            CatalogSub::Render(_)
            | CatalogSub::Migrate(_)
            | CatalogSub::Template(_)
            | CatalogSub::Graph(_) => ReportFormat::Text,
        };
        if report == ReportFormat::Json {
            Output::Json
        } else {
            Output::Text
        }
    }
}

/// Runs `omps catalog ...`.
pub async fn run(cmd: CatalogCmd) -> Result<Exit, CliError> {
    match cmd.command {
        CatalogSub::Render(a) => render(a).await,
        CatalogSub::Migrate(a) => blocking(move || migrate(&a)).await,
        CatalogSub::Validate(a) => validate(a).await,
        CatalogSub::Template(a) => template(a).await,
        CatalogSub::Add(a) => add(a).await,
        CatalogSub::Push(a) => push(a).await,
        CatalogSub::Pull(a) => pull(a).await,
        CatalogSub::Graph(a) => graph(a).await,
    }
}

// ------------------------------------------------------------------------------------------------
// Errors

/// A library error on the exit table: broken or wrong-kind input is refused (1), a file that
/// cannot be read is unreadable input (2).
fn catalog_error(e: CatalogError) -> CliError {
    match e {
        CatalogError::Io { .. } => CliError::input(e.to_string()),
        other => CliError::invalid(other.to_string()),
    }
}

fn image_error(e: CatalogImageError) -> CliError {
    match e {
        CatalogImageError::Registry(q) => q.into(),
        CatalogImageError::Catalog(c) => catalog_error(c),
        CatalogImageError::NotACatalog(m) => CliError::invalid(m),
        CatalogImageError::InvalidBase(m) => CliError::invalid(format!("base image: {m}"))
            .with_hint("name another base with --base, or --base scratch for none"),
        CatalogImageError::InvalidReference(m) => CliError::usage(m),
        other => CliError::internal(other.to_string()),
    }
}

/// Runs CPU or file-system work off the runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CliError> + Send + 'static,
) -> Result<T, CliError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CliError::internal(format!("a worker thread failed: {e}")))?
}

// ------------------------------------------------------------------------------------------------
// Inputs

/// What a command-line input names.
#[derive(Debug)]
enum Input {
    Dir(PathBuf),
    Zip(PathBuf),
    File(PathBuf),
    Image(ImageReference),
}

/// A path that exists is read from disk; anything else must be an image reference.
fn input(arg: &str) -> Result<Input, CliError> {
    let path = Path::new(arg);
    if path.is_dir() {
        return Ok(Input::Dir(path.to_owned()));
    }
    if path.is_file() {
        let mut magic = [0u8; 4];
        let is_zip = std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut magic))
            .is_ok_and(|()| &magic == b"PK\x03\x04");
        return Ok(if is_zip {
            Input::Zip(path.to_owned())
        } else {
            Input::File(path.to_owned())
        });
    }
    // `./x`, `../x`, `/x`, `~/x` are paths: a typo must not become a registry host.
    if arg.starts_with(['.', '/', '~']) || arg.contains('\\') {
        return Err(CliError::input(format!("{arg}: no such file or directory")));
    }
    ImageReference::parse(arg)
        .and_then(|r| r.require_registry(arg))
        .map(Input::Image)
        .map_err(|e| {
            CliError::input(format!(
                "{arg}: no such file or directory, and not an image reference ({e})"
            ))
        })
}

fn limits() -> CatalogLimits {
    CatalogLimits::default()
}

fn read_zip(path: &Path) -> Result<FileSet, CliError> {
    let tree =
        manifest_bundle::ManifestTree::from_zip_file(path, &manifest_bundle::Limits::default())
            .map_err(|e| CliError::input(format!("{}: {e}", path.display())))?;
    Ok(FileSet::from_manifest_tree(&tree))
}

fn read_file(path: &Path) -> Result<Vec<u8>, CliError> {
    let max = limits().max_file_bytes;
    let meta =
        std::fs::metadata(path).map_err(|e| CliError::input(format!("{}: {e}", path.display())))?;
    if meta.len() > max {
        return Err(CliError::invalid(format!(
            "{} ({} bytes) exceeds the limit of {max} bytes",
            path.display(),
            meta.len()
        )));
    }
    std::fs::read(path).map_err(|e| CliError::input(format!("{}: {e}", path.display())))
}

/// The "wrong kind" message for a directory or file set that is not a catalog.
fn not_a_catalog(what: &str, kind: DirKind) -> Option<CliError> {
    match kind {
        DirKind::Bundle => Some(
            CliError::invalid(format!(
                "{what} is a bundle (manifests/ and metadata/), not a catalog"
            ))
            .with_hint(
                "render it with `omps catalog render`, or add it to a catalog with `omps catalog add CATALOG --bundle DIR --image REF`",
            ),
        ),
        DirKind::PackageManifests => Some(
            CliError::invalid(format!(
                "{what} holds package manifests (a *.package.yaml), not a catalog"
            ))
            .with_hint("migrate it into a catalog with `omps catalog migrate DIR OUT`"),
        ),
        _ => None,
    }
}

/// Loads a catalog directory (refusing bundles and package manifests by name), with its files.
fn load_catalog_dir(dir: &Path) -> Result<(FileSet, Catalog), CliError> {
    let l = limits();
    let kind = olm_catalog::classify_dir(dir, &l).map_err(catalog_error)?;
    if let Some(e) = not_a_catalog(&dir.display().to_string(), kind) {
        return Err(e);
    }
    let files = FileSet::from_dir(dir, &l).map_err(catalog_error)?;
    let catalog = olm_catalog::load_files(&files, &l).map_err(catalog_error)?;
    Ok((files, catalog))
}

fn load_catalog_file(path: &Path) -> Result<Catalog, CliError> {
    let data = read_file(path)?;
    olm_catalog::load_text(&path.display().to_string(), &data, &limits()).map_err(catalog_error)
}

fn load_catalog_zip(path: &Path) -> Result<Catalog, CliError> {
    let files = read_zip(path)?;
    let l = limits();
    if let Some(e) = not_a_catalog(
        &path.display().to_string(),
        olm_catalog::classify_files(&files, &l),
    ) {
        return Err(e);
    }
    olm_catalog::load_files(&files, &l).map_err(catalog_error)
}

/// A spinner with a message on a terminal's stderr; hidden otherwise.
fn spinner(message: &str) -> indicatif::ProgressBar {
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message(message.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    }
}

/// Reads a catalog from a directory, file, zip or image (the configs of a catalog image).
async fn load_any(arg: &str, registry: &RegistryArgs) -> Result<(Catalog, String), CliError> {
    match input(arg)? {
        Input::Dir(d) => blocking(move || load_catalog_dir(&d).map(|(_, c)| c))
            .await
            .map(|c| (c, String::new())),
        Input::File(f) => blocking(move || load_catalog_file(&f))
            .await
            .map(|c| (c, String::new())),
        Input::Zip(z) => blocking(move || load_catalog_zip(&z))
            .await
            .map(|c| (c, String::new())),
        Input::Image(r) => {
            let client = Registries::new(registry).client(&r, true)?;
            let bar = spinner(&format!("reading {r}"));
            let pulled = catalog_image::pull_catalog(&client, &r, &limits()).await;
            bar.finish_and_clear();
            let pulled = pulled.map_err(|e| {
                let bundle =
                    matches!(&e, CatalogImageError::NotACatalog(m) if m.contains("bundle image"));
                let e = image_error(e);
                if bundle {
                    e.with_hint(format!("render it with `omps catalog render {r}`"))
                } else {
                    e
                }
            })?;
            Ok((pulled.catalog, pulled.digest))
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Printing

fn print_text(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
}

/// Prints a JSON report as JSON or YAML.
fn print_report(format: ReportFormat, report: &Value, text: impl FnOnce() -> String) {
    match format {
        ReportFormat::Text => print_text(&text()),
        ReportFormat::Json => crate::output::print_json(report),
        ReportFormat::Yaml => print_text(&json_as_yaml(report)),
    }
}

/// A `serde_json` document in the catalog writer's YAML (keys sorted, as `opm` writes).
fn json_as_yaml(v: &Value) -> String {
    olm_catalog::json::parse(&v.to_string(), 256)
        .map_or_else(|_| v.to_string(), |v| olm_catalog::yaml_out::to_yaml(&v))
}

fn warn_all(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

fn counts(c: &Catalog) -> Value {
    json!({
        "packages": c.package_names().len(),
        "channels": c.channels.len(),
        "bundles": c.bundles.len(),
    })
}

// ------------------------------------------------------------------------------------------------
// render

fn render_local_bundle(files: &FileSet, options: &RenderOptions) -> Result<Rendered, CliError> {
    olm_catalog::render_bundle(files, options, &limits()).map_err(catalog_error)
}

async fn render(args: RenderArgs) -> Result<Exit, CliError> {
    let inputs = args
        .inputs
        .iter()
        .map(|a| input(a))
        .collect::<Result<Vec<_>, _>>()?;
    let form = if args.bundle_objects {
        ObjectForm::BundleObjects
    } else {
        ObjectForm::CsvMetadata
    };
    if args.image.is_some() && inputs.len() > 1 {
        return Err(CliError::usage(
            "--image names one bundle's image; with several inputs use --image-template",
        ));
    }
    if let Some(image) = &args.image {
        parse_image(image)?;
    }
    let local = RenderOptions {
        image: args.image.clone(),
        image_template: args.image_template.clone(),
        form,
    };
    let mut registries = Registries::new(&args.registry);
    let mut out = Catalog::default();
    for (arg, inp) in args.inputs.iter().zip(inputs) {
        let l = limits();
        match inp {
            Input::Image(r) => {
                let client = registries.client(&r, true)?;
                let bar = spinner(&format!("pulling {r}"));
                let pulled = catalog_image::pull(&client, &r, &l).await;
                bar.finish_and_clear();
                match pulled.map_err(image_error)? {
                    PulledImage::Bundle(b) => {
                        let options = RenderOptions {
                            image: Some(r.to_string()),
                            image_template: None,
                            form,
                        };
                        let rendered = blocking(move || render_local_bundle(&b.files, &options))
                            .await
                            .map_err(|e| e.with_context(format!("rendering {arg}")))?;
                        warn_all(&rendered.warnings);
                        out.merge(single(rendered));
                    }
                    PulledImage::Catalog(c) => out.merge(c.catalog),
                    _ => {
                        return Err(CliError::invalid(format!(
                            "{arg} is neither a bundle nor a catalog image"
                        )));
                    }
                }
            }
            local_input => {
                let options = local.clone();
                out.merge(blocking(move || render_local(local_input, &options)).await?);
            }
        }
    }
    print_text(&olm_catalog::to_text(&out, args.output.into()));
    Ok(Exit::Success)
}

/// Renders a local bundle (directory or zip), or reads a local catalog (directory, zip, file).
fn render_local(input: Input, options: &RenderOptions) -> Result<Catalog, CliError> {
    let l = limits();
    let (files, what) = match input {
        Input::Dir(d) => match olm_catalog::classify_dir(&d, &l).map_err(catalog_error)? {
            DirKind::Bundle => (
                FileSet::from_dir(&d, &l).map_err(catalog_error)?,
                d.display().to_string(),
            ),
            DirKind::PackageManifests => {
                return Err(package_manifests_not_a_bundle(&d.display().to_string()));
            }
            _ => return load_catalog_dir(&d).map(|(_, c)| c),
        },
        Input::Zip(z) => {
            let files = read_zip(&z)?;
            match olm_catalog::classify_files(&files, &l) {
                DirKind::Bundle => (files, z.display().to_string()),
                DirKind::PackageManifests => {
                    return Err(package_manifests_not_a_bundle(&z.display().to_string()));
                }
                _ => return olm_catalog::load_files(&files, &l).map_err(catalog_error),
            }
        }
        Input::File(f) => return load_catalog_file(&f),
        Input::Image(r) => {
            return Err(CliError::internal(format!("{r} is not a local input")));
        }
    };
    let r = render_local_bundle(&files, options)
        .map_err(|e| e.with_context(format!("rendering {what}")))?;
    warn_all(&r.warnings);
    Ok(single(r))
}

fn package_manifests_not_a_bundle(what: &str) -> CliError {
    CliError::invalid(format!(
        "{what} holds package manifests (a *.package.yaml), not a bundle"
    ))
    .with_hint(
        "migrate it with `omps catalog migrate DIR OUT`, or convert it into bundles with `omps bundle convert DIR OUT`",
    )
}

fn single(r: Rendered) -> Catalog {
    Catalog {
        bundles: vec![r.bundle],
        ..Catalog::default()
    }
}

// ------------------------------------------------------------------------------------------------
// migrate

/// Refuses an output directory that exists and is not empty (never write into a tree that
/// holds something else).
fn fresh_dir(dir: &Path) -> Result<(), CliError> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none());
        if !empty {
            return Err(CliError::usage(format!(
                "{}: output directory exists and is not empty",
                dir.display()
            )));
        }
    }
    Ok(())
}

fn migrate(args: &MigrateArgs) -> Result<Exit, CliError> {
    let dir = &args.package_dir;
    if !dir.is_dir() {
        return Err(CliError::input(format!(
            "{}: not a directory (give an unpacked package-manifest directory)",
            dir.display()
        )));
    }
    let l = limits();
    match olm_catalog::classify_dir(dir, &l).map_err(catalog_error)? {
        DirKind::Bundle => {
            return Err(CliError::invalid(format!(
                "{} is a bundle directory (manifests/ and metadata/), not a package-manifest directory",
                dir.display()
            ))
            .with_hint("render it with `omps catalog render DIR`, or add it with `omps catalog add`"));
        }
        DirKind::Catalog => {
            return Err(CliError::invalid(format!(
                "{} has no package manifest (a YAML file with packageName) at its top; it is read as a catalog, which needs no migration",
                dir.display()
            ))
            .with_hint("validate a catalog with `omps catalog validate DIR`"));
        }
        _ => {}
    }
    let stdout = args.out == "-";
    if !stdout {
        fresh_dir(Path::new(&args.out))?;
    }
    let options = MigrateOptions {
        image_template: args.image_template.clone(),
    };
    let migrated = olm_catalog::migrate_dir(dir, &options, &l).map_err(catalog_error)?;
    warn_all(&migrated.warnings);
    let format: Format = args.output.into();
    if stdout {
        print_text(&olm_catalog::to_text(&migrated.catalog, format));
        return Ok(Exit::Success);
    }
    let out = Path::new(&args.out);
    let files = olm_catalog::to_files(&migrated.catalog, format).map_err(catalog_error)?;
    files
        .write_to(out)
        .map_err(|e| CliError::input(format!("cannot write the catalog: {e}")))?;
    let c = &migrated.catalog;
    for (path, _) in files.iter() {
        eprintln!("wrote {}", out.join(path).display());
    }
    eprintln!(
        "{} package, {} channels, {} bundles",
        c.package_names().len(),
        c.channels.len(),
        c.bundles.len()
    );
    Ok(Exit::Success)
}

// ------------------------------------------------------------------------------------------------
// validate

async fn validate(args: ValidateArgs) -> Result<Exit, CliError> {
    let (catalog, digest) = load_any(&args.catalog, &args.registry).await?;
    let summary = counts(&catalog);
    let result = blocking(move || Ok(olm_catalog::validate(&catalog))).await?;
    let failures: Vec<Value> = match &result {
        Ok(_) => Vec::new(),
        Err(CatalogError::Invalid(tree)) => tree
            .failures()
            .into_iter()
            .map(|f| {
                json!({
                    "package": f.package,
                    "channel": f.channel,
                    "bundle": f.bundle,
                    "message": f.message,
                })
            })
            .collect(),
        Err(other) => vec![json!({"message": other.to_string()})],
    };
    let valid = result.is_ok();
    let mut report = json!({
        "result": if valid { "success" } else { "failure" },
        "valid": valid,
        "catalog": args.catalog,
        "packages": summary["packages"],
        "channels": summary["channels"],
        "bundles": summary["bundles"],
        "failures": failures,
    });
    if !digest.is_empty() {
        report["digest"] = digest.into();
    }
    print_report(args.output, &report, || match &result {
        Ok(_) => format!(
            "{}: valid ({} packages, {} channels, {} bundles)\n",
            args.catalog, summary["packages"], summary["channels"], summary["bundles"]
        ),
        Err(e) => format!("{e}\n"),
    });
    Ok(if valid { Exit::Success } else { Exit::Refused })
}

// ------------------------------------------------------------------------------------------------
// template

async fn template(args: TemplateArgs) -> Result<Exit, CliError> {
    let path = args.file.clone();
    let text = blocking(move || read_file(&path)).await?;
    let l = limits();
    let name = args.file.display().to_string();
    let schema = match olm_catalog::template::template_schema(&text, &l) {
        Ok(s) => s,
        // Several documents: a catalog file, most likely.
        Err(e) => {
            return Err(match olm_catalog::load_text(&name, &text, &l) {
                Ok(c) if !c.packages.is_empty() || !c.bundles.is_empty() => CliError::invalid(
                    format!("{name} is a file-based catalog, not a template"),
                )
                .with_hint("validate it with `omps catalog validate`, or render it with `omps catalog render`"),
                _ => catalog_error(e),
            });
        }
    };
    if schema != args.kind.schema() {
        let e = CliError::invalid(format!(
            "{name} has schema {schema:?}, not {:?}",
            args.kind.schema()
        ));
        return Err(match schema.as_str() {
            "olm.template.basic" => e.with_hint(format!(
                "expand it with `omps catalog template basic {name}`"
            )),
            "olm.semver" => e.with_hint(format!(
                "expand it with `omps catalog template semver {name}`"
            )),
            s if s.starts_with("olm.") => {
                e.with_hint("a catalog blob is not a template; validate or render catalogs instead")
            }
            _ => e,
        });
    }
    let images = olm_catalog::template::referenced_images(&text, &l).map_err(catalog_error)?;
    // Pull and render every bundle first (network), then expand (no network).
    let mut registries = Registries::new(&args.registry);
    let mut rendered: BTreeMap<String, Rendered> = BTreeMap::new();
    let bar = spinner("rendering bundles");
    for image in images {
        bar.set_message(format!("rendering {image}"));
        let r = parse_image(&image)
            .map_err(|e| e.with_context(format!("{name} names an unusable image")))?;
        let client = registries.client(&r, true)?;
        let pulled = catalog_image::pull_bundle(&client, &r, &l)
            .await
            .map_err(|e| image_error(e).with_context(format!("pulling {image}")))?;
        let options = RenderOptions {
            image: Some(image.clone()),
            image_template: None,
            form: ObjectForm::CsvMetadata,
        };
        let files = pulled.files;
        let one = blocking(move || render_local_bundle(&files, &options))
            .await
            .map_err(|e| e.with_context(format!("rendering {image}")))?;
        warn_all(&one.warnings);
        rendered.insert(image, one);
    }
    bar.finish_and_clear();
    let format: Format = args.output.into();
    let catalog = blocking(move || {
        let mut source = |image: &str| {
            rendered.get(image).cloned().ok_or_else(|| {
                CatalogError::Template(format!("bundle image {image} was not rendered"))
            })
        };
        olm_catalog::template::expand(&text, &mut source, &l).map_err(catalog_error)
    })
    .await?;
    print_text(&olm_catalog::to_text(&catalog, format));
    Ok(Exit::Success)
}

// ------------------------------------------------------------------------------------------------
// add

/// Renders the bundle of `omps catalog add`: pulled from an image, or read from a local bundle
/// directory or zip (its image given with --image, which the catalog needs).
async fn add_rendered(args: &AddArgs) -> Result<Rendered, CliError> {
    let l = limits();
    let local = |files: FileSet, what: String| -> Result<Rendered, CliError> {
        let image = args.image.clone().ok_or_else(|| {
            CliError::usage(format!(
                "{what} is a local bundle: give its image reference with --image (a catalog entry needs one)"
            ))
        })?;
        parse_image(&image)?;
        match olm_catalog::classify_files(&files, &l) {
            DirKind::Bundle => {}
            DirKind::PackageManifests => {
                return Err(CliError::invalid(format!(
                    "{what} holds package manifests, not a bundle"
                ))
                .with_hint("convert it into bundles with `omps bundle convert`, or migrate it with `omps catalog migrate`"));
            }
            _ => {
                return Err(CliError::invalid(format!(
                    "{what} is not a bundle (no manifests/ and metadata/); a catalog is not added to a catalog"
                )));
            }
        }
        render_local_bundle(
            &files,
            &RenderOptions {
                image: Some(image),
                image_template: None,
                form: ObjectForm::CsvMetadata,
            },
        )
    };
    match input(&args.bundle)? {
        Input::Dir(d) => {
            let files = FileSet::from_dir(&d, &l).map_err(catalog_error)?;
            local(files, d.display().to_string())
        }
        Input::Zip(z) => local(read_zip(&z)?, z.display().to_string()),
        Input::File(f) => Err(CliError::invalid(format!(
            "{}: a single file is not a bundle (give a bundle directory, zip or image)",
            f.display()
        ))),
        Input::Image(r) => {
            if args.image.is_some() {
                return Err(CliError::usage(
                    "--image is for a local --bundle; an image bundle is recorded under its own reference",
                ));
            }
            let client = Registries::new(&args.registry).client(&r, true)?;
            let bar = spinner(&format!("pulling {r}"));
            let pulled = catalog_image::pull_bundle(&client, &r, &l).await;
            bar.finish_and_clear();
            let pulled = pulled.map_err(image_error)?;
            let options = RenderOptions {
                image: Some(r.to_string()),
                image_template: None,
                form: ObjectForm::CsvMetadata,
            };
            blocking(move || render_local_bundle(&pulled.files, &options)).await
        }
    }
}

async fn add(args: AddArgs) -> Result<Exit, CliError> {
    let dir = args.catalog.clone();
    if dir.exists() && !dir.is_dir() {
        return Err(CliError::usage(format!(
            "{}: not a directory (the catalog to add to is a directory)",
            dir.display()
        )));
    }
    // Read the catalog first: a wrong catalog argument fails before any pull.
    let (files, mut catalog) = if dir.exists() {
        let d = dir.clone();
        blocking(move || load_catalog_dir(&d)).await?
    } else {
        (FileSet::new(), Catalog::default())
    };
    let rendered = add_rendered(&args).await?;
    warn_all(&rendered.warnings);
    let options = AddOptions {
        channels: args.channels.clone(),
        placement: if args.semver_chain {
            Placement::SemverChain
        } else {
            Placement::FromCsv
        },
    };
    let format: Format = args.format.into();
    let ((report, bundle), update) = blocking(move || {
        let report =
            olm_catalog::add_bundle(&mut catalog, &rendered, &options).map_err(catalog_error)?;
        let package = rendered.bundle.package.clone();
        // Only the edited package must be valid: a broken neighbour is not this command's.
        olm_catalog::validate(&catalog.only_package(&package)).map_err(|e| {
            catalog_error(e).with_context(format!(
                "adding {} would leave package {package} invalid; nothing written",
                rendered.bundle.name
            ))
        })?;
        let update = olm_catalog::update_package(&files, &catalog, &package, format, &limits())
            .map_err(catalog_error)?;
        Ok(((report, rendered.bundle), update))
    })
    .await?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::input(format!("cannot create {}: {e}", dir.display())))?;
    update.apply(&dir).map_err(catalog_error)?;
    let doc = json!({
        "result": "success",
        "catalog": dir.display().to_string(),
        "package": bundle.package,
        "bundle": bundle.name,
        "image": bundle.image,
        "package_created": report.package_created,
        "bundle_replaced": report.bundle_replaced,
        "channels": report.channels,
        "channels_created": report.channels_created,
        "files": update.paths(),
    });
    print_report(args.output, &doc, || {
        format!(
            "added {} ({}) to package {} in channels {}{}\n",
            bundle.name,
            bundle.image,
            bundle.package,
            report.channels.join(", "),
            if report.bundle_replaced {
                " (replacing the bundle of the same name)"
            } else {
                ""
            }
        )
    });
    Ok(Exit::Success)
}

// ------------------------------------------------------------------------------------------------
// push

fn parse_labels(labels: &[String]) -> Result<BTreeMap<String, String>, CliError> {
    labels
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err(CliError::usage(format!(
                "--label {l:?}: expected KEY=VALUE"
            ))),
        })
        .collect()
}

async fn push(args: PushArgs) -> Result<Exit, CliError> {
    let target = parse_image(&args.image)?;
    catalog_image::push_tag(&target).map_err(image_error)?;
    let labels = parse_labels(&args.labels)?;
    let base = if args.base == "scratch" {
        None
    } else {
        Some(parse_image(&args.base).map_err(|e| e.with_context("--base"))?)
    };
    if !args.catalog.is_dir() {
        return Err(CliError::input(format!(
            "{}: not a directory (push takes a catalog directory)",
            args.catalog.display()
        )));
    }
    let dir = args.catalog.clone();
    let (_, catalog) = blocking(move || load_catalog_dir(&dir)).await?;
    let mut registries = Registries::new(&args.registry);
    let client = registries.client(&target, true)?;
    // The base gets the credentials only on the target's own registry, and plain HTTP only
    // there or on this machine: the default base lives on a public HTTPS registry.
    let base_client = match &base {
        Some(b) => {
            let same = b.registry == target.registry;
            let plain = args.registry.plain_http
                && (same || b.registry.as_deref().is_some_and(is_loopback));
            Some(registries.client_with(b, same, plain)?)
        }
        None => None,
    };
    let base_ref = match (&base, &base_client) {
        (Some(reference), Some(client)) => BaseRef::Image { client, reference },
        _ => BaseRef::Scratch,
    };
    let bar = spinner("building the catalog image");
    let progress = {
        let bar = bar.clone();
        move |step: &str| bar.set_message(step.to_owned())
    };
    let pushed = catalog_image::push_catalog_with_progress(
        &client,
        &target,
        &catalog,
        base_ref,
        &ImageOptions { labels },
        &progress,
    )
    .await;
    bar.finish_and_clear();
    let pushed = pushed.map_err(|e| {
        let invalid = matches!(&e, CatalogImageError::Catalog(_));
        let e = image_error(e);
        if invalid {
            return e.with_context(format!(
                "{} is not a valid catalog; nothing pushed",
                args.catalog.display()
            ));
        }
        let e = e.with_context(format!("pushing {target} failed"));
        if args.base == DEFAULT_BASE && e.exit() == Exit::Unreachable {
            let ours = format!(
                "the default base image is {DEFAULT_BASE}; without access to it give --base IMAGE, or --base scratch for none"
            );
            let hint = e.hint().map_or(ours.clone(), |h| format!("{h}; {ours}"));
            e.with_hint(hint)
        } else {
            e
        }
    })?;
    let tag = catalog_image::push_tag(&target).map_err(image_error)?;
    let reference = format!(
        "{}/{}:{tag}",
        target.registry.as_deref().unwrap_or_default(),
        target.repository
    );
    let doc = json!({
        "result": "success",
        "reference": reference,
        "digest": pushed.digest,
        "media_type": pushed.media_type,
        "platforms": pushed.platforms,
        "layer_digest": pushed.layer_digest,
        "base": base.as_ref().map_or_else(|| "scratch".to_owned(), ToString::to_string),
        "packages": catalog.package_names(),
    });
    print_report(args.output, &doc, || {
        format!("pushed {reference}@{}\n", pushed.digest)
    });
    Ok(Exit::Success)
}

// ------------------------------------------------------------------------------------------------
// pull

async fn pull(args: PullArgs) -> Result<Exit, CliError> {
    let r = parse_image(&args.image)?;
    fresh_dir(&args.dir)?;
    let client = Registries::new(&args.registry).client(&r, true)?;
    let bar = spinner(&format!("pulling {r}"));
    let pulled = catalog_image::pull_catalog(&client, &r, &limits()).await;
    bar.finish_and_clear();
    let pulled = pulled.map_err(|e| {
        let bundle = matches!(&e, CatalogImageError::NotACatalog(m) if m.contains("bundle image"));
        let e = image_error(e);
        if bundle {
            e.with_hint(format!("render it with `omps catalog render {r}`"))
        } else {
            e
        }
    })?;
    std::fs::create_dir_all(&args.dir)
        .map_err(|e| CliError::input(format!("cannot create {}: {e}", args.dir.display())))?;
    pulled
        .files
        .write_to(&args.dir)
        .map_err(|e| CliError::input(format!("cannot write the catalog: {e}")))?;
    let files: Vec<&str> = pulled.files.iter().map(|(p, _)| p).collect();
    let doc = json!({
        "result": "success",
        "reference": r.to_string(),
        "digest": pulled.digest,
        "configs_dir": pulled.configs_dir,
        "dir": args.dir.display().to_string(),
        "files": files,
        "packages": pulled.catalog.package_names(),
    });
    print_report(args.output, &doc, || {
        format!(
            "pulled {r}@{} into {} ({} files, {} packages)\n",
            pulled.digest,
            args.dir.display(),
            files.len(),
            pulled.catalog.package_names().len()
        )
    });
    Ok(Exit::Success)
}

// ------------------------------------------------------------------------------------------------
// graph

async fn graph(args: GraphArgs) -> Result<Exit, CliError> {
    let (catalog, _) = load_any(&args.catalog, &args.registry).await?;
    if let Some(p) = &args.package {
        if !catalog.package_names().iter().any(|n| n == p) {
            let names = catalog.package_names();
            return Err(CliError::invalid(format!(
                "{}: no package {p:?} (packages: {})",
                args.catalog,
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            )));
        }
    }
    let graphs = upgrade_graphs(&catalog, args.package.as_deref());
    print_text(&match args.format {
        GraphFormat::Mermaid => to_mermaid(&graphs),
        GraphFormat::Dot => to_dot(&graphs),
    });
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_paths_when_they_exist_and_images_otherwise() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(
            input(tmp.path().to_str().unwrap()).unwrap(),
            Input::Dir(_)
        ));
        let zip = tmp.path().join("a.zip");
        std::fs::write(&zip, b"PK\x03\x04rest").unwrap();
        assert!(matches!(
            input(zip.to_str().unwrap()).unwrap(),
            Input::Zip(_)
        ));
        let file = tmp.path().join("c.json");
        std::fs::write(&file, b"{}").unwrap();
        assert!(matches!(
            input(file.to_str().unwrap()).unwrap(),
            Input::File(_)
        ));
        match input("127.0.0.1:5000/ns/cat:v1").unwrap() {
            Input::Image(r) => assert_eq!(r.to_string(), "127.0.0.1:5000/ns/cat:v1"),
            other => panic!("{other:?}"),
        }
        let e = input("./missing-dir").unwrap_err();
        assert_eq!(e.exit().code(), 2);
        assert_eq!(e.to_string(), "./missing-dir: no such file or directory");
        let e = input("missing.example").unwrap_err();
        assert!(
            e.to_string().starts_with(
                "missing.example: no such file or directory, and not an image reference"
            ),
            "{e}"
        );
        // A bare name is not an image: no implicit default registry.
        assert!(input("catalog").is_err());
    }

    #[test]
    fn labels_and_errors_map_onto_the_table() {
        let l = parse_labels(&["a=1".into(), "b=x=y".into(), "c=".into()]).unwrap();
        assert_eq!(l["a"], "1");
        assert_eq!(l["b"], "x=y");
        assert_eq!(l["c"], "");
        assert_eq!(parse_labels(&["=1".into()]).unwrap_err().exit().code(), 2);
        assert_eq!(parse_labels(&["k".into()]).unwrap_err().exit().code(), 2);
        let io = CatalogError::Io {
            path: "x".into(),
            source: std::io::Error::other("gone"),
        };
        assert_eq!(catalog_error(io).exit().code(), 2);
        assert_eq!(
            catalog_error(CatalogError::Model("m".into())).exit().code(),
            1
        );
        assert_eq!(
            image_error(CatalogImageError::NotACatalog("n".into()))
                .exit()
                .code(),
            1
        );
        assert_eq!(
            image_error(CatalogImageError::InvalidReference("r".into()))
                .exit()
                .code(),
            2
        );
    }

    #[test]
    fn reports_print_as_yaml_with_sorted_keys() {
        let y =
            json_as_yaml(&json!({"result": "success", "files": ["a/catalog.json"], "bundles": 2}));
        assert_eq!(y, "bundles: 2\nfiles:\n- a/catalog.json\nresult: success\n");
    }
}
