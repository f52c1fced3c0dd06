//! Every manifest in the inventory, parsed once up front (they are few and small), so
//! workspace membership, catalogs and package names are known before packages are analysed.

use std::collections::BTreeMap;

use crate::manifest::gomod::{self, GoMod};
use crate::manifest::node::{self, PackageJson};
use crate::manifest::php::{self, Composer};
use crate::manifest::python::{self, PyProject};
use crate::manifest::ruby;
use crate::manifest::yaml::{self, PnpmWorkspace};
use crate::manifest::{Dependency, Problem};
use crate::scan::Scan;
use crate::text::{file_name, parent_rel};

/// Parsed manifests keyed by their directory (root-relative, "." for the root).
#[derive(Debug, Default)]
pub struct Manifests {
    pub package_json: BTreeMap<String, PackageJson>,
    pub pyproject: BTreeMap<String, PyProject>,
    pub pipfile: BTreeMap<String, Vec<Dependency>>,
    pub pnpm_workspace: BTreeMap<String, PnpmWorkspace>,
    pub go_mod: BTreeMap<String, GoMod>,
    pub go_work: BTreeMap<String, Vec<String>>,
    pub composer: BTreeMap<String, Composer>,
    pub gemfile: BTreeMap<String, Vec<Dependency>>,
    /// Directories whose manifest of that kind exists but could not be parsed at all.
    pub unparsable: Vec<String>,
}

pub fn load(scan: &mut Scan<'_>) -> Manifests {
    let mut m = Manifests::default();
    let files: Vec<String> = scan
        .inv
        .files
        .iter()
        .filter(|f| {
            matches!(
                file_name(f),
                "package.json"
                    | "pyproject.toml"
                    | "Pipfile"
                    | "pnpm-workspace.yaml"
                    | "go.mod"
                    | "go.work"
                    | "composer.json"
                    | "Gemfile"
            )
        })
        .cloned()
        .collect();
    for file in files {
        let Some(text) = scan.read(&file) else {
            continue;
        };
        let dir = parent_rel(&file).to_owned();
        let report = |scan: &mut Scan<'_>, problem: Option<Problem>, parsed: bool| {
            if let Some(p) = problem {
                let consequence = if parsed {
                    "read it leniently; the tools that use this file will reject it"
                } else {
                    "skipped this file, detection continued without it"
                };
                scan.malformed(p, consequence);
            }
        };
        match file_name(&file) {
            "package.json" => {
                let (pkg, problem) = node::parse(&file, &text);
                report(scan, problem, pkg.is_some());
                match pkg {
                    Some(p) => {
                        m.package_json.insert(dir, p);
                    }
                    None => m.unparsable.push(file.clone()),
                }
            }
            "pyproject.toml" => {
                let (py, problem) = python::parse_pyproject(&file, &text);
                report(scan, problem, py.is_some());
                match py {
                    Some(p) => {
                        m.pyproject.insert(dir, p);
                    }
                    None => m.unparsable.push(file.clone()),
                }
            }
            "Pipfile" => {
                let (deps, problem) = python::parse_pipfile(&file, &text);
                let ok = problem.is_none();
                report(scan, problem, false);
                if ok {
                    m.pipfile.insert(dir, deps);
                } else {
                    m.unparsable.push(file.clone());
                }
            }
            "pnpm-workspace.yaml" => {
                let (ws, problem) = yaml::parse_pnpm_workspace(&file, &text);
                report(scan, problem, ws.is_some());
                if let Some(ws) = ws {
                    m.pnpm_workspace.insert(dir, ws);
                }
            }
            "go.mod" => {
                m.go_mod.insert(dir, gomod::parse_go_mod(&file, &text));
            }
            "go.work" => {
                m.go_work.insert(dir, gomod::parse_go_work(&text));
            }
            "composer.json" => {
                let (c, problem) = php::parse_composer(&file, &text);
                report(scan, problem, c.is_some());
                match c {
                    Some(c) => {
                        m.composer.insert(dir, c);
                    }
                    None => m.unparsable.push(file.clone()),
                }
            }
            "Gemfile" => {
                m.gemfile.insert(dir, ruby::parse_gemfile(&file, &text));
            }
            _ => {}
        }
    }
    m
}
