//! Go, PHP (Laravel) and Ruby (Rails) packages. Their evidence is read line by line: the
//! constructions we look for (`gin.Default()`, `artisan`, `config/application.rb`) are
//! unambiguous enough that a syntax tree adds nothing.

use std::collections::HashSet;

use super::common::{
    FrameworkBuilder, GO_INTEGRATIONS, PHP_INTEGRATIONS, RUBY_INTEGRATIONS, evidence, integrations,
};
use super::sources::package_sources;
use crate::manifest::Dependency;
use crate::manifest::gomod::GoMod;
use crate::manifests::Manifests;
use crate::profile::{
    CallSite, CallSiteKind, Confidence, FrameworkId, Language, Package, PackageManager,
    PackageManagerInfo,
};
use crate::scan::Scan;
use crate::text::{file_name, join_rel, line_text, strip_dir};
use crate::workspace::{Ecosystem, Workspaces};
use billing_vocab::{FrameworkInfo, LanguageFamily};

fn base_package(dir: &str, language: Language) -> Package {
    Package {
        path: dir.to_owned(),
        name: None,
        language,
        module_system: None,
        package_manager: None,
        frameworks: Vec::new(),
        src_dir: false,
        aliases: Vec::new(),
        integrations: Vec::new(),
        call_sites: Vec::new(),
        not_billed: Vec::new(),
        env_vars: Vec::new(),
        workspace: None,
        tsconfig: None,
        manifests: Vec::new(),
        sample_of: None,
        user_key: None,
    }
}

/// Go routers: registry entries with a module path prefix (`packages`) and what constructs
/// them (`markers`). net/http, the standard library, has markers only.
fn go_routers() -> Vec<&'static FrameworkInfo> {
    FrameworkId::of_family(LanguageFamily::Go)
        .filter(|f| !f.detection.packages.is_empty())
        .collect()
}
const GO_ROUTE_MARKERS: &[&str] = &[
    ".GET(",
    ".POST(",
    ".PUT(",
    ".PATCH(",
    ".DELETE(",
    ".Get(",
    ".Post(",
    ".Put(",
    ".Patch(",
    ".Delete(",
    "HandleFunc(",
    ".Handle(",
];

