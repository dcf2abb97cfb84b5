//! Access-map and relay tests, one file per concern.

use std::path::Path;

use crate::AccessMap;

mod errors;
mod lookup;
mod relay;
mod values;

/// Parses a map that must be valid, named `access` in errors.
fn map(text: &str) -> AccessMap {
    match AccessMap::parse(text, Path::new("access")) {
        Ok(map) => map,
        Err(errors) => panic!("map should parse:\n{errors}"),
    }
}
