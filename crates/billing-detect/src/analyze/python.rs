//! Python packages: dependencies from pyproject.toml, requirements*.txt (following `-r`)
//! and Pipfile; FastAPI, Flask, Django and PydanticAI; call sites.

use std::collections::HashSet;

use super::common::{FrameworkBuilder, PYTHON_INTEGRATIONS, evidence, integrations};
use super::sources::{example_root, example_sources, package_sources};
use crate::callsites::python as py_calls;
use crate::manifest::Dependency;
use crate::manifest::python::parse_requirements;
use crate::manifests::Manifests;
use crate::profile::{
    CallSite, CallSiteKind, Confidence, FrameworkId, Language, Package, PackageManager,
    PackageManagerInfo,
};
use crate::scan::Scan;
use crate::text::{file_name, join_rel, line_text, parent_rel, strip_dir};
use crate::workspace::{Ecosystem, Workspaces};

const MAX_INCLUDE_DEPTH: usize = 8;

/// Requirement files of the package at `dir`: `requirements*.txt`/`.in` in it, and
/// `requirements/*.txt`, plus everything they include with `-r`.
fn requirements(scan: &mut Scan<'_>, dir: &str) -> (Vec<Dependency>, Vec<String>) {
    let mut queue: Vec<(String, usize)> = scan
        .inv
        .files_in(dir)
        .filter(|f| file_name(f).starts_with("requirements") && f.ends_with(".txt"))
        .chain(scan.inv.files_in(&join_rel(dir, "requirements")))
        .map(|f| (f.to_owned(), 0))
        .collect();
    queue.sort();
    let mut seen: HashSet<String> = HashSet::new();
    let mut deps = Vec::new();
    let mut files = Vec::new();
    while let Some((file, depth)) = queue.pop() {
        if !seen.insert(file.clone()) || depth > MAX_INCLUDE_DEPTH {
            continue;
        }
        if !scan.exists(&file) {
            scan.notes
                .push(format!("`{file}`: included with `-r` but not found"));
            continue;
        }
        let Some(text) = scan.read(&file) else {
            continue;
        };
        files.push(file.clone());
        let parsed = parse_requirements(&file, &text);
        deps.extend(parsed.dependencies);
        for inc in parsed.includes {
            let target = crate::manifest::tsconfig::normalize(std::path::Path::new(&join_rel(
                parent_rel(&file),
                &inc,
            )));
            let target = target.to_string_lossy().replace('\\', "/");
            if target.starts_with("..") {
                continue; // outside the project
            }
            queue.push((target, depth + 1));
        }
    }
    files.sort();
    (deps, files)
}

pub struct PythonInput<'a> {
    pub dir: &'a str,
    pub manifests: &'a Manifests,
    pub workspaces: &'a Workspaces,
    pub package_dirs: &'a HashSet<String>,
}