pub fn analyze_go(
    scan: &mut Scan<'_>,
    dir: &str,
    gomod: &GoMod,
    workspaces: &Workspaces,
    package_dirs: &HashSet<String>,
) -> Package {
    let file = join_rel(dir, "go.mod");
    let mut pkg = base_package(dir, Language::Go);
    pkg.name = gomod.module.as_ref().map(|(m, _)| m.clone());
    pkg.manifests = vec![file.clone()];
    let router_entries = go_routers();
    let mut builders: Vec<FrameworkBuilder> = Vec::new();
    for info in &router_entries {
        let mut b = FrameworkBuilder::new(info.framework);
        if let Some(dep) = gomod.requires.iter().find(|d| {
            info.detection
                .packages
                .iter()
                .any(|module| d.name.starts_with(module))
        }) {
            b.declare(dep, &dep.spec);
        }
        builders.push(b);
    }
    let nethttp_markers = FrameworkId::GoNethttp.info().detection.markers;
    let mut nethttp = FrameworkBuilder::new(FrameworkId::GoNethttp);
    let sources = package_sources(scan, dir, package_dirs, &["go"], |rel| {
        file_name(rel) == "main.go"
    });
    for f in &sources {
        let Some(src) = scan.read_source(f) else {
            continue;
        };
        let mut first_route: Option<(u32, String)> = None;
        for (i, line) in src.lines().enumerate() {
            let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let code = line.split("//").next().unwrap_or("");
            for (b, info) in builders.iter_mut().zip(&router_entries) {
                if info.detection.markers.iter().any(|m| code.contains(m)) {
                    b.confirm(evidence(f, Some(n), line_text(&src, n)));
                    if b.details.entry_file.is_none() {
                        b.details.entry_file = Some(f.clone());
                        b.details.app_variable = go_assigned(code);
                    }
                }
            }
            if nethttp_markers.iter().any(|m| code.contains(m)) && nethttp.evidence.len() < 3 {
                nethttp.confirm(evidence(f, Some(n), line_text(&src, n)));
                if nethttp.details.entry_file.is_none() {
                    nethttp.details.entry_file = Some(f.clone());
                    nethttp.details.app_variable = go_assigned(code);
                }
            }
            if first_route.is_none()
                && let Some(m) = GO_ROUTE_MARKERS.iter().find(|m| code.contains(*m))
                && code.contains("\"/")
            {
                first_route = Some((n, m.trim_matches(['.', '(']).to_owned()));
            }
        }
        if let Some((line, callee)) = first_route {
            pkg.call_sites.push(CallSite {
                kind: CallSiteKind::RouteHandler,
                file: f.clone(),
                line,
                column: 1,
                callee,
            });
        }
    }
    let routers: Vec<_> = builders
        .into_iter()
        .filter_map(FrameworkBuilder::build)
        .collect();
    // net/http is the framework only when no router library is in use; `declared` is
    // implied by the standard library.
    if routers.is_empty() && nethttp.confirmed {
        nethttp.declared = true;
        nethttp.details.module_path = pkg.name.clone();
        pkg.frameworks.extend(nethttp.build());
    }
    pkg.frameworks.extend(routers.into_iter().map(|mut f| {
        f.details.module_path = pkg.name.clone();
        f
    }));
    let deps: Vec<(Dependency, String)> = gomod
        .requires
        .iter()
        .map(|d| (d.clone(), d.spec.clone()))
        .collect();
    pkg.integrations = integrations(&deps, GO_INTEGRATIONS);
    pkg.package_manager = Some(PackageManagerInfo {
        id: PackageManager::Go,
        evidence: vec![evidence(
            &file,
            gomod.module.as_ref().map(|(_, l)| *l),
            "go.mod",
        )],
        confidence: Confidence::High,
    });
    pkg.workspace = workspaces.info(dir, Ecosystem::Go);
    pkg
}

