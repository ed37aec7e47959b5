//! The manifest-bundle crate.