/// The package at `input.dir`, then — when it has no app outside its sample code and
/// several samples (`examples/<name>/`, ...) have one — one package per such sample, marked
/// [`Package::sample_of`], so none is set up unless chosen.
pub fn analyze(scan: &mut Scan<'_>, input: &PythonInput<'_>) -> Vec<Package> {
    let dir = input.dir;
    let mut deps: Vec<Dependency> = Vec::new();
    let mut manifest_files = Vec::new();
    let pyproject = input.manifests.pyproject.get(dir);
    if let Some(py) = pyproject {
        deps.extend(py.dependencies.iter().cloned());
        manifest_files.push(py.file.clone());
    }
    let (req_deps, req_files) = requirements(scan, dir);
    deps.extend(req_deps);
    manifest_files.extend(req_files);
    if let Some(pip) = input.manifests.pipfile.get(dir) {
        deps.extend(pip.iter().cloned());
        manifest_files.push(join_rel(dir, "Pipfile"));
    }
    let pairs: Vec<(Dependency, String)> =
        deps.iter().map(|d| (d.clone(), d.spec.clone())).collect();
    let find = |names: &[&str]| -> Option<&Dependency> {
        deps.iter()
            .filter(|d| names.contains(&d.name.as_str()))
            .min_by_key(|d| d.dev)
    };
    // Dependency names from the registry; Django's manage.py is read below.
    let declared_builders = || {
        let mut builders: Vec<FrameworkBuilder> = Vec::new();
        for info in FrameworkId::of_family(billing_vocab::LanguageFamily::Python) {
            let mut b = FrameworkBuilder::new(info.framework);
            if let Some(d) = find(info.detection.packages) {
                b.declare(d, &d.spec);
            }
            builders.push(b);
        }
        builders
    };
    let mut builders = declared_builders();

    // Django: manage.py names the settings module (in this directory, or inside the project's
    // own Python package, see `manage_in_own_package`).
    let manage = std::iter::once(join_rel(dir, "manage.py"))
        .chain(
            scan.inv
                .dirs_under(dir)
                .filter(|d| parent_rel(d) == dir)
                .map(|d| join_rel(d, "manage.py"))
                .collect::<Vec<_>>(),
        )
        .find(|m| scan.inv.has_file(m) && (parent_rel(m) == dir || manage_in_own_package(scan, m)))
        .unwrap_or_else(|| join_rel(dir, "manage.py"));
    if scan.inv.has_file(&manage)
        && let Some(text) = scan.read(&manage)
    {
        let django = builders.iter_mut().find(|b| b.id == FrameworkId::Django);
        if let Some(b) = django {
            b.confirm(evidence(&manage, None, "manage.py"));
            b.details.entry_file = Some(manage.clone());
            if let Some((n, module)) = settings_module(&text) {
                b.note(evidence(&manage, Some(n), line_text(&text, n)));
                // The settings module it names, with INSTALLED_APPS, beside it: Django for sure
                // even where no requirements file declares it.
                let settings = join_rel(parent_rel(&manage), &module.replace('.', "/"));
                let settings = [format!("{settings}.py"), format!("{settings}/__init__.py")]
                    .into_iter()
                    .find(|f| scan.inv.has_file(f));
                if let Some(settings) = settings
                    && let Some(found) = scan.read(&settings)
                    && let Some(line) = found.lines().position(|l| l.starts_with("INSTALLED_APPS"))
                {
                    let line = u32::try_from(line + 1).unwrap_or(u32::MAX);
                    b.note(evidence(&settings, Some(line), "INSTALLED_APPS"));
                    b.confirmed_twice = true;
                }
                b.details.settings_module = Some(module);
            }
        }
    }

    let relevant = builders.iter().any(|b| b.declared || b.confirmed)
        || deps
            .iter()
            .any(|d| PYTHON_INTEGRATIONS.iter().any(|(n, _)| *n == d.name));
    let mut found = Found::default();
    let mut samples: Vec<(String, Vec<FrameworkBuilder>, Found)> = Vec::new();
    if relevant {
        let priority = |rel: &str| {
            let stem = file_name(rel).trim_end_matches(".py");
            matches!(
                stem,
                "main" | "app" | "server" | "api" | "asgi" | "wsgi" | "views" | "urls"
            ) && rel.matches('/').count() <= 2
        };
        let sources = package_sources(scan, dir, input.package_dirs, &["py"], priority);
        let django = builders
            .iter()
            .any(|b| b.id == FrameworkId::Django && (b.declared || b.confirmed));
        read_sources(scan, dir, &sources, &mut builders, django, &mut found);
        if !has_app(&builders) {
            let scripts;
            (samples, scripts) = sample_apps(scan, input, priority, &declared_builders);
            // Sample code that creates no web app (a CLI script's `input()` loop): its calls
            // stay the package's, so they are listed (with why no user is reachable) rather
            // than dropped with the directory.
            found.absorb(scripts);
        }
        if found.skipped > 0 {
            scan.notes.push(format!(
                "`{dir}`: {} source files not read (read budget used up); call sites \
                 there are not listed",
                found.skipped
            ));
        }
    }
    if samples.len() == 1
        && let Some((_root, sample_builders, sample_found)) = samples.pop()
    {
        // The only app is sample code: it is the app to set up; its evidence says where (and
        // `detect` names the directory, see `summary::package_line`).
        for (main, sample) in builders.iter_mut().zip(sample_builders) {
            if !sample.confirmed {
                continue;
            }
            for ev in sample.evidence {
                main.confirm(ev);
            }
            if main.details.entry_file.is_none() {
                main.details.entry_file = sample.details.entry_file;
                main.details.app_variable = sample.details.app_variable;
            }
        }
        found.absorb(sample_found);
    }
    let frameworks = builders
        .into_iter()
        .filter_map(FrameworkBuilder::build)
        .collect();
    let package_manager = package_manager(scan, input, pyproject);
    let package = Package {
        path: dir.to_owned(),
        name: pyproject.and_then(|p| p.name.clone()),
        language: Language::Python,
        module_system: None,
        package_manager: Some(package_manager),
        frameworks,
        src_dir: scan.inv.has_dir(&join_rel(dir, "src")),
        aliases: Vec::new(),
        integrations: integrations(&pairs, PYTHON_INTEGRATIONS),
        call_sites: found.call_sites(),
        not_billed: Vec::new(),
        env_vars: Vec::new(),
        workspace: input.workspaces.info(dir, Ecosystem::Python),
        tsconfig: None,
        manifests: manifest_files,
        sample_of: None,
        user_key: None,
    };
    let mut out: Vec<Package> = samples
        .into_iter()
        .map(|(root, sample_builders, sample_found)| Package {
            path: root,
            name: None,
            frameworks: sample_builders
                .into_iter()
                .filter_map(FrameworkBuilder::build)
                .collect(),
            src_dir: false,
            call_sites: sample_found.call_sites(),
            workspace: None,
            sample_of: Some(dir.to_owned()),
            ..package.clone()
        })
        .collect();
    out.insert(0, package);
    out
}

