//! JavaScript / TypeScript packages: frameworks, layout details, language and module system,
//! aliases, package manager, integrations and call sites.

use std::collections::HashSet;

use super::common::{
    FrameworkBuilder, NODE_INTEGRATIONS, dep_evidence, evidence, integrations, route_export,
};
use super::sources::package_sources;
use crate::callsites::{Construction, typescript};
use crate::manifest::Dependency;
use crate::manifest::node::PackageJson;
use crate::manifest::tsconfig::Resolver;
use crate::manifests::Manifests;
use crate::profile::{
    Alias, CallSite, CallSiteKind, Confidence, Evidence, Framework, FrameworkId, Language,
    ModuleSystem, Package, PackageManager, PackageManagerInfo,
};
use crate::scan::Scan;
use crate::text::{file_name, join_rel, line_text, strip_dir};
use crate::workspace::{Ecosystem, Workspaces};
use billing_vocab::{FrameworkInfo, LanguageFamily};

const JS_EXTENSIONS: &[&str] = &["ts", "tsx", "mts", "cts", "js", "jsx", "mjs", "cjs"];

/// The JavaScript frameworks of the registry in detection order: meta-frameworks (built by
/// their bundler) first, so when one serves another (Astro + Hono, React Router + Express)
/// the meta-framework is named first. What identifies each is its registry entry's
/// `detection`: dependency names, config file prefixes, constructor modules.
fn js_frameworks() -> Vec<&'static FrameworkInfo> {
    let mut frameworks: Vec<_> = FrameworkId::of_family(LanguageFamily::Js).collect();
    frameworks.sort_by_key(|f| !f.capabilities.bundler);
    frameworks
}

pub struct NodeInput<'a> {
    pub dir: &'a str,
    pub pkg: &'a PackageJson,
    pub manifests: &'a Manifests,
    pub workspaces: &'a Workspaces,
    pub package_dirs: &'a HashSet<String>,
}

/// A dependency and its version spec with `catalog:` resolved.
fn resolved_deps(input: &NodeInput<'_>) -> Vec<(Dependency, String)> {
    let ws = input.workspaces.for_dir(input.dir, Ecosystem::Node);
    let pnpm = ws.and_then(|w| input.manifests.pnpm_workspace.get(&w.root));
    let bun_catalog = ws
        .and_then(|w| input.manifests.package_json.get(&w.root))
        .map(|p| p.catalog.as_slice())
        .unwrap_or_default();
    input
        .pkg
        .dependencies
        .iter()
        .map(|d| {
            let spec = if d.spec.starts_with("catalog:") {
                pnpm.and_then(|p| p.resolve(&d.name, &d.spec))
                    .or_else(|| {
                        bun_catalog
                            .iter()
                            .find(|(n, _)| *n == d.name)
                            .map(|(_, v)| v.as_str())
                    })
                    .unwrap_or(&d.spec)
                    .to_owned()
            } else {
                d.spec.clone()
            };
            (d.clone(), spec)
        })
        .collect()
}

