//! Framework adapters: the API-call middleware in each framework's idiom, the webhook route
//! where the framework keeps routes, and their registration.

use billing_changeset::{FileChange, FileOrigin, ManualStep};
use billing_detect::FrameworkId;
use serde_json::json;

use super::context::WEBHOOK_PATH;

/// [`WEBHOOK_PATH`] without its leading `/`: the route's directory under a routes root.
const ROUTE: &str = WEBHOOK_PATH.split_at(1).1;
use super::layout::Layout;
use super::registration::Registration;
use super::{Output, PlannedFile, Renderer, manual, read_optional};
use crate::{GenerateError, Target};

pub fn is_js_framework(id: FrameworkId) -> bool {
    id.family() == billing_vocab::LanguageFamily::Js
}

struct Ctx<'a, 'r> {
    renderer: &'r Renderer,
    layout: &'r Layout,
    target: &'r Target<'a>,
    api_calls: bool,
    webhooks: bool,
}

impl Ctx<'_, '_> {
    /// Renders `template` to the package-relative `path`.
    fn file(
        &self,
        output: &mut Output,
        path: String,
        template: &str,
        extra: serde_json::Value,
        summary: &str,
    ) -> Result<(), GenerateError> {
        output.files.push(PlannedFile {
            path,
            content: self.renderer.render(template, extra)?,
            origin: FileOrigin::Generated,
            summary: summary.to_owned(),
        });
        Ok(())
    }

    fn ext(&self) -> &'static str {
        self.layout.file_ext()
    }

    /// Specifier of a shared module from a package-relative file.
    fn spec(&self, from: &str, stem: &str) -> String {
        self.layout.specifier(from, stem)
    }

    fn exists(&self, package_relative: &str) -> Result<bool, GenerateError> {
        Ok(read_optional(self.target.root, &self.layout.to_root(package_relative))?.is_some())
    }

    fn webhook_route_manual(&self, output: &mut Output) {
        manual(
            output,
            self.layout.module_file("webhooks"),
            format!(
                "Serve POST {WEBHOOK_PATH} with `handleSpaireWebhook(rawBody, headersToRecord(headers))` from this file, passing the UNPARSED request body, and answer with the returned status and body"
            ),
            None,
        );
    }
}

pub(super) fn generate(
    renderer: &Renderer,
    layout: &Layout,
    target: &Target<'_>,
    output: &mut Output,
) -> Result<(), GenerateError> {
    let cx = Ctx {
        renderer,
        layout,
        target,
        api_calls: renderer.base.api_calls,
        webhooks: renderer.base.webhooks,
    };
    match layout.framework {
        Some(
            id @ (FrameworkId::Express
            | FrameworkId::Fastify
            | FrameworkId::Hono
            | FrameworkId::Elysia),
        ) => server_app(&cx, id, output),
        Some(FrameworkId::Nextjs) => nextjs(&cx, output),
        Some(FrameworkId::Sveltekit) => sveltekit(&cx, output),
        Some(FrameworkId::Nuxt) => nuxt(&cx, output),
        Some(FrameworkId::Astro) => astro(&cx, output),
        Some(id @ (FrameworkId::Remix | FrameworkId::ReactRouter)) => remix(&cx, id, output),
        Some(FrameworkId::NodeServerless) => serverless(&cx, output),
        _ => {
            if cx.api_calls {
                manual(
                    output,
                    layout.module_file("usage"),
                    "No web framework was detected: call `recordApiCall(customerId, endpoint)` from this file once per billed request".to_owned(),
                    None,
                );
            }
            if cx.webhooks {
                cx.webhook_route_manual(output);
            }
            Ok(())
        }
    }
}