/// Whether a web framework's app is created (or Django's manage.py found) in what was read.
fn has_app(builders: &[FrameworkBuilder]) -> bool {
    builders.iter().any(|b| {
        matches!(
            b.id,
            FrameworkId::Django | FrameworkId::Fastapi | FrameworkId::Flask
        ) && b.details.entry_file.is_some()
    })
}

/// The package's sample apps (under `examples/`, `demo/`, ...) that create a web app, each
/// with what its files declare and contain, in directory order; and what the sample
/// directories that create no app contain.
fn sample_apps(
    scan: &mut Scan<'_>,
    input: &PythonInput<'_>,
    priority: impl Fn(&str) -> bool,
    declared_builders: &dyn Fn() -> Vec<FrameworkBuilder>,
) -> (Vec<(String, Vec<FrameworkBuilder>, Found)>, Found) {
    let dir = input.dir;
    let mut by_root: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for file in example_sources(scan, dir, input.package_dirs, &["py"], priority) {
        if let Some(root) = example_root(&file, dir) {
            by_root.entry(root).or_default().push(file);
        }
    }
    let mut apps = Vec::new();
    let mut scripts = Found::default();
    for (root, files) in by_root {
        let mut builders = declared_builders();
        let mut found = Found::default();
        read_sources(scan, dir, &files, &mut builders, false, &mut found);
        if has_app(&builders) {
            apps.push((root, builders, found));
        } else {
            scripts.absorb(found);
        }
    }
    (apps, scripts)
}

/// What reading a package's source files found.
#[derive(Default)]
struct Found {
    call_sites: Vec<CallSite>,
    agents: HashSet<String>,
    factories: HashSet<String>,
    pending: Vec<(String, py_calls::AgentCall)>,
    skipped: usize,
}