/// `r := gin.Default()` → "r".
fn go_assigned(code: &str) -> Option<String> {
    let (left, _) = code.split_once(":=").or_else(|| code.split_once(" = "))?;
    let name = left.trim().trim_start_matches("var ").trim();
    (!name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_'))
        .then(|| name.to_owned())
}

pub fn analyze_php(scan: &mut Scan<'_>, dir: &str, manifests: &Manifests) -> Package {
    let file = join_rel(dir, "composer.json");
    let composer = manifests.composer.get(dir);
    let mut pkg = base_package(dir, Language::Php);
    pkg.manifests = vec![file.clone()];
    pkg.name = composer.and_then(|c| c.name.clone());
    let requires = composer.map(|c| c.requires.as_slice()).unwrap_or_default();
    let laravel = FrameworkId::Laravel.info();
    let mut b = FrameworkBuilder::new(laravel.framework);
    if let Some(dep) = requires
        .iter()
        .find(|d| laravel.detection.packages.contains(&d.name.as_str()))
    {
        b.declare(dep, &dep.spec);
    }
    for name in laravel.detection.files {
        let file = join_rel(dir, name);
        if scan.inv.has_file(&file) {
            b.confirm(evidence(&file, None, *name));
        }
    }
    if b.declared || b.confirmed {
        for routes in ["routes/api.php", "routes/web.php"] {
            let f = join_rel(dir, routes);
            if scan.inv.has_file(&f)
                && let Some(src) = scan.read_source(&f)
                && let Some((line, callee)) = first_line_with(&src, &["Route::"])
            {
                pkg.call_sites.push(CallSite {
                    kind: CallSiteKind::RouteHandler,
                    file: f,
                    line,
                    column: 1,
                    callee,
                });
            }
        }
    }
    pkg.frameworks.extend(b.build());
    let deps: Vec<(Dependency, String)> = requires
        .iter()
        .map(|d| (d.clone(), d.spec.clone()))
        .collect();
    pkg.integrations = integrations(&deps, PHP_INTEGRATIONS);
    let lock = join_rel(dir, "composer.lock");
    pkg.package_manager = Some(if scan.inv.has_file(&lock) {
        PackageManagerInfo {
            id: PackageManager::Composer,
            evidence: vec![evidence(&lock, None, "lockfile")],
            confidence: Confidence::High,
        }
    } else {
        PackageManagerInfo {
            id: PackageManager::Composer,
            evidence: vec![evidence(&file, None, "composer.json")],
            confidence: Confidence::Medium,
        }
    });
    pkg
}

pub fn analyze_ruby(
    scan: &mut Scan<'_>,
    dir: &str,
    manifests: &Manifests,
    package_dirs: &HashSet<String>,
) -> Package {
    let file = join_rel(dir, "Gemfile");
    let gems = manifests
        .gemfile
        .get(dir)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut pkg = base_package(dir, Language::Ruby);
    pkg.manifests = vec![file.clone()];
    let lock = join_rel(dir, "Gemfile.lock");
    let lock_text = if scan.inv.has_file(&lock) {
        scan.read(&lock)
    } else {
        None
    };
    let rails = FrameworkId::Rails.info();
    let mut b = FrameworkBuilder::new(rails.framework);
    if let Some(dep) = gems
        .iter()
        .find(|d| rails.detection.packages.contains(&d.name.as_str()))
    {
        let locked = lock_text
            .as_deref()
            .and_then(|t| crate::manifest::ruby::locked_version(t, &dep.name));
        b.declare(dep, locked.as_deref().unwrap_or(&dep.spec));
    }
    for name in rails.detection.files {
        let app = join_rel(dir, name);
        if scan.inv.has_file(&app)
            && let Some(src) = scan.read(&app)
            && let Some((line, _)) = first_line_with(&src, rails.detection.markers)
        {
            b.confirm(evidence(&app, Some(line), line_text(&src, line)));
        }
    }
    if b.declared || b.confirmed {
        let controllers = join_rel(dir, "app/controllers");
        let files = package_sources(scan, dir, package_dirs, &["rb"], |_| false);
        for f in files
            .iter()
            .filter(|f| f.starts_with(&format!("{controllers}/")))
        {
            if let Some(src) = scan.read_source(f)
                && let Some((line, callee)) = first_line_with(&src, &["def "])
            {
                pkg.call_sites.push(CallSite {
                    kind: CallSiteKind::RouteHandler,
                    file: f.clone(),
                    line,
                    column: 1,
                    callee,
                });
            }
        }
        let _ = strip_dir;
    }
    pkg.frameworks.extend(b.build());
    let deps: Vec<(Dependency, String)> =
        gems.iter().map(|d| (d.clone(), d.spec.clone())).collect();
    pkg.integrations = integrations(&deps, RUBY_INTEGRATIONS);
    pkg.package_manager = Some(if lock_text.is_some() {
        PackageManagerInfo {
            id: PackageManager::Bundler,
            evidence: vec![evidence(&lock, None, "lockfile")],
            confidence: Confidence::High,
        }
    } else {
        PackageManagerInfo {
            id: PackageManager::Bundler,
            evidence: vec![evidence(&file, None, "Gemfile")],
            confidence: Confidence::Medium,
        }
    });
    pkg
}

/// First line containing one of `needles`: (line, trimmed text).
fn first_line_with(src: &str, needles: &[&str]) -> Option<(u32, String)> {
    src.lines().enumerate().find_map(|(i, l)| {
        needles.iter().any(|n| l.contains(n)).then(|| {
            let t = l.trim();
            let callee: String = t.chars().take_while(|c| !matches!(c, '(' | ' ')).collect();
            let callee = callee.trim_start_matches("def").to_owned();
            let callee = if callee.is_empty() {
                t.trim_start_matches("def ")
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect()
            } else {
                callee
            };
            (u32::try_from(i + 1).unwrap_or(u32::MAX), callee)
        })
    })
}