/// Express, Fastify, Hono and Elysia: one adapter module, registered in the entry file.
fn server_app(cx: &Ctx<'_, '_>, id: FrameworkId, output: &mut Output) -> Result<(), GenerateError> {
    if !cx.api_calls && !cx.webhooks {
        return Ok(());
    }
    let stem = match id {
        FrameworkId::Express => "express",
        FrameworkId::Fastify => "fastify",
        FrameworkId::Hono => "hono",
        _ => "elysia",
    };
    let adapter = cx.layout.module_file(stem);
    cx.file(
        output,
        adapter.clone(),
        stem,
        json!({}),
        "framework middleware: API-call metering and the webhook route",
    )?;
    let names: Vec<&str> = [
        cx.api_calls.then_some("spaireApiCalls"),
        cx.webhooks.then_some("spaireWebhooks"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let details = &cx.layout.details;
    let entry = details
        .entry_file
        .as_deref()
        .and_then(|file| cx.layout.to_package(file).map(|rel| (file, rel)));
    let app_variable = details.app_variable.as_deref().unwrap_or("app");
    if id == FrameworkId::Fastify
        && fastify_autoload_plugin(
            cx,
            entry.as_ref().map(|(_, rel)| rel.as_str()),
            &names,
            output,
        )?
    {
        return Ok(());
    }
    if let Some((entry_root, entry_rel)) = &entry {
        let specifier = cx.spec(entry_rel, stem);
        if let Some(source) = read_optional(cx.target.root, entry_root)? {
            let registration = Registration {
                framework: id,
                app_variable,
                adapter_specifier: &specifier,
                esm_syntax: entry_uses_esm(entry_rel, &source, cx.layout.esm_syntax),
                api_calls: cx.api_calls,
                webhooks: cx.webhooks,
            };
            if names.iter().any(|name| source.contains(name)) {
                return Ok(());
            }
            if let Some(after) = registration.apply(&source) {
                output.changes.files.push(FileChange::wired_edit(
                    (*entry_root).to_owned(),
                    source,
                    after,
                    format!("registers {} on `{app_variable}`", names.join(" and ")),
                ));
                return Ok(());
            }
        }
    }
    let file = entry.map_or_else(
        || "your server entry file".to_owned(),
        |(root, _)| root.to_owned(),
    );
    manual(
        output,
        file,
        format!(
            "Import {} from `{}` and register {} right after the app is created, before any body parser and route",
            names.join(" and "),
            cx.layout.to_root(&adapter),
            if names.len() == 2 { "them" } else { "it" }
        ),
        Some(registration_snippet(
            id,
            app_variable,
            cx.api_calls,
            cx.webhooks,
        )),
    );
    Ok(())
}

/// A Fastify app that autoloads a `plugins` folder gets billing as one more plugin file
/// there (registered on the whole app, before the autoloaded routes). Looks in the app
/// plugin files next to the entry (`app.ts` for `server.ts`, the fastify-cli layout).
fn fastify_autoload_plugin(
    cx: &Ctx<'_, '_>,
    entry: Option<&str>,
    names: &[&str],
    output: &mut Output,
) -> Result<bool, GenerateError> {
    let entry_dir = entry
        .and_then(|e| e.rsplit_once('/').map(|(dir, _)| dir))
        .unwrap_or("");
    let mut candidates: Vec<String> = entry.map(str::to_owned).into_iter().collect();
    for dir in [entry_dir, "src", ""] {
        for ext in ["ts", "js", "mjs", "cjs"] {
            let file = if dir.is_empty() {
                format!("app.{ext}")
            } else {
                format!("{dir}/app.{ext}")
            };
            if !candidates.contains(&file) {
                candidates.push(file);
            }
        }
    }
    for candidate in candidates {
        let Some(source) = read_optional(cx.target.root, &cx.layout.to_root(&candidate))? else {
            continue;
        };
        let Some(plugins) = super::autoload::plugins_dir(&source) else {
            continue;
        };
        let dir = candidate.rsplit_once('/').map_or("", |(dir, _)| dir);
        let folder = if dir.is_empty() {
            plugins
        } else {
            format!("{dir}/{plugins}")
        };
        let path = format!("{folder}/spaire-billing.{}", cx.ext());
        if cx.exists(&path)? {
            return Ok(false);
        }
        let spec = cx.spec(&path, "fastify");
        cx.file(
            output,
            path,
            "fastify-autoload",
            json!({ "names": names.join(", "), "spec_adapter": spec }),
            "autoloaded Fastify plugin: registers API-call metering and the webhook route",
        )?;
        return Ok(true);
    }
    Ok(false)
}

/// The import syntax the entry file itself uses: a CommonJS `server.js` gets `require` even
/// in a package whose other files are ES modules (and the other way round); TypeScript
/// files always take `import` (the compiler emits what the package needs).
pub(super) fn entry_uses_esm(file: &str, source: &str, package_default: bool) -> bool {
    let ext = file.rsplit_once('.').map_or("", |(_, ext)| ext);
    match ext {
        "ts" | "tsx" | "mts" | "mjs" => true,
        "cjs" | "cts" => false,
        _ => {
            let esm = source.lines().any(|line| {
                let line = line.trim_start();
                line.starts_with("import ") || line.starts_with("export ")
            });
            let cjs = source.contains("require(") || source.contains("module.exports");
            match (esm, cjs) {
                (true, _) => true,
                (false, true) => false,
                (false, false) => package_default,
            }
        }
    }
}

fn registration_snippet(id: FrameworkId, app: &str, api_calls: bool, webhooks: bool) -> String {
    let mut lines = Vec::new();
    match id {
        FrameworkId::Express => {
            if webhooks {
                lines.push(format!("{app}.use(spaireWebhooks);"));
            }
            if api_calls {
                lines.push(format!("{app}.use(spaireApiCalls());"));
            }
        }
        FrameworkId::Fastify => {
            if api_calls {
                lines.push(format!("{app}.register(spaireApiCalls);"));
            }
            if webhooks {
                lines.push(format!("{app}.register(spaireWebhooks);"));
            }
        }
        FrameworkId::Hono => {
            if api_calls {
                lines.push(format!("{app}.use(\"*\", spaireApiCalls());"));
            }
            if webhooks {
                lines.push(format!("{app}.route(\"/\", spaireWebhooks);"));
            }
        }
        _ => {
            if api_calls {
                lines.push(format!("{app}.use(spaireApiCalls);"));
            }
            if webhooks {
                lines.push(format!("{app}.use(spaireWebhooks);"));
            }
        }
    }
    lines.join("\n")
}

fn nextjs(cx: &Ctx<'_, '_>, output: &mut Output) -> Result<(), GenerateError> {
    let details = &cx.layout.details;
    let src = if cx.target.package.src_dir {
        "src/"
    } else {
        ""
    };
    let pages_router = details.pages_dir.is_some();
    let app_router = details.app_dir.is_some() || !pages_router;
    // `after()` (keeps a serverless function alive to flush) exists from Next.js 15.
    let use_after = cx.layout.framework_major.is_none_or(|major| major >= 15);
    if cx.api_calls {
        let adapter = cx.layout.module_file("next");
        let rule = super::next_routes::rule_text(&cx.renderer.base.api_paths);
        cx.file(
            output,
            adapter.clone(),
            "next",
            json!({ "app_router": app_router, "pages_router": pages_router, "use_after": use_after }),
            &format!("Next.js route wrappers that count API calls: {rule}"),
        )?;
        let app_dir = app_router.then(|| {
            cx.layout
                .detail_dir(details.app_dir.as_ref(), &format!("{src}app"))
        });
        let pages_dir = pages_router.then(|| {
            cx.layout
                .detail_dir(details.pages_dir.as_ref(), &format!("{src}pages"))
        });
        let wrapped = wrap_next_routes(cx, app_dir.as_deref(), pages_dir.as_deref(), output)?;
        if !wrapped {
            let example = if app_router {
                "export const GET = withApiCalls(async (request: Request) => Response.json({ ok: true }));"
            } else {
                "export default withApiCallsPages(async (req, res) => { res.json({ ok: true }); });"
            };
            manual(
                output,
                cx.layout.to_root(&adapter),
                format!(
                    "No API route handler to bill was found ({rule}). Wrap each route handler you add and bill for with {} imported from `{}`",
                    if app_router && pages_router {
                        "`withApiCalls` (app router) or `withApiCallsPages` (pages router)"
                    } else if app_router {
                        "`withApiCalls`"
                    } else {
                        "`withApiCallsPages`"
                    },
                    cx.layout.to_root(&adapter)
                ),
                Some(example.to_owned()),
            );
        }
    }
    if cx.webhooks {
        next_middleware_lets_webhooks_through(cx, src, output)?;
        if app_router {
            let app_dir = cx
                .layout
                .detail_dir(details.app_dir.as_ref(), &format!("{src}app"));
            let path = format!("{app_dir}/{ROUTE}/route.{}", cx.ext());
            let spec = cx.spec(&path, "webhooks");
            cx.file(
                output,
                path,
                "next-webhook-route",
                json!({ "spec_webhooks": spec }),
                "Spaire webhook route (app router)",
            )?;
        } else {
            let pages_dir = cx
                .layout
                .detail_dir(details.pages_dir.as_ref(), &format!("{src}pages"));
            let path = format!("{pages_dir}/{ROUTE}.{}", cx.ext());
            let spec = cx.spec(&path, "webhooks");
            cx.file(
                output,
                path,
                "next-webhook-pages",
                json!({ "spec_webhooks": spec }),
                "Spaire webhook API route (pages router, raw body)",
            )?;
        }
    }
    Ok(())
}

/// Wraps the handlers of every billed route file (see `next_routes`) with the generated
/// wrapper, in place; a file whose handler export cannot be wrapped safely becomes a manual
/// step at that line. True when at least one route is wrapped (now or by an earlier apply)
/// or listed, i.e. when API calls are metered somewhere.
fn wrap_next_routes(
    cx: &Ctx<'_, '_>,
    app_dir: Option<&str>,
    pages_dir: Option<&str>,
    output: &mut Output,
) -> Result<bool, GenerateError> {
    use super::next_wrap::{Wrap, wrap};
    let package_root = cx.target.root.join(cx.layout.to_root(""));
    let routes = super::next_routes::find(&package_root, app_dir, pages_dir)?;
    let adapter = cx.layout.to_root(&cx.layout.module_file("next"));
    let mut metered = false;
    for route in routes {
        let root_path = cx.layout.to_root(&route.path);
        let Some(source) = read_optional(cx.target.root, &root_path)? else {
            continue;
        };
        if super::next_routes::not_billed(&route.url, &source, &cx.renderer.base.api_paths)
            .is_some()
        {
            continue;
        }
        let tsx = !(route.path.ends_with(".ts") || route.path.ends_with(".mts"));
        let wrapper = route.router.wrapper();
        match wrap(&source, tsx, route.router, &cx.spec(&route.path, "next")) {
            Wrap::Wrapped { after, handlers } => {
                metered = true;
                output.changes.files.push(FileChange::wired_edit(
                    root_path,
                    source,
                    after,
                    format!(
                        "bills successful calls to {}: wraps {} with `{wrapper}`",
                        route.url,
                        handlers
                            .iter()
                            .map(|h| format!("`{h}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            Wrap::AlreadyWrapped => metered = true,
            Wrap::Nothing => {}
            Wrap::Unsafe { line, why } => {
                metered = true;
                output.changes.manual_steps.push(ManualStep {
                    file: root_path,
                    line: Some(line),
                    instructions: format!(
                        "Wrap this route's handlers with `{wrapper}` from `{adapter}` by hand to bill calls to {}: {why}",
                        route.url
                    ),
                    snippet: Some(match route.router {
                        super::next_wrap::Router::App => {
                            "export const POST = withApiCalls(handler);".to_owned()
                        }
                        super::next_wrap::Router::Pages => {
                            "export default withApiCallsPages(handler);".to_owned()
                        }
                    }),
                });
            }
        }
    }
    Ok(metered)
}

/// An existing `middleware.ts` (or Next 16 `proxy.ts`) whose matcher covers the webhook path
/// gets it excluded; when its matcher cannot be edited safely, a manual step at its line.
fn next_middleware_lets_webhooks_through(
    cx: &Ctx<'_, '_>,
    src: &str,
    output: &mut Output,
) -> Result<(), GenerateError> {
    use super::next_matcher::{MatcherEdit, exclude_webhook};
    let mut candidates = Vec::new();
    for dir in [src, ""] {
        for stem in ["proxy", "middleware"] {
            for ext in ["ts", "js"] {
                let file = format!("{dir}{stem}.{ext}");
                if !candidates.contains(&file) {
                    candidates.push(file);
                }
            }
        }
    }
    for candidate in candidates {
        let root_path = cx.layout.to_root(&candidate);
        let Some(source) = read_optional(cx.target.root, &root_path)? else {
            continue;
        };
        match exclude_webhook(&source) {
            MatcherEdit::Unaffected => {}
            MatcherEdit::Edited(after) => output.changes.files.push(FileChange::wired_edit(
                root_path,
                source,
                after,
                format!(
                    "lets Spaire webhooks through: {WEBHOOK_PATH} excluded from the middleware's matcher"
                ),
            )),
            MatcherEdit::Unsafe(line) => output.changes.manual_steps.push(ManualStep {
                file: root_path,
                line: Some(line),
                instructions: format!(
                    "This middleware's matcher may run it for Spaire's webhook deliveries to {WEBHOOK_PATH} (signed, with no session or CSRF token), where an auth redirect or a CSRF check would refuse every delivery. Exclude {WEBHOOK_PATH} from the matcher (or return `NextResponse.next()` for it first)"
                ),
                snippet: Some(format!("\"/((?!{}|_next/static|_next/image|favicon.ico).*)\"", ROUTE)),
            }),
        }
        // Next.js runs one middleware file: the first found is the one it loads.
        break;
    }
    Ok(())
}

fn sveltekit(cx: &Ctx<'_, '_>, output: &mut Output) -> Result<(), GenerateError> {
    if cx.api_calls {
        let adapter = cx.layout.module_file("sveltekit");
        cx.file(
            output,
            adapter.clone(),
            "sveltekit",
            json!({}),
            "SvelteKit handle hook that counts API calls",
        )?;
        let hooks = format!("src/hooks.server.{}", cx.ext());
        let other = format!(
            "src/hooks.server.{}",
            if cx.ext() == "ts" { "js" } else { "ts" }
        );
        let existing = if cx.exists(&hooks)? {
            Some(hooks.clone())
        } else if cx.exists(&other)? {
            Some(other.clone())
        } else {
            None
        };
        if let Some(existing) = existing {
            let root_path = cx.layout.to_root(&existing);
            let source = read_optional(cx.target.root, &root_path)?.unwrap_or_default();
            let spec = cx.spec(&existing, "sveltekit");
            if source.contains("spaireHandle") {
                // Registered already (a previous apply, or by hand).
            } else if let Some(after) =
                super::sveltekit_hooks::merge_handle(&source, &spec, cx.layout.esm_syntax)
            {
                output.changes.files.push(FileChange::wired_edit(
                    root_path,
                    source,
                    after,
                    "runs `spaireHandle` before your handle with `sequence(...)`".to_owned(),
                ));
            } else {
                manual(
                    output,
                    root_path,
                    format!(
                        "Add `spaireHandle` from `{}` to your handle: `export const handle = sequence(spaireHandle, handle)` (sequence from @sveltejs/kit/hooks)",
                        spec
                    ),
                    None,
                );
            }
        } else {
            let spec = cx.spec(&hooks, "sveltekit");
            cx.file(
                output,
                hooks,
                "sveltekit-hooks",
                json!({ "spec_adapter": spec }),
                "server hooks: registers API-call metering",
            )?;
        }
    }
    if cx.webhooks {
        let routes = cx
            .layout
            .detail_dir(cx.layout.details.routes_dir.as_ref(), "src/routes");
        let path = format!("{routes}/{ROUTE}/+server.{}", cx.ext());
        let spec = cx.spec(&path, "webhooks");
        cx.file(
            output,
            path,
            "sveltekit-webhook",
            json!({ "spec_webhooks": spec }),
            "Spaire webhook endpoint",
        )?;
    }
    Ok(())
}

fn nuxt(cx: &Ctx<'_, '_>, output: &mut Output) -> Result<(), GenerateError> {
    let server = cx.layout.nuxt_server_dir();
    if cx.api_calls {
        // Files in server/middleware run for every request, in name order: no registration needed.
        let path = format!("{server}/middleware/spaire-api-calls.{}", cx.ext());
        let mut extra = json!({});
        extra["spec_usage"] = json!(cx.spec(&path, "usage"));
        extra["spec_customer"] = json!(cx.spec(&path, "customer"));
        cx.file(
            output,
            path,
            "nuxt-middleware",
            extra,
            "Nuxt server middleware that counts API calls",
        )?;
    }
    if cx.webhooks {
        nuxt_csrf_lets_webhooks_through(cx, output)?;
        let path = format!("{server}/{ROUTE}.post.{}", cx.ext());
        let spec = cx.spec(&path, "webhooks");
        cx.file(
            output,
            path,
            "nuxt-webhook",
            json!({ "spec_webhooks": spec }),
            "Spaire webhook server route",
        )?;
    }
    Ok(())
}

/// `nuxt-csurf` refuses POSTs without its token: the webhook path joins its `excludedUrls`.
fn nuxt_csrf_lets_webhooks_through(
    cx: &Ctx<'_, '_>,
    output: &mut Output,
) -> Result<(), GenerateError> {
    use super::nuxt_csurf::{CsrfEdit, exclude_webhook};
    for name in ["nuxt.config.ts", "nuxt.config.js", "nuxt.config.mjs"] {
        let root_path = cx.layout.to_root(name);
        let Some(source) = read_optional(cx.target.root, &root_path)? else {
            continue;
        };
        match exclude_webhook(&source) {
            CsrfEdit::Unaffected => {}
            CsrfEdit::Edited(after) => output.changes.files.push(FileChange::wired_edit(
                root_path,
                source,
                after,
                format!(
                    "lets Spaire webhooks through nuxt-csurf: {WEBHOOK_PATH} in `csurf.excludedUrls`"
                ),
            )),
            CsrfEdit::Unsafe(line) => output.changes.manual_steps.push(ManualStep {
                file: root_path,
                line: Some(line),
                instructions: format!(
                    "nuxt-csurf answers 403 to Spaire's webhook deliveries to {WEBHOOK_PATH} (signed, without a CSRF token): add the path to the module's `excludedUrls`"
                ),
                snippet: Some(format!("csurf: {{ excludedUrls: ['{WEBHOOK_PATH}'] }}")),
            }),
        }
        break;
    }
    Ok(())
}

fn astro(cx: &Ctx<'_, '_>, output: &mut Output) -> Result<(), GenerateError> {
    if cx.api_calls {
        let adapter = cx.layout.module_file("astro");
        cx.file(
            output,
            adapter,
            "astro",
            json!({}),
            "Astro middleware that counts API calls",
        )?;
        let middleware = format!("src/middleware.{}", cx.ext());
        let taken = [
            "src/middleware.ts",
            "src/middleware.js",
            "src/middleware/index.ts",
            "src/middleware/index.js",
        ];
        let mut exists = false;
        for candidate in taken {
            exists |= cx.exists(candidate)?;
        }
        if exists {
            manual(
                output,
                cx.layout.to_root(&middleware),
                format!(
                    "Add `spaireApiCalls` from `{}` to your middleware: `export const onRequest = sequence(spaireApiCalls, onRequest)` (sequence from astro:middleware)",
                    cx.spec(&middleware, "astro")
                ),
                None,
            );
        } else {
            let spec = cx.spec(&middleware, "astro");
            cx.file(
                output,
                middleware,
                "astro-middleware",
                json!({ "spec_adapter": spec }),
                "registers API-call metering",
            )?;
        }
    }
    if cx.webhooks {
        let path = format!("src/pages/{ROUTE}.{}", cx.ext());
        let spec = cx.spec(&path, "webhooks");
        cx.file(
            output,
            path.clone(),
            "astro-webhook",
            json!({ "spec_webhooks": spec }),
            "Spaire webhook endpoint",
        )?;
        if cx.layout.details.adapter.is_none() {
            manual(
                output,
                "astro.config.mjs".to_owned(),
                "The webhook endpoint runs on demand, which needs an SSR adapter: run `npx astro add node` (or your host's adapter)".to_owned(),
                None,
            );
        }
    }
    Ok(())
}

fn remix(cx: &Ctx<'_, '_>, id: FrameworkId, output: &mut Output) -> Result<(), GenerateError> {
    let (title, router_package) = if id == FrameworkId::Remix {
        ("Remix", "@remix-run/node")
    } else {
        ("React Router", "react-router")
    };
    if cx.api_calls {
        remix_api_calls(cx, id, title, output)?;
    }
    if cx.webhooks {
        let routes = cx
            .layout
            .detail_dir(cx.layout.details.routes_dir.as_ref(), "app/routes");
        let path = format!("{routes}/api.webhooks.spaire.{}", cx.ext());
        let spec = cx.spec(&path, "webhooks");
        cx.file(
            output,
            path.clone(),
            "remix-webhook",
            json!({ "spec_webhooks": spec, "framework_title": title, "router_package": router_package }),
            "Spaire webhook resource route",
        )?;
        if id == FrameworkId::ReactRouter {
            let routes_config = format!("app/routes.{}", cx.ext());
            let config = read_optional(cx.target.root, &cx.layout.to_root(&routes_config))?;
            let entry = format!(
                "route(\"{ROUTE}\", \"{}\")",
                path.trim_start_matches("app/")
            );
            let edited = config
                .as_deref()
                .filter(|c| !c.contains("flatRoutes("))
                .and_then(|c| super::remix_registration::add_route_entry(c, &entry));
            if let (Some(after), Some(before)) = (edited, config.clone()) {
                output.changes.files.push(FileChange::wired_edit(
                    cx.layout.to_root(&routes_config),
                    before,
                    after,
                    "adds the Spaire webhook resource route to the route config".to_owned(),
                ));
            } else if !config
                .as_deref()
                .is_some_and(|c| c.contains("flatRoutes(") || c.contains(&entry))
            {
                manual(
                    output,
                    cx.layout.to_root(&routes_config),
                    "Register the webhook resource route in your route config".to_owned(),
                    Some(format!(
                        "route(\"{ROUTE}\", \"{}\"),",
                        path.trim_start_matches("app/")
                    )),
                );
            }
        }
    }
    Ok(())
}

/// API-call metering where a React Router / Remix app's requests really flow: see
/// `remix_registration` for the three cases.
fn remix_api_calls(
    cx: &Ctx<'_, '_>,
    id: FrameworkId,
    title: &str,
    output: &mut Output,
) -> Result<(), GenerateError> {
    use super::remix_registration as rr;
    let read = |rel: &str| {
        read_optional(cx.target.root, &cx.layout.to_root(rel))
            .ok()
            .flatten()
    };
    let exists = |rel: &str| read(rel).is_some();
    if let Some((server, source)) = rr::express_server(&read) {
        return remix_express_server(cx, server, source, output);
    }
    let config = (id == FrameworkId::ReactRouter)
        .then(|| rr::config_file(&exists))
        .flatten();
    let export = config
        .as_deref()
        .and_then(read)
        .and_then(|text| rr::enabled_middleware_export(&text));
    let root = rr::root_route(&rr::app_dir(cx.layout.details.routes_dir.as_ref()), &exists);
    let adapter = cx.layout.module_file("remix");
    cx.file(
        output,
        adapter.clone(),
        "remix",
        {
            let mut extra = json!({});
            extra["framework_title"] = json!(title);
            extra["rr_middleware"] = json!(export.is_some());
            extra
        },
        if export.is_some() {
            "root-route middleware that counts API calls"
        } else {
            "loader/action wrapper that counts API calls"
        },
    )?;
    worker_flush_step(cx, &read, output);
    if let (Some(export), Some(root)) = (export, root.as_ref()) {
        let source = read(root).unwrap_or_default();
        let spec = cx.spec(root, "remix");
        let root_path = cx.layout.to_root(root);
        if source.contains("spaireApiCalls") {
            return Ok(()); // registered already (a previous apply, or by hand)
        }
        if let Some(after) = rr::add_root_middleware(&source, export, &spec) {
            output.changes.files.push(FileChange::wired_edit(
                root_path,
                source,
                after,
                format!("runs `spaireApiCalls` as root-route `{export}`"),
            ));
        } else {
            let line = rr::line_of(&source, "middleware");
            output.changes.manual_steps.push(ManualStep {
                file: root_path,
                line,
                instructions: format!(
                    "Add `spaireApiCalls` from `{spec}` first in the root route's `{export}` array, so React Router runs it for every request"
                ),
                snippet: Some(format!("export const {export} = [spaireApiCalls, /* your middleware */];")),
            });
        }
        return Ok(());
    }
    let adapter_root = cx.layout.to_root(&adapter);
    let version = (id == FrameworkId::ReactRouter)
        .then(|| {
            super::toolchain::installed_version(
                cx.target.root,
                cx.layout.to_root("").trim_end_matches('/'),
                "react-router",
            )
        })
        .flatten();
    let flag = version
        .as_ref()
        .and_then(|(v, _, _)| rr::middleware_flag_for(v));
    match (flag, config, root) {
        (Some((flag, export)), Some(config), Some(root)) => {
            let config_text = read(&config).unwrap_or_default();
            manual_at(
                output,
                cx.layout.to_root(&config),
                rr::line_of(&config_text, "future")
                    .or_else(|| rr::line_of(&config_text, "export default")),
                format!(
                    "API calls are billed by React Router middleware, which needs `future.{flag}: true` here (React Router {}; it changes the `context` loaders and actions receive, see React Router's middleware guide); then add the root-route export below to `{}`. Until then, wrap each API loader or action with `withApiCalls` from `{adapter_root}`",
                    version.as_ref().map_or("", |(v, _, _)| v.as_str()),
                    cx.layout.to_root(&root),
                ),
                Some(format!(
                    "import {{ spaireApiCalls }} from \"{}\";\nexport const {export} = [spaireApiCalls];",
                    cx.spec(&root, "remix")
                )),
            );
        }
        _ => {
            let why = match (id, &version, flag) {
                (FrameworkId::Remix, _, _) => {
                    "Remix v2 has no middleware and no custom server was found".to_owned()
                }
                (_, Some((v, _, _)), None) => format!(
                    "React Router {v} has no middleware (7.3+) and no custom server was found"
                ),
                _ => "No custom server was found and the root route cannot take React Router middleware here (no react-router.config with `future.v8_middleware`, or no app/root route)".to_owned(),
            };
            manual(
                output,
                adapter_root.clone(),
                format!("{why}: wrap each API loader or action you bill for (resource routes under the api-calls meter's `paths`, default /api/) with `withApiCalls` from `{adapter_root}`"),
                Some("export const loader = withApiCalls(async ({ request }: LoaderFunctionArgs) => { /* ... */ });".to_owned()),
            );
        }
    }
    Ok(())
}

/// On Cloudflare Workers, the Worker's own `fetch` is the one place that has the execution
/// context for every request: with `future.v8_middleware` loaders and middleware get a
/// `RouterContextProvider` holding `ctx` under a key the app created, and pages that record
/// LLM usage have no middleware of ours. The exact line, as a manual step (the entry is the
/// app's own code; `workers/app.ts` of the Cloudflare templates, or wrangler's `main`).
fn worker_flush_step(cx: &Ctx<'_, '_>, read: &dyn Fn(&str) -> Option<String>, output: &mut Output) {
    let Some((entry, source)) = worker_entry(read) else {
        return;
    };
    if source.contains("flushUsageWhenSent") {
        return; // done already
    }
    let spec = cx.spec(&entry, "remix");
    let line = super::remix_registration::line_of(&source, "requestHandler(")
        .or_else(|| super::remix_registration::line_of(&source, "fetch("));
    manual_at(
        output,
        cx.layout.to_root(&entry),
        line,
        "On Cloudflare Workers, hand each request's usage to `ctx.waitUntil` in the Worker's `fetch`: a frozen isolate runs no timers, and React Router middleware cannot reach `ctx` (with `future.v8_middleware` it sits under your app's own context key), so without this line LLM and API-call events recorded in a request wait for the next request, and are lost when the isolate is evicted".to_owned(),
        Some(format!(
            "import {{ flushUsageWhenSent }} from {};\n// in fetch(request, env, ctx):\nreturn flushUsageWhenSent(ctx, await requestHandler(request, context));",
            crate::escape::js_str(&spec)
        )),
    );
}

/// The Worker entry of a Cloudflare deployment: wrangler's `main` (wrangler.toml / .json /
/// .jsonc), else the Cloudflare templates' `workers/app.ts`.
fn worker_entry(read: &dyn Fn(&str) -> Option<String>) -> Option<(String, String)> {
    let from_wrangler = ["wrangler.toml", "wrangler.jsonc", "wrangler.json"]
        .iter()
        .filter_map(|f| read(f))
        .find_map(|config| {
            config.lines().find_map(|line| {
                let rest = line.trim_start().trim_start_matches('"');
                let rest = rest
                    .strip_prefix("main")?
                    .trim_start_matches('"')
                    .trim_start();
                let rest = rest.strip_prefix('=').or_else(|| rest.strip_prefix(':'))?;
                let value = rest.trim().trim_end_matches(',').trim().trim_matches('"');
                let value = value.trim_start_matches("./");
                (!value.is_empty() && !value.contains("..")).then(|| value.to_owned())
            })
        });
    from_wrangler
        .into_iter()
        .chain(["workers/app.ts".to_owned(), "workers/app.js".to_owned()])
        .find_map(|entry| read(&entry).map(|source| (entry, source)))
}

/// A React Router / Remix app on its own Express server: the Express middleware goes right
/// after `express()`, before the framework's request handler is mounted.
fn remix_express_server(
    cx: &Ctx<'_, '_>,
    server: &str,
    source: String,
    output: &mut Output,
) -> Result<(), GenerateError> {
    use super::remix_registration as rr;
    let server_root = cx.layout.to_root(server);
    let adapter = cx.layout.module_file("express");
    // The webhook stays a resource route: only the API-call middleware goes on the server.
    cx.file(
        output,
        adapter.clone(),
        "express",
        json!({ "webhooks": false }),
        "Express middleware that counts API calls",
    )?;
    if source.contains("spaireApiCalls") {
        return Ok(());
    }
    let app_variable = express_app_variable(&source).unwrap_or_else(|| "app".to_owned());
    let specifier = cx.spec(server, "express");
    // Node runs a .js server as is: it cannot import the generated TypeScript.
    let plain_js = server.ends_with(".js") || server.ends_with(".mjs");
    let registration = Registration {
        framework: FrameworkId::Express,
        app_variable: &app_variable,
        adapter_specifier: &specifier,
        esm_syntax: entry_uses_esm(server, &source, cx.layout.esm_syntax),
        api_calls: true,
        webhooks: false,
    };
    let edited = (!(plain_js && cx.layout.typescript))
        .then(|| registration.apply(&source))
        .flatten();
    match edited {
        Some(after) => output.changes.files.push(FileChange::wired_edit(
            server_root,
            source,
            after,
            format!("registers spaireApiCalls on `{app_variable}`, before the request handler"),
        )),
        None => {
            let line = rr::line_of(&source, "express(");
            manual_at(
                output,
                server_root,
                line,
                format!(
                    "Register `spaireApiCalls()` from `{}` on the Express app right after it is created, before the request handler (this server file could not be edited safely{})",
                    cx.layout.to_root(&adapter),
                    if plain_js && cx.layout.typescript {
                        ": it is plain JavaScript run by Node, which cannot import the generated TypeScript; register it in a TypeScript module the build compiles"
                    } else {
                        ""
                    }
                ),
                Some(format!("{app_variable}.use(spaireApiCalls());")),
            );
        }
    }
    Ok(())
}

/// `app` in `const app = express(` (also `export const app = express(`).
fn express_app_variable(source: &str) -> Option<String> {
    source.lines().find_map(|line| {
        let (left, right) = line.split_once('=')?;
        if !right.trim_start().starts_with("express(") {
            return None;
        }
        let name = left.split(':').next()?.split_whitespace().last()?;
        name.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
            .then(|| name.to_owned())
    })
}

fn manual_at(
    output: &mut Output,
    file: String,
    line: Option<u32>,
    instructions: String,
    snippet: Option<String>,
) {
    output.changes.manual_steps.push(ManualStep {
        file,
        line,
        instructions,
        snippet,
    });
}

fn serverless(cx: &Ctx<'_, '_>, output: &mut Output) -> Result<(), GenerateError> {
    if cx.api_calls {
        let adapter = cx.layout.module_file("serverless");
        cx.file(
            output,
            adapter.clone(),
            "serverless",
            json!({}),
            "function wrapper that counts API calls and flushes before returning",
        )?;
        manual(
            output,
            cx.layout.to_root(&adapter),
            format!("Wrap each function handler you bill for with `withApiCalls` from `{}`", cx.layout.to_root(&adapter)),
            Some("export const POST = withApiCalls(async (request: Request) => Response.json({ ok: true }));".to_owned()),
        );
    }
    if cx.webhooks {
        let path = format!("{ROUTE}.{}", cx.ext());
        let spec = cx.spec(&path, "webhooks");
        cx.file(
            output,
            path,
            "serverless-webhook",
            json!({ "spec_webhooks": spec }),
            "Spaire webhook function",
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::worker_entry;

    fn reader(files: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |path| {
            files
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(_, text)| (*text).to_owned())
        }
    }

    #[test]
    fn the_worker_entry_is_wranglers_main_or_the_templates_file() {
        let toml = reader(&[
            (
                "wrangler.toml",
                "name = \"app\"\nmain_module = \"x\"\nmain = \"./src/worker.ts\"\n",
            ),
            ("src/worker.ts", "export default {}"),
        ]);
        assert_eq!(
            worker_entry(&toml).map(|e| e.0).as_deref(),
            Some("src/worker.ts")
        );
        let jsonc = reader(&[
            (
                "wrangler.jsonc",
                "{\n  // comment\n  \"main\": \"./workers/app.ts\",\n}",
            ),
            ("workers/app.ts", "export default {}"),
        ]);
        assert_eq!(
            worker_entry(&jsonc).map(|e| e.0).as_deref(),
            Some("workers/app.ts")
        );
        let template = reader(&[("workers/app.ts", "export default {}")]);
        assert_eq!(
            worker_entry(&template).map(|e| e.0).as_deref(),
            Some("workers/app.ts")
        );
        // A Node server: no Worker, no step.
        let node = reader(&[("server.ts", "app.listen(3000)")]);
        assert_eq!(worker_entry(&node), None);
    }
}