impl Found {
    fn absorb(&mut self, other: Found) {
        self.call_sites.extend(other.call_sites);
        self.agents.extend(other.agents);
        self.factories.extend(other.factories);
        self.pending.extend(other.pending);
        self.skipped += other.skipped;
    }

    /// The call sites, with `agent.run()` on an agent defined in another module of the
    /// package, or returned by one of its factories (`agent = get_agent()`).
    fn call_sites(self) -> Vec<CallSite> {
        let Found {
            mut call_sites,
            agents,
            factories,
            pending,
            ..
        } = self;
        for (file, call) in pending {
            let from_factory = call
                .assigned_from
                .as_ref()
                .is_some_and(|f| factories.contains(f));
            if agents.contains(&call.receiver) || from_factory {
                call_sites.push(CallSite { file, ..call.call });
            }
        }
        call_sites.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        call_sites.dedup();
        call_sites
    }
}

/// Reads `sources` of the package at `dir`: call sites, route handlers, and app
/// constructions, which confirm the frameworks in `builders` and name the entry file.
fn read_sources(
    scan: &mut Scan<'_>,
    dir: &str,
    sources: &[String],
    builders: &mut [FrameworkBuilder],
    django: bool,
    out: &mut Found,
) {
    for file in sources {
        let Some(src) = scan.read_source(file) else {
            out.skipped += 1;
            continue;
        };
        let rel = strip_dir(file, dir).unwrap_or(file);
        if django && (file_name(rel) == "views.py" || rel.contains("/views/")) {
            let (line, callee) = first_def(&src).unwrap_or((1, String::new()));
            out.call_sites.push(CallSite {
                kind: CallSiteKind::RouteHandler,
                file: file.clone(),
                line,
                column: 1,
                callee,
            });
        }
        if !py_calls::worth_parsing(&src) {
            continue;
        }
        let found = py_calls::analyze(&src);
        for mut c in found.calls {
            c.file = file.clone();
            out.call_sites.push(c);
        }
        out.agents.extend(found.agents.iter().cloned());
        out.factories.extend(found.factories.iter().cloned());
        out.pending
            .extend(found.agent_calls.into_iter().map(|c| (file.clone(), c)));
        for c in &found.constructions {
            let id = match c.module.as_str() {
                "fastapi" => FrameworkId::Fastapi,
                "flask" => FrameworkId::Flask,
                _ => FrameworkId::PydanticAi,
            };
            if let Some(b) = builders.iter_mut().find(|b| b.id == id) {
                b.confirm(evidence(file, Some(c.line), line_text(&src, c.line)));
                if id != FrameworkId::PydanticAi && b.details.entry_file.is_none() {
                    b.details.entry_file = Some(file.clone());
                    b.details.app_variable = c.variable.clone();
                }
            }
        }
        if let Some((line, callee)) = found.routes.first() {
            out.call_sites.push(CallSite {
                kind: CallSiteKind::RouteHandler,
                file: file.clone(),
                line: *line,
                column: 1,
                callee: callee.clone(),
            });
        }
    }
}

/// `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")` → (line, module).
/// `pkg/manage.py` naming `pkg.project.settings`: manage.py lives inside the project's own
/// Python package and the settings module resolves from the directory above it (where the
/// dependency manifest is), not from `pkg/` (as in `startproject`'s `mysite/mysite/settings.py`).
/// That directory above is the package; `pkg/` is not one of its own.
pub(super) fn manage_in_own_package(scan: &mut Scan<'_>, manage: &str) -> bool {
    let dir = parent_rel(manage);
    if dir == "." {
        return false;
    }
    let Some(text) = scan.read(manage) else {
        return false;
    };
    let Some((_, module)) = settings_module(&text) else {
        return false;
    };
    if module.split('.').next() != Some(file_name(dir)) {
        return false;
    }
    let resolves_in = |scan: &Scan<'_>, base: &str| {
        let path = join_rel(base, &module.replace('.', "/"));
        scan.inv.has_file(&format!("{path}.py"))
            || scan.inv.has_file(&format!("{path}/__init__.py"))
    };
    let above = parent_rel(dir);
    resolves_in(scan, above) && !resolves_in(scan, dir)
}

