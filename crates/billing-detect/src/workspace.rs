//! Monorepo structure: which directories are workspace roots, which packages belong to them,
//! and the version catalogs they define (pnpm `catalog:`, bun `workspaces.catalog`).

use std::collections::HashMap;
use std::path::PathBuf;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::manifests::Manifests;
use crate::profile::WorkspaceInfo;
use crate::scan::Scan;
use crate::text::{join_rel, strip_dir};

#[derive(Debug)]
pub struct Workspace {
    /// Root directory (root-relative).
    pub root: String,
    /// How it is declared, e.g. "pnpm-workspace.yaml + turbo.json".
    pub kind: String,
    pub ecosystem: Ecosystem,
    include: GlobSet,
    exclude: GlobSet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ecosystem {
    Node,
    Python,
    Go,
}

#[derive(Debug, Default)]
pub struct Workspaces {
    pub list: Vec<Workspace>,
    /// Workspace package names → absolute directories (for tsconfig `extends`).
    pub node_packages: HashMap<String, PathBuf>,
}

fn globset(patterns: &[String]) -> GlobSet {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let p = p.trim().trim_start_matches("./").trim_end_matches('/');
        if p.is_empty() {
            continue;
        }
        if let Ok(g) = GlobBuilder::new(p).literal_separator(true).build() {
            b.add(g);
        }
    }
    b.build().unwrap_or_else(|_| GlobSet::empty())
}

fn split_negations(patterns: &[String]) -> (Vec<String>, Vec<String>) {
    let mut inc = Vec::new();
    let mut exc = Vec::new();
    for p in patterns {
        match p.strip_prefix('!') {
            Some(n) => exc.push(n.to_owned()),
            None => inc.push(p.clone()),
        }
    }
    (inc, exc)
}

pub fn discover(scan: &Scan<'_>, m: &Manifests) -> Workspaces {
    let mut ws = Workspaces::default();
    let orchestrators = |dir: &str| -> String {
        ["turbo.json", "nx.json", "lerna.json"]
            .iter()
            .filter(|f| scan.inv.has_file(&join_rel(dir, f)))
            .map(|f| format!(" + {f}"))
            .collect()
    };
    let mut add = |root: &str, kind: String, eco: Ecosystem, patterns: &[String]| {
        let (inc, exc) = split_negations(patterns);
        ws.list.push(Workspace {
            root: root.to_owned(),
            kind,
            ecosystem: eco,
            include: globset(&inc),
            exclude: globset(&exc),
        });
    };
    for (dir, pnpm) in &m.pnpm_workspace {
        add(
            dir,
            format!("pnpm-workspace.yaml{}", orchestrators(dir)),
            Ecosystem::Node,
            &pnpm.packages,
        );
    }
    for (dir, pkg) in &m.package_json {
        if m.pnpm_workspace.contains_key(dir) {
            continue;
        }
        if let Some((globs, _)) = &pkg.workspaces {
            add(
                dir,
                format!("package.json workspaces{}", orchestrators(dir)),
                Ecosystem::Node,
                globs,
            );
        }
    }
    for (dir, py) in &m.pyproject {
        if let Some((members, _)) = &py.uv_workspace {
            add(dir, "uv workspace".to_owned(), Ecosystem::Python, members);
        }
    }
    for (dir, uses) in &m.go_work {
        add(dir, "go.work".to_owned(), Ecosystem::Go, uses);
    }
    for (dir, pkg) in &m.package_json {
        if let Some(name) = &pkg.name {
            ws.node_packages.insert(name.clone(), scan.abs(dir));
        }
    }
    // Innermost roots first, so `for_dir` finds the nearest workspace.
    ws.list
        .sort_by(|a, b| b.root.len().cmp(&a.root.len()).then(a.root.cmp(&b.root)));
    ws
}

impl Workspaces {
    /// The workspace that `dir` is the root of, or a member of.
    pub fn for_dir(&self, dir: &str, eco: Ecosystem) -> Option<&Workspace> {
        self.list.iter().filter(|w| w.ecosystem == eco).find(|w| {
            if w.root == dir {
                return true;
            }
            let Some(rel) = strip_dir(dir, &w.root) else {
                return false;
            };
            w.include.is_match(rel) && !w.exclude.is_match(rel)
        })
    }

    pub fn info(&self, dir: &str, eco: Ecosystem) -> Option<WorkspaceInfo> {
        self.for_dir(dir, eco).map(|w| WorkspaceInfo {
            root: w.root.clone(),
            kind: w.kind.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_globs_do_not_cross_directories() {
        let w = Workspace {
            root: ".".into(),
            kind: "x".into(),
            ecosystem: Ecosystem::Node,
            include: globset(&["apps/*".into(), "packages/**".into()]),
            exclude: globset(&["packages/legacy".into()]),
        };
        let all = Workspaces {
            list: vec![w],
            node_packages: HashMap::new(),
        };
        assert!(all.for_dir("apps/web", Ecosystem::Node).is_some());
        assert!(all.for_dir("apps/web/nested", Ecosystem::Node).is_none());
        assert!(all.for_dir("packages/a/b", Ecosystem::Node).is_some());
        assert!(all.for_dir("packages/legacy", Ecosystem::Node).is_none());
        assert!(all.for_dir(".", Ecosystem::Node).is_some());
        assert!(all.for_dir("apps/web", Ecosystem::Python).is_none());
    }
}
