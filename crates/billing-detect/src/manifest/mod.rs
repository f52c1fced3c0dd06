//! Parsers for the manifests `detect` reads. Each returns plain data with line numbers and
//! never fails hard: a malformed file yields a [`Problem`] and whatever could be read.

pub mod gomod;
pub mod json;
pub mod node;
pub mod php;
pub mod python;
pub mod ruby;
pub mod tsconfig;
pub mod yaml;

/// A declared dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub name: String,
    /// Requirement as written ("^15.1.0", ">=0.4", "workspace:*", "catalog:"), maybe empty.
    pub spec: String,
    /// File that declares it (root-relative) and line.
    pub file: String,
    pub line: u32,
    /// The declaring line, trimmed (evidence text).
    pub text: String,
    /// Only needed for development (devDependencies, dev groups).
    pub dev: bool,
}

/// A syntax problem in a manifest, reported as a warning with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}