fn settings_module(text: &str) -> Option<(u32, String)> {
    for (i, line) in text.lines().enumerate() {
        if let Some(pos) = line.find("DJANGO_SETTINGS_MODULE") {
            let rest = &line[pos + "DJANGO_SETTINGS_MODULE".len()..];
            let quoted: Vec<&str> = rest.split(['"', '\'']).collect();
            if let Some(module) = quoted.get(2).filter(|m| !m.is_empty() && !m.contains(' ')) {
                return Some((
                    u32::try_from(i + 1).unwrap_or(u32::MAX),
                    (*module).to_owned(),
                ));
            }
        }
    }
    None
}

fn first_def(src: &str) -> Option<(u32, String)> {
    src.lines().enumerate().find_map(|(i, l)| {
        let rest = l
            .strip_prefix("def ")
            .or_else(|| l.strip_prefix("async def "))
            .or_else(|| l.strip_prefix("class "))?;
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        Some((u32::try_from(i + 1).unwrap_or(u32::MAX), name))
    })
}

fn package_manager(
    scan: &Scan<'_>,
    input: &PythonInput<'_>,
    pyproject: Option<&crate::manifest::python::PyProject>,
) -> PackageManagerInfo {
    let ws_root = input
        .workspaces
        .for_dir(input.dir, Ecosystem::Python)
        .map(|w| w.root.clone());
    let mut dir = input.dir.to_owned();
    loop {
        for (file, id) in [
            ("uv.lock", PackageManager::Uv),
            ("poetry.lock", PackageManager::Poetry),
            ("Pipfile.lock", PackageManager::Pipenv),
        ] {
            let path = join_rel(&dir, file);
            if scan.inv.has_file(&path) {
                let confidence = if dir == input.dir || Some(&dir) == ws_root.as_ref() {
                    Confidence::High
                } else {
                    Confidence::Medium
                };
                return PackageManagerInfo {
                    id,
                    evidence: vec![evidence(&path, None, "lockfile")],
                    confidence,
                };
            }
        }
        if dir == "." {
            break;
        }
        dir = parent_rel(&dir).to_owned();
    }
    let here = input.dir;
    if let Some(req) = scan
        .inv
        .files_in(here)
        .find(|f| file_name(f).starts_with("requirements") && f.ends_with(".txt"))
    {
        return PackageManagerInfo {
            id: PackageManager::Pip,
            evidence: vec![evidence(req, None, "requirements file")],
            confidence: Confidence::High,
        };
    }
    if let Some(py) = pyproject {
        if let Some(line) = py.poetry {
            return PackageManagerInfo {
                id: PackageManager::Poetry,
                evidence: vec![evidence(&py.file, Some(line), "[tool.poetry]")],
                confidence: Confidence::Medium,
            };
        }
        if let Some(line) = py.uv {
            return PackageManagerInfo {
                id: PackageManager::Uv,
                evidence: vec![evidence(&py.file, Some(line), "[tool.uv]")],
                confidence: Confidence::Medium,
            };
        }
    }
    if input.manifests.pipfile.contains_key(here) {
        return PackageManagerInfo {
            id: PackageManager::Pipenv,
            evidence: vec![evidence(&join_rel(here, "Pipfile"), None, "Pipfile")],
            confidence: Confidence::Medium,
        };
    }
    let file = pyproject.map_or_else(|| join_rel(here, "setup.py"), |p| p.file.clone());
    PackageManagerInfo {
        id: PackageManager::Pip,
        evidence: vec![evidence(&file, None, "no lockfile; pip assumed")],
        confidence: Confidence::Low,
    }
}