pub fn analyze(scan: &mut Scan<'_>, input: &NodeInput<'_>) -> Package {
    let dir = input.dir;
    let deps = resolved_deps(input);
    let find_dep = |name: &str| -> Option<&(Dependency, String)> {
        deps.iter()
            .filter(|(d, _)| d.name == name)
            .min_by_key(|(d, _)| d.dev)
    };
    let configs_here: Vec<String> = scan.inv.files_in(dir).map(str::to_owned).collect();

    // 1. Frameworks from dependencies and config files.
    let mut builders: Vec<FrameworkBuilder> = Vec::new();
    for info in js_frameworks() {
        let id = info.framework;
        let mut b = FrameworkBuilder::new(id);
        for name in info.detection.packages {
            if let Some((dep, spec)) = find_dep(name) {
                b.declare(dep, &installed_version(scan, dir, name, spec));
            }
        }
        for file in &configs_here {
            let name = file_name(file);
            if info
                .detection
                .files
                .iter()
                .any(|p| name.starts_with(p) || name == p.trim_end_matches('.'))
            {
                b.confirm(evidence(file, None, "config file"));
            }
        }
        if id == FrameworkId::NodeServerless {
            let functions = join_rel(dir, "netlify/functions");
            if scan.inv.has_dir(&functions) {
                b.confirm(evidence(&functions, None, "Netlify functions folder"));
            }
        }
        builders.push(b);
    }
    // Remix on Vite declares the plugin in vite.config; React Router 7 framework mode has
    // `app/routes.ts`.
    let routes_ts = ["ts", "js"]
        .iter()
        .map(|e| join_rel(dir, &format!("app/routes.{e}")))
        .find(|f| scan.inv.has_file(f));
    if let Some(f) = routes_ts
        && let Some(b) = builders
            .iter_mut()
            .find(|b| b.id == FrameworkId::ReactRouter)
        && b.declared
    {
        b.confirm(evidence(&f, None, "route config"));
    }

    // Remix and React Router on Vite declare their plugin in vite.config.
    if let Some(vite) = configs_here
        .iter()
        .find(|f| file_name(f).starts_with("vite.config."))
        .cloned()
        && let Some(text) = scan.read(&vite)
    {
        for (id, plugin) in [
            (FrameworkId::Remix, "@remix-run/dev"),
            (FrameworkId::ReactRouter, "@react-router/dev"),
        ] {
            if let Some(n) = text.lines().position(|l| l.contains(plugin))
                && let Some(b) = builders.iter_mut().find(|b| b.id == id && b.declared)
            {
                let line = u32::try_from(n + 1).unwrap_or(u32::MAX);
                b.confirm(evidence(&vite, Some(line), line_text(&text, line)));
            }
        }
    }

    // 2. Layout details (only for frameworks that are declared or configured).
    let active = |b: &FrameworkBuilder| b.declared || b.confirmed;
    for b in builders.iter_mut().filter(|b| active(b)) {
        match b.id {
            FrameworkId::Nextjs => nextjs_layout(scan, dir, b),
            FrameworkId::Nuxt => nuxt_layout(scan, dir, b),
            FrameworkId::Astro => astro_layout(scan, dir, &deps, b),
            FrameworkId::Sveltekit => {
                let routes = join_rel(dir, "src/routes");
                if scan.inv.has_dir(&routes) {
                    b.details.routes_dir = Some("src/routes".to_owned());
                    b.note(evidence(&routes, None, "routes folder"));
                }
            }
            FrameworkId::Remix | FrameworkId::ReactRouter => {
                let routes = join_rel(dir, "app/routes");
                if scan.inv.has_dir(&routes) {
                    b.details.routes_dir = Some("app/routes".to_owned());
                    b.note(evidence(&routes, None, "routes folder"));
                }
            }
            _ => {}
        }
    }

    // 3. Source files: constructions, route registrations, call sites.
    let any_relevant = builders.iter().any(active)
        || deps
            .iter()
            .any(|(d, _)| NODE_INTEGRATIONS.iter().any(|(n, _)| d.name.starts_with(n)));
    let mut call_sites: Vec<CallSite> = Vec::new();
    let mut user_key = None;
    let mut module_hint: Option<ModuleSystem> = None;
    if any_relevant {
        let route_dirs: Vec<String> = route_dirs(&builders);
        let sources = package_sources(scan, dir, input.package_dirs, JS_EXTENSIONS, |rel| {
            is_entry(rel) || route_dirs.iter().any(|d| rel.starts_with(d.as_str()))
        });
        let mut skipped = 0usize;
        let mut entry_ranks: Vec<(FrameworkId, i32)> = Vec::new();
        for file in &sources {
            let Some(src) = scan.read_source(file) else {
                skipped += 1;
                continue;
            };
            let rel = strip_dir(file, dir).unwrap_or(file);
            if module_hint.is_none() && is_entry(rel) {
                module_hint = module_syntax(&src);
            }
            if let Some(convention) = route_convention(rel, &builders) {
                let (line, callee) = route_export(&src).unwrap_or((1, String::new()));
                let is_data_route = matches!(callee.as_str(), "loader" | "action");
                if convention == RouteKind::ByConvention || is_data_route {
                    call_sites.push(CallSite {
                        kind: CallSiteKind::RouteHandler,
                        file: file.clone(),
                        line,
                        column: 1,
                        callee,
                    });
                }
            }
            if user_key.is_none() {
                user_key = super::user_key::from_drizzle(file, &src);
            }
            if !typescript::worth_parsing(&src) {
                continue;
            }
            let found = typescript::analyze(file, &src);
            for mut c in found.calls {
                c.file = file.clone();
                call_sites.push(c);
            }
            for c in &found.constructions {
                let Some(id) = js_frameworks()
                    .into_iter()
                    .find(|f| f.detection.markers.contains(&c.module.as_str()))
                    .map(|f| f.framework)
                else {
                    continue;
                };
                if let Some(b) = builders.iter_mut().find(|b| b.id == id) {
                    b.confirm(evidence(file, Some(c.line), line_text(&src, c.line)));
                    // The app that serves requests, not a sub-router or an error fallback.
                    let rank = entry_rank(rel, &src, c, input.pkg);
                    let best = entry_ranks.iter().find(|(f, _)| *f == id).map(|(_, r)| *r);
                    if b.details.entry_file.is_none() || best.is_some_and(|best| rank > best) {
                        b.details.entry_file = Some(file.clone());
                        b.details.app_variable = c.variable.clone();
                        entry_ranks.retain(|(f, _)| *f != id);
                        entry_ranks.push((id, rank));
                    }
                }
            }
            if let Some((line, callee)) = found.routes.first()
                && !call_sites
                    .iter()
                    .any(|c| c.file == *file && c.kind == CallSiteKind::RouteHandler)
            {
                call_sites.push(CallSite {
                    kind: CallSiteKind::RouteHandler,
                    file: file.clone(),
                    line: *line,
                    column: 1,
                    callee: callee.clone(),
                });
            }
        }
        if skipped > 0 {
            scan.notes.push(format!(
                "`{dir}`: {skipped} source files not read (read budget of {} files / {} bytes \
                 used up); call sites there are not listed",
                scan.options.max_source_files, scan.options.max_source_bytes
            ));
        }
    }
    let frameworks: Vec<Framework> = builders
        .into_iter()
        .filter_map(FrameworkBuilder::build)
        .collect();

    // 4. Language, module system, aliases.
    let tsconfig_file = ["tsconfig.json", "jsconfig.json"]
        .iter()
        .map(|f| join_rel(dir, f))
        .find(|f| scan.inv.has_file(f));
    // A `tsconfig.json` that only type-checks JavaScript (`allowJs` + `checkJs`, no `.ts`
    // file anywhere) is a JavaScript project: generated `.ts` files could not be `require`d.
    let has_ts_source = scan.inv.files_under(dir).any(|f| {
        [".ts", ".tsx", ".mts", ".cts"]
            .iter()
            .any(|ext| f.ends_with(ext))
            && !f.ends_with(".d.ts")
    });
    let typescript = (tsconfig_file
        .as_deref()
        .is_some_and(|f| f.ends_with("tsconfig.json"))
        || find_dep("typescript").is_some())
        && has_ts_source;
    let mut aliases: Vec<Alias> = Vec::new();
    let mut ts_module: Option<String> = None;
    if let Some(cfg) = &tsconfig_file {
        let resolver = Resolver {
            root: &scan.root,
            workspace_packages: &input.workspaces.node_packages,
            max_bytes: scan.options.max_file_bytes,
        };
        let loaded = resolver.load(&scan.abs(cfg), &scan.abs(dir));
        for p in loaded.problems {
            scan.malformed(p, "aliases from this file are not listed");
        }
        for u in loaded.unresolved {
            scan.notes.push(format!(
                "`{cfg}`: `extends` target `{u}` not found (dependencies not installed?); \
                 settings from it are not included"
            ));
        }
        ts_module = loaded.module;
        for p in loaded.paths {
            aliases.push(Alias {
                prefix: p.prefix,
                target: p.target,
                source: evidence(&p.file, Some(p.line), p.text),
            });
        }
    }
    for (key, target, line) in &input.pkg.imports {
        let target = target.trim_start_matches("./").to_owned();
        aliases.push(Alias {
            prefix: key.clone(),
            target,
            source: evidence(&input.pkg.file, Some(*line), format!("imports: {key}")),
        });
    }
    framework_aliases(&frameworks, &mut aliases);

    let module_system = module_system(input.pkg, &frameworks, ts_module.as_deref(), module_hint);
    let package_manager = package_manager(scan, input);
    let src_dir = frameworks
        .iter()
        .find_map(|f| {
            f.details
                .app_dir
                .as_deref()
                .or(f.details.pages_dir.as_deref())
                .or(f.details.routes_dir.as_deref())
                .map(|d| d.starts_with("src/"))
        })
        .unwrap_or_else(|| scan.inv.has_dir(&join_rel(dir, "src")));

    call_sites.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    call_sites.dedup();
    Package {
        path: dir.to_owned(),
        name: input.pkg.name.clone(),
        language: if typescript {
            Language::TypeScript
        } else {
            Language::JavaScript
        },
        module_system: Some(module_system),
        package_manager: Some(package_manager),
        frameworks,
        src_dir,
        aliases,
        integrations: integrations(&deps, NODE_INTEGRATIONS),
        call_sites,
        not_billed: Vec::new(),
        env_vars: Vec::new(),
        workspace: input.workspaces.info(dir, Ecosystem::Node),
        tsconfig: tsconfig_file,
        manifests: vec![input.pkg.file.clone()],
        sample_of: None,
        user_key: user_key.or_else(|| prisma_user_key(scan, dir)),
    }
}

