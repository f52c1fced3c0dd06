//! `detect`: project directory → [`ProjectProfile`].
//!
//! Reads manifests, lockfiles and a bounded sample of source files; never writes anything.
//! The profile is plain data consumed by planning, code generation, call-site wiring, the
//! setup wizard and the MCP server, so its shape is a contract: see [`profile`].

pub mod callsites;
#[cfg(test)]
mod fixture_tests;
pub mod gates;
pub mod manifest;
mod manifests;
#[cfg(test)]
mod no_panic_tests;
pub mod profile;
mod scan;
pub mod source_walk;
pub mod text;
pub mod walk;
mod workspace;

pub use analyze::sources::example_root;
pub use profile::*;

use std::path::Path;

/// Knobs for a detection run. `Default` is what the CLI uses.
#[derive(Debug, Clone)]
pub struct DetectOptions {
    /// Files larger than this are not read (noted in `ProjectProfile::notes`).
    pub max_file_bytes: u64,
    /// At most this many source files are read for evidence and call sites (whole run).
    pub max_source_files: usize,
    /// At most this many bytes of source are read (whole run).
    pub max_source_bytes: u64,
    /// Run `git status` for the dirty-tree warning.
    pub check_git: bool,
}

impl Default for DetectOptions {
    fn default() -> Self {
        Self {
            max_file_bytes: 1024 * 1024,
            max_source_files: 4000,
            max_source_bytes: 48 * 1024 * 1024,
            check_git: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("`{path}` does not exist or is not a directory")]
    NotADirectory { path: String },
    #[error("failed to read `{path}`")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

mod analyze;
mod env;
mod preflight;
pub mod summary;

/// Detects every package under `root`. Problems with individual files become warnings or
/// notes in the profile; only an unusable `root` is an error.
///
/// The run only lists the tree and reads manifests plus a bounded number of source files,
/// so calling it again (e.g. to check a plan for drift) is cheap.
pub fn detect(root: &Path, options: &DetectOptions) -> Result<ProjectProfile, DetectError> {
    if !root.is_dir() {
        return Err(DetectError::NotADirectory {
            path: root.display().to_string(),
        });
    }
    // Canonical, so `..` and symlinks in the argument do not leak into relative paths.
    let root = root.canonicalize().map_err(|source| DetectError::Io {
        path: root.display().to_string(),
        source,
    })?;
    let inv = walk::inventory(&root);
    let mut scan = scan::Scan::new(root.clone(), &inv, options);
    let manifests = manifests::load(&mut scan);
    let workspaces = workspace::discover(&scan, &manifests);
    let mut packages = analyze::packages(&mut scan, &manifests, &workspaces);

    // `.env*` names: each package's own files; files at the root also apply to every
    // package of a monorepo whose root is not itself a package.
    let root_vars = env::spaire_vars(&mut scan, ".");
    let root_is_package = packages.iter().any(|p| p.path == ".");
    for pkg in &mut packages {
        if pkg.path != "." {
            pkg.env_vars = env::spaire_vars(&mut scan, &pkg.path);
        }
        if pkg.path == "." || !root_is_package {
            pkg.env_vars.extend(root_vars.iter().cloned());
        }
    }
    packages.sort_by(|a, b| a.path.cmp(&b.path));

    let mut warnings = std::mem::take(&mut scan.warnings);
    warnings.extend(preflight::warnings(&mut scan));
    let mut notes = std::mem::take(&mut scan.notes);
    notes.sort();
    notes.dedup();
    Ok(ProjectProfile {
        schema_version: SCHEMA_VERSION,
        root: root.display().to_string(),
        packages,
        warnings,
        notes,
    })
}
