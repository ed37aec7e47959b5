#![doc = include_str!("../README.md")]

pub mod csv;
pub mod edit;
pub mod error;
pub mod graph;
pub mod ignore;
pub mod json;
pub mod layer;
pub mod limits;
pub mod load;
pub mod migrate;
pub mod model;
pub mod reference;
pub mod render;
pub mod semver;
pub mod template;
pub mod update;
pub mod validate;
pub mod write;
pub mod yaml_out;

pub use edit::{AddOptions, AddReport, Placement, add_bundle};
pub use error::CatalogError;
pub use json::{Object, Value};
pub use limits::CatalogLimits;
pub use load::{
    DirKind, FileSet, catalog_files, classify_dir, classify_files, is_bundle_dir, load_dir,
    load_files, load_text,
};
pub use migrate::{MigrateOptions, Migrated, migrate, migrate_dir};
pub use model::{
    Bundle, Catalog, Channel, ChannelEntry, Deprecation, DeprecationEntry, Icon, Meta, Package,
    PackageScopedReference, Property, RelatedImage,
};
pub use render::{ObjectForm, RenderOptions, Rendered, render_bundle, render_bundle_dir};
pub use update::{DirUpdate, update_package};
pub use validate::{Failure, Model, ValidationTree, validate};
pub use write::{Format, ordered_blobs, to_files, to_text, write_dir};