/// The user key of the package's Prisma schema, at Prisma's default locations.
fn prisma_user_key(scan: &mut Scan<'_>, dir: &str) -> Option<crate::profile::UserKey> {
    ["prisma/schema.prisma", "schema.prisma"]
        .iter()
        .map(|p| join_rel(dir, p))
        .filter(|file| scan.exists(file))
        .collect::<Vec<_>>()
        .into_iter()
        .find_map(|file| {
            let text = scan.read(&file)?;
            super::user_key::from_prisma(&file, &text)
        })
}

/// Version for display: the declared spec, or the installed version when the spec says
/// nothing (`workspace:*`, `*`, `latest`).
fn installed_version(scan: &mut Scan<'_>, dir: &str, name: &str, spec: &str) -> String {
    if crate::text::major_of(spec).is_some() {
        return spec.to_owned();
    }
    let manifest = join_rel(dir, &format!("node_modules/{name}/package.json"));
    if scan.abs(&manifest).is_file()
        && let Some(text) = scan.read(&manifest)
        && let (Some(node), _) =
            crate::manifest::json::parse(&text, crate::manifest::json::Dialect::Json)
        && let Some(v) = node.get("version").and_then(|v| v.as_str())
    {
        return v.to_owned();
    }
    spec.to_owned()
}

/// How much a construction looks like the app requests reach: served or exported from its
/// file (`app.listen(`, `export default app`, `serve({ fetch: app.fetch })`, `return app`),
/// and the file named by `package.json` (`main`, a script such as `wrangler dev src/index.ts`).
/// An app built in a `catch` clause is an error fallback and ranks below everything else.
fn entry_rank(rel: &str, src: &str, c: &Construction, pkg: &PackageJson) -> i32 {
    if c.in_fallback {
        return -10;
    }
    let mut rank = 0;
    if let Some(var) = c.variable.as_deref() {
        let served = [
            format!("{var}.listen("),
            format!("{var}.fetch"),
            format!("export default {var}"),
            format!("module.exports = {var}"),
            format!("serve({var}"),
            format!("handle({var}"),
        ]
        .iter()
        .any(|needle| contains_word(src, needle));
        if served {
            rank += 2;
        } else if contains_word(src, &format!("return {var}"))
            || contains_word(src, &format!("export {{ {var}"))
            || src.contains(&format!("export const {var} "))
        {
            rank += 1;
        }
    }
    let stem = rel.rsplit_once('.').map_or(rel, |(stem, _)| stem);
    let named = |text: &str| {
        text.split(|ch: char| ch.is_whitespace() || ch == '"' || ch == '\'')
            .any(|word| {
                let word = word.trim_start_matches("./");
                word.rsplit_once('.').map_or(word, |(s, _)| s) == stem
            })
    };
    if pkg.main.as_deref().is_some_and(named) || pkg.scripts.iter().any(|(_, cmd)| named(cmd)) {
        rank += 2;
    }
    rank
}

/// `needle` occurs in `src` not followed by an identifier character (`app` but not `apps`).
fn contains_word(src: &str, needle: &str) -> bool {
    src.match_indices(needle).any(|(at, _)| {
        src[at + needle.len()..]
            .chars()
            .next()
            .is_none_or(|ch| !(ch.is_alphanumeric() || ch == '_' || ch == '$'))
    })
}

fn is_entry(rel: &str) -> bool {
    let stem = file_name(rel).split('.').next().unwrap_or("");
    let top = !rel.contains('/')
        || ["src/", "server/", "api/", "app/"]
            .iter()
            .any(|p| rel.strip_prefix(p).is_some_and(|r| !r.contains('/')));
    top && matches!(
        stem,
        "index" | "server" | "app" | "main" | "api" | "worker" | "entry.server"
    )
}

fn nextjs_layout(scan: &Scan<'_>, dir: &str, b: &mut FrameworkBuilder) {
    // Next.js uses root `app/`/`pages/` over `src/app`/`src/pages` when both exist.
    let is_app_router = |d: &str| {
        scan.inv.files_under(&join_rel(dir, d)).any(|f| {
            let stem = file_name(f).split('.').next().unwrap_or("");
            matches!(stem, "page" | "layout" | "route")
        })
    };
    if let Some(app) = ["app", "src/app"].into_iter().find(|d| is_app_router(d)) {
        b.details.app_dir = Some(app.to_owned());
        b.note(evidence(&join_rel(dir, app), None, "app router folder"));
    }
    if let Some(pages) = ["pages", "src/pages"]
        .into_iter()
        .find(|d| scan.inv.files_under(&join_rel(dir, d)).next().is_some())
    {
        b.details.pages_dir = Some(pages.to_owned());
        b.note(evidence(&join_rel(dir, pages), None, "pages router folder"));
    }
}

fn nuxt_layout(scan: &mut Scan<'_>, dir: &str, b: &mut FrameworkBuilder) {
    let config = scan
        .inv
        .files_in(dir)
        .find(|f| file_name(f).starts_with("nuxt.config."))
        .map(str::to_owned);
    let text = config.as_deref().and_then(|c| scan.read(c));
    let mut compat4 = false;
    let mut src_dir: Option<String> = None;
    if let (Some(cfg), Some(text)) = (&config, &text) {
        for (i, line) in text.lines().enumerate() {
            let l = line.trim();
            let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
            if l.starts_with("compatibilityVersion") && l.contains('4') {
                compat4 = true;
                b.note(evidence(cfg, Some(n), line_text(text, n)));
            }
            if let Some(rest) = l.strip_prefix("srcDir") {
                let v = rest
                    .trim_start_matches([':', ' '])
                    .trim_matches([',', '\'', '"', ' ', '/']);
                let v = v.trim_start_matches("./").trim_end_matches('/');
                src_dir = Some(if v.is_empty() {
                    ".".to_owned()
                } else {
                    v.to_owned()
                });
                b.note(evidence(cfg, Some(n), line_text(text, n)));
            }
        }
    }
    let nuxt4 = b.major.is_some_and(|m| m >= 4) || compat4;
    let app_dir = join_rel(dir, "app");
    let has_app_layout = ["app.vue", "pages", "components", "layouts"]
        .iter()
        .any(|p| {
            scan.inv.has_file(&join_rel(&app_dir, p)) || scan.inv.has_dir(&join_rel(&app_dir, p))
        });
    let src = src_dir.unwrap_or_else(|| {
        if nuxt4 && has_app_layout {
            "app".to_owned()
        } else {
            ".".to_owned()
        }
    });
    if src == "app" && has_app_layout {
        b.note(evidence(&app_dir, None, "Nuxt 4 app/ layout"));
    }
    b.details.src_dir = Some(src);
    let server = join_rel(dir, "server");
    b.details.server_dir = Some("server".to_owned());
    if scan.inv.has_dir(&server) {
        b.note(evidence(&server, None, "server folder"));
    }
}

fn astro_layout(
    scan: &mut Scan<'_>,
    dir: &str,
    deps: &[(Dependency, String)],
    b: &mut FrameworkBuilder,
) {
    let config = scan
        .inv
        .files_in(dir)
        .find(|f| file_name(f).starts_with("astro.config."))
        .map(str::to_owned);
    let mut output = None;
    if let Some(cfg) = &config
        && let Some(text) = scan.read(cfg)
    {
        for (i, line) in text.lines().enumerate() {
            let l = line.trim();
            if let Some(rest) = l.strip_prefix("output") {
                let v: String = rest
                    .trim_start_matches([':', ' '])
                    .trim_matches([',', '\'', '"', ' '])
                    .to_owned();
                if matches!(v.as_str(), "server" | "static" | "hybrid") {
                    let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
                    b.note(evidence(cfg, Some(n), line_text(&text, n)));
                    output = Some(v);
                }
            }
        }
    }
    let adapter = deps.iter().find(|(d, _)| {
        matches!(
            d.name.as_str(),
            "@astrojs/node" | "@astrojs/vercel" | "@astrojs/netlify" | "@astrojs/cloudflare"
        )
    });
    if let Some((d, _)) = adapter {
        b.details.adapter = Some(d.name.clone());
        b.note(dep_evidence(d));
    }
    // Astro 5 dropped `hybrid`; without `output` the default is static (with on-demand
    // routes when an adapter is present).
    b.details.output = Some(output.unwrap_or_else(|| "static".to_owned()));
}

fn route_dirs(builders: &[FrameworkBuilder]) -> Vec<String> {
    let mut out = Vec::new();
    for b in builders.iter().filter(|b| b.declared || b.confirmed) {
        let d = &b.details;
        out.extend(d.app_dir.iter().cloned());
        out.extend(d.pages_dir.iter().map(|p| format!("{p}/api")));
        out.extend(d.routes_dir.iter().cloned());
        if b.id == FrameworkId::Nuxt {
            out.push("server/".to_owned());
        }
        if b.id == FrameworkId::Astro {
            out.push("src/pages/".to_owned());
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RouteKind {
    /// The file is a route handler by its name and place.
    ByConvention,
    /// Only if it exports a loader/action (Remix / React Router route modules).
    NeedsExport,
}

fn route_convention(rel: &str, builders: &[FrameworkBuilder]) -> Option<RouteKind> {
    let name = file_name(rel);
    let stem = name.split('.').next().unwrap_or("");
    for b in builders.iter().filter(|b| b.declared || b.confirmed) {
        let d = &b.details;
        match b.id {
            FrameworkId::Nextjs => {
                if let Some(app) = &d.app_dir
                    && rel.starts_with(&format!("{app}/"))
                    && stem == "route"
                {
                    return Some(RouteKind::ByConvention);
                }
                if let Some(pages) = &d.pages_dir
                    && rel.starts_with(&format!("{pages}/api/"))
                {
                    return Some(RouteKind::ByConvention);
                }
            }
            FrameworkId::Sveltekit
                if rel.starts_with("src/routes/")
                    && (stem == "+server" || name.starts_with("+page.server.")) =>
            {
                return Some(RouteKind::ByConvention);
            }
            FrameworkId::Nuxt => {
                let server = d.server_dir.as_deref().unwrap_or("server");
                if rel.starts_with(&format!("{server}/api/"))
                    || rel.starts_with(&format!("{server}/routes/"))
                {
                    return Some(RouteKind::ByConvention);
                }
            }
            FrameworkId::Astro if rel.starts_with("src/pages/") => {
                return Some(RouteKind::ByConvention);
            }
            FrameworkId::Remix | FrameworkId::ReactRouter => {
                if let Some(routes) = &d.routes_dir
                    && rel.starts_with(&format!("{routes}/"))
                {
                    return Some(RouteKind::NeedsExport);
                }
            }
            _ => {}
        }
    }
    None
}

fn framework_aliases(frameworks: &[Framework], aliases: &mut Vec<Alias>) {
    let has = |aliases: &Vec<Alias>, p: &str| aliases.iter().any(|a| a.prefix == p);
    for f in frameworks {
        let config = f.evidence.iter().find(|e| e.text == "config file").cloned();
        let source = config.unwrap_or_else(|| f.evidence[0].clone());
        match f.id {
            FrameworkId::Sveltekit if !has(aliases, "$lib") => aliases.push(Alias {
                prefix: "$lib".to_owned(),
                target: "src/lib".to_owned(),
                source: Evidence {
                    text: "SvelteKit built-in alias".to_owned(),
                    ..source
                },
            }),
            FrameworkId::Nuxt if !has(aliases, "~") => {
                let src = f.details.src_dir.clone().unwrap_or_else(|| ".".to_owned());
                for (prefix, target) in [("~", src.clone()), ("@", src), ("~~", ".".to_owned())] {
                    aliases.push(Alias {
                        prefix: prefix.to_owned(),
                        target,
                        source: Evidence {
                            text: "Nuxt built-in alias".to_owned(),
                            ..source.clone()
                        },
                    });
                }
            }
            _ => {}
        }
    }
}

/// ESM vs CJS for files we generate:
/// 1. package.json `"type"` decides for Node;
/// 2. bundler-based frameworks always compile ESM syntax;
/// 3. TypeScript: tsconfig `module`;
/// 4. JavaScript: the syntax of the entry file; Node's default (CJS) otherwise.
fn module_system(
    pkg: &PackageJson,
    frameworks: &[Framework],
    ts_module: Option<&str>,
    entry_syntax: Option<ModuleSystem>,
) -> ModuleSystem {
    match pkg.module_type.as_ref().map(|(t, _)| t.as_str()) {
        Some("module") => return ModuleSystem::Esm,
        Some("commonjs") => return ModuleSystem::Cjs,
        _ => {}
    }
    let bundled = frameworks.iter().any(|f| f.id.info().capabilities.bundler);
    if bundled {
        return ModuleSystem::Esm;
    }
    if let Some(m) = ts_module {
        // Without `"type": "module"`, `node16`/`nodenext` compile `.ts` files to CommonJS.
        if m == "commonjs" || m.starts_with("node") {
            return ModuleSystem::Cjs;
        }
        if m.starts_with("es") || m == "preserve" {
            return ModuleSystem::Esm;
        }
    }
    entry_syntax.unwrap_or(ModuleSystem::Cjs)
}

fn module_syntax(src: &str) -> Option<ModuleSystem> {
    let esm = src.lines().any(|l| {
        let l = l.trim_start();
        (l.starts_with("import ") && (l.contains(" from ") || l.contains('"') || l.contains('\'')))
            || l.starts_with("export ")
    });
    if esm {
        return Some(ModuleSystem::Esm);
    }
    (src.contains("require(") || src.contains("module.exports")).then_some(ModuleSystem::Cjs)
}

const LOCKFILES: &[(&str, PackageManager)] = &[
    ("pnpm-lock.yaml", PackageManager::Pnpm),
    ("yarn.lock", PackageManager::Yarn),
    ("package-lock.json", PackageManager::Npm),
    ("npm-shrinkwrap.json", PackageManager::Npm),
    ("bun.lock", PackageManager::Bun),
    ("bun.lockb", PackageManager::Bun),
];

fn package_manager(scan: &Scan<'_>, input: &NodeInput<'_>) -> PackageManagerInfo {
    let ws_root = input
        .workspaces
        .for_dir(input.dir, Ecosystem::Node)
        .map(|w| w.root.clone());
    let mut dir = input.dir.to_owned();
    loop {
        for (file, id) in LOCKFILES {
            let path = join_rel(&dir, file);
            if scan.inv.has_file(&path) {
                let confidence = if dir == input.dir || Some(&dir) == ws_root.as_ref() {
                    Confidence::High
                } else {
                    Confidence::Medium
                };
                return PackageManagerInfo {
                    id: *id,
                    evidence: vec![evidence(&path, None, "lockfile")],
                    confidence,
                };
            }
        }
        if dir == "." {
            break;
        }
        dir = crate::text::parent_rel(&dir).to_owned();
    }
    // No lockfile: corepack's `packageManager` field, here or at the workspace root.
    let candidates = std::iter::once(input.pkg).chain(
        ws_root
            .as_ref()
            .and_then(|r| input.manifests.package_json.get(r)),
    );
    for pkg in candidates {
        if let Some((pm, line)) = &pkg.package_manager {
            let id = match pm.split('@').next().unwrap_or("") {
                "pnpm" => Some(PackageManager::Pnpm),
                "yarn" => Some(PackageManager::Yarn),
                "npm" => Some(PackageManager::Npm),
                "bun" => Some(PackageManager::Bun),
                _ => None,
            };
            if let Some(id) = id {
                return PackageManagerInfo {
                    id,
                    evidence: vec![evidence(
                        &pkg.file,
                        Some(*line),
                        format!("\"packageManager\": \"{pm}\""),
                    )],
                    confidence: Confidence::Medium,
                };
            }
        }
    }
    PackageManagerInfo {
        id: PackageManager::Npm,
        evidence: vec![evidence(&input.pkg.file, None, "no lockfile; npm assumed")],
        confidence: Confidence::Low,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(module_type: Option<&str>) -> PackageJson {
        PackageJson {
            module_type: module_type.map(|t| (t.to_owned(), 2)),
            ..PackageJson::default()
        }
    }

    #[test]
    fn module_system_rules() {
        use ModuleSystem::{Cjs, Esm};
        let next = vec![
            FrameworkBuilder {
                declared: true,
                ..FrameworkBuilder::new(FrameworkId::Nextjs)
            }
            .build()
            .unwrap(),
        ];
        // "type" decides, whatever else says.
        assert_eq!(
            module_system(&pkg(Some("module")), &[], Some("commonjs"), None),
            Esm
        );
        assert_eq!(
            module_system(&pkg(Some("commonjs")), &next, None, Some(Esm)),
            Cjs
        );
        // Bundled frameworks compile ESM syntax.
        assert_eq!(
            module_system(&pkg(None), &next, Some("commonjs"), None),
            Esm
        );
        // tsconfig `module` for TypeScript run by Node.
        assert_eq!(
            module_system(&pkg(None), &[], Some("nodenext"), Some(Esm)),
            Cjs
        );
        assert_eq!(module_system(&pkg(None), &[], Some("esnext"), None), Esm);
        // Entry syntax, then Node's default.
        assert_eq!(module_system(&pkg(None), &[], None, Some(Esm)), Esm);
        assert_eq!(module_system(&pkg(None), &[], None, None), Cjs);
    }

    #[test]
    fn entry_syntax() {
        assert_eq!(module_syntax("import x from 'y';"), Some(ModuleSystem::Esm));
        assert_eq!(
            module_syntax("const x = require('y');"),
            Some(ModuleSystem::Cjs)
        );
        assert_eq!(module_syntax("console.log(1)"), None);
    }

    #[test]
    fn entries() {
        assert!(is_entry("index.ts"));
        assert!(is_entry("src/server.js"));
        assert!(!is_entry("src/lib/index.ts"));
        assert!(!is_entry("src/routes.ts"));
    }
}
