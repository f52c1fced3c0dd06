//! Where API-call metering is registered in a React Router 7 / Remix app, by what really
//! serves its requests:
//!
//! 1. a custom Express server (a file that builds `express()` and mounts the framework's
//!    `createRequestHandler`): the Express middleware, right after the app is built and so
//!    before the request handler;
//! 2. `react-router-serve` on React Router 7.3+: a server `middleware` export in the root
//!    route, which React Router runs for every request, resource routes (the API) included
//!    (`handleResourceRequest` passes `generateMiddlewareResponse` to `queryRoute` when
//!    `future.v8_middleware` is on). The export is `middleware` under `future.v8_middleware`
//!    (7.9+) and `unstable_middleware` under `future.unstable_middleware` (7.3 to 7.8);
//!    the React Router Vite plugin strips either from the client build (with the `.server`
//!    import it uses). Without the flag the export would be ignored, so turning it on is a
//!    listed step: it changes the type of `context` in every loader and action;
//! 3. otherwise (Remix v2 under `remix-serve`, which has no middleware; React Router before
//!    7.3) a listed step to wrap the loaders and actions to bill with `withApiCalls`.
//!
//! The webhook resource route is added to an `app/routes.ts` route list (`route(...)` as its
//! last element) unless the app uses `flatRoutes()`, which finds the file by its name.
//!
//! In every case only successful API requests are billed (`isBilledApiCall`): never
//! documents, single-fetch `.data` requests, assets, redirects or the webhook route.

use std::path::Path;

/// Files that may build the custom server, package-relative, in the order they are tried.
pub const SERVER_CANDIDATES: &[&str] = &[
    "server/app.ts",
    "server/index.ts",
    "server/server.ts",
    "server.ts",
    "server.mts",
    "server/app.js",
    "server/index.js",
    "server.js",
    "server.mjs",
];

/// The custom server file among [`SERVER_CANDIDATES`]: builds an Express app and mounts the
/// framework's request handler in the same file. `(package-relative path, source)`.
pub fn express_server(read: &dyn Fn(&str) -> Option<String>) -> Option<(&'static str, String)> {
    SERVER_CANDIDATES.iter().find_map(|file| {
        let source = read(file)?;
        let mounts = source.contains("createRequestHandler(")
            && (source.contains("@react-router/express") || source.contains("@remix-run/express"));
        (mounts && source.contains("express(")).then_some((*file, source))
    })
}

/// The 1-based line of the first line containing `needle`.
pub fn line_of(source: &str, needle: &str) -> Option<u32> {
    source
        .lines()
        .position(|l| l.contains(needle))
        .and_then(|i| u32::try_from(i + 1).ok())
}

/// The root route's middleware export the app's React Router config enables: `middleware`
/// (`future.v8_middleware`, 7.9+) or `unstable_middleware` (`future.unstable_middleware`,
/// 7.3 to 7.8); `None` when neither flag is on.
pub fn enabled_middleware_export(config: &str) -> Option<&'static str> {
    let on = |flag: &str| {
        config.lines().any(|l| {
            let code = l.split("//").next().unwrap_or(l);
            let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
            compact.contains(&format!("{flag}:true"))
        })
    };
    if on("v8_middleware") {
        Some("middleware")
    } else if on("unstable_middleware") {
        Some("unstable_middleware")
    } else {
        None
    }
}

/// The flag and export a React Router version supports: 7.9+ `v8_middleware` / `middleware`,
/// 7.3 to 7.8 `unstable_middleware` / `unstable_middleware`, older none.
pub fn middleware_flag_for(version: &str) -> Option<(&'static str, &'static str)> {
    let digits: Vec<u64> = version
        .trim_start_matches(['^', '~', '=', 'v', '>', ' '])
        .split('.')
        .map_while(|p| p.parse().ok())
        .collect();
    match digits.as_slice() {
        [major, ..] if *major > 7 => Some(("v8_middleware", "middleware")),
        [7, minor, ..] if *minor >= 9 => Some(("v8_middleware", "middleware")),
        [7, minor, ..] if *minor >= 3 => Some(("unstable_middleware", "unstable_middleware")),
        _ => None,
    }
}

/// The root route module's path (package-relative) in `app_dir`.
pub fn root_route(app_dir: &str, exists: &dyn Fn(&str) -> bool) -> Option<String> {
    ["tsx", "ts", "jsx", "js"]
        .iter()
        .map(|ext| format!("{app_dir}/root.{ext}"))
        .find(|p| exists(p))
}

/// The root route with `export const <export_name> = [spaireApiCalls];` (and its import), or
/// `None` when it already exports server middleware (the user merges ours into it) or is not
/// an ES module.
pub fn add_root_middleware(source: &str, export_name: &str, specifier: &str) -> Option<String> {
    let exports_middleware = source.lines().any(|l| {
        let l = l.trim_start();
        ["middleware", "unstable_middleware"].iter().any(|name| {
            [
                format!("export const {name}"),
                format!("export let {name}"),
                format!("export function {name}"),
                format!("export async function {name}"),
            ]
            .iter()
            .any(|p| l.starts_with(p.as_str()) && !l[p.len()..].starts_with(char::is_alphanumeric))
        }) || (l.starts_with("export {") && l.contains("middleware"))
    });
    if exports_middleware || source.contains("spaireApiCalls") || !source.contains("export ") {
        return None;
    }
    let with_import = super::registration::insert_import(
        source,
        &format!("import {{ spaireApiCalls }} from \"{specifier}\";"),
    );
    let mut out = with_import;
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!(
        "\n// Spaire usage billing: counts each successful API request (server only).\nexport const {export_name} = [spaireApiCalls];\n"
    ));
    Some(out)
}

/// The React Router config file of the package, package-relative.
pub fn config_file(exists: &dyn Fn(&str) -> bool) -> Option<String> {
    ["ts", "js", "mjs", "mts"]
        .iter()
        .map(|ext| format!("react-router.config.{ext}"))
        .find(|p| exists(p))
}

/// The app directory (`app`, or the parent of the routes directory).
pub fn app_dir(routes_dir: Option<&String>) -> String {
    routes_dir
        .and_then(|r| {
            Path::new(r)
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
        })
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "app".to_owned())
}

/// `app/routes.ts` with `entry` (`route("api/webhooks/spaire", "routes/...")`) as the last
/// element of its `export default [...]` array and `route` imported from
/// `@react-router/dev/routes`; `None` for other shapes (a default export that is not an array
/// literal, such as `flatRoutes()`, or no such import to extend).
pub fn add_route_entry(source: &str, entry: &str) -> Option<String> {
    if source.contains(entry) {
        return None;
    }
    let start = source.find("export default [")? + "export default ".len();
    let close = matching_bracket(source, start)?;
    let inner = &source[start + 1..close];
    let mut out = String::with_capacity(source.len() + entry.len() + 16);
    out.push_str(&source[..=start]);
    match inner
        .rfind('\n')
        .filter(|_| inner.trim_end().contains('\n'))
    {
        Some(last_newline) => {
            // Multi-line: a line of its own, indented like the elements, after a comma.
            let body = inner[..last_newline].trim_end();
            let element_line = inner[..last_newline].rfind('\n').map_or(0, |i| i + 1);
            let indent: String = inner[element_line..]
                .chars()
                .take_while(|c| *c == ' ' || *c == '\t')
                .collect();
            out.push_str(body);
            if !body.ends_with(',') {
                out.push(',');
            }
            out.push('\n');
            out.push_str(if indent.is_empty() { "  " } else { &indent });
            out.push_str(entry);
            out.push(',');
            out.push_str(&inner[last_newline..]);
        }
        None => {
            let body = inner.trim_end();
            out.push_str(body);
            if body.ends_with(',') {
                out.push(' ');
            } else if !body.trim().is_empty() {
                out.push_str(", ");
            }
            out.push_str(entry);
        }
    }
    out.push_str(&source[close..]);
    import_route(&out)
}

/// Adds `route` to the one-line `{ ... }` import from `@react-router/dev/routes`.
fn import_route(source: &str) -> Option<String> {
    let line = source
        .lines()
        .find(|l| l.starts_with("import ") && l.contains("\"@react-router/dev/routes\""))?;
    let open = line.find('{')?;
    let close = line.find('}')?;
    let names = &line[open + 1..close];
    if names
        .split(',')
        .any(|n| n.trim() == "route" || n.trim().ends_with(" as route"))
    {
        return Some(source.to_owned());
    }
    let names = names.trim().trim_end_matches(',');
    let edited = format!(
        "{}{{ {names}, route }}{}",
        &line[..open],
        &line[close + 1..]
    );
    Some(source.replacen(line, &edited, 1))
}

/// The index of the `]` closing the `[` at `open`, skipping quoted strings.
fn matching_bracket(source: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote = None;
    for (i, c) in source[open..].char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '"' | '\'' | '`' => quote = Some(c),
                '[' | '(' | '{' => depth += 1,
                ']' | ')' | '}' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return (c == ']').then_some(open + i);
                    }
                }
                _ => {}
            },
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_flag_chooses_the_export() {
        let v8 = "export default {\n  future: {\n    v8_middleware: true,\n  },\n};\n";
        assert_eq!(enabled_middleware_export(v8), Some("middleware"));
        let unstable = "export default { future: { unstable_middleware: true } };";
        assert_eq!(
            enabled_middleware_export(unstable),
            Some("unstable_middleware")
        );
        let off = "export default {\n  // v8_middleware: true,\n  ssr: true,\n};\n";
        assert_eq!(enabled_middleware_export(off), None);
        assert_eq!(
            enabled_middleware_export("future: { v8_middleware: false }"),
            None
        );
    }

    #[test]
    fn versions_give_the_flag_they_support() {
        assert_eq!(
            middleware_flag_for("7.16.0"),
            Some(("v8_middleware", "middleware"))
        );
        assert_eq!(
            middleware_flag_for("^7.9.0"),
            Some(("v8_middleware", "middleware"))
        );
        assert_eq!(
            middleware_flag_for("7.5.3"),
            Some(("unstable_middleware", "unstable_middleware"))
        );
        assert_eq!(middleware_flag_for("7.2.0"), None);
        assert_eq!(middleware_flag_for("*"), None);
    }

    #[test]
    fn root_middleware_is_added_once_and_never_over_the_apps_own() {
        let root = "import { Outlet } from \"react-router\";\nimport type { Route } from \"./+types/root\";\n\nexport default function App() {\n  return <Outlet />;\n}\n";
        let out = add_root_middleware(root, "middleware", "./.server/spaire/remix").unwrap();
        assert!(out.contains("import type { Route } from \"./+types/root\";\nimport { spaireApiCalls } from \"./.server/spaire/remix\";\n"), "{out}");
        assert!(
            out.ends_with("export const middleware = [spaireApiCalls];\n"),
            "{out}"
        );
        assert_eq!(add_root_middleware(&out, "middleware", "./x"), None);
        let own = format!("{root}export const middleware: Route.MiddlewareFunction[] = [auth];\n");
        assert_eq!(add_root_middleware(&own, "middleware", "./x"), None);
        let middlewares_helper = format!("{root}export const middlewareOptions = {{}};\n");
        assert!(add_root_middleware(&middlewares_helper, "middleware", "./x").is_some());
    }

    #[test]
    fn the_custom_server_is_the_file_that_mounts_the_request_handler() {
        let files = |path: &str| {
            match path {
            "server.js" => Some("import express from \"express\";\nconst app = express();\napp.use(await import(BUILD).then((m) => m.app));\n".to_owned()),
            "server/app.ts" => Some("import { createRequestHandler } from \"@react-router/express\";\nimport express from \"express\";\n\nexport const app = express();\n\napp.use(createRequestHandler({ build }));\n".to_owned()),
            _ => None,
        }
        };
        assert_eq!(
            express_server(&files).map(|(f, _)| f),
            Some("server/app.ts")
        );
        assert_eq!(express_server(&|_| None), None);
    }

    #[test]
    fn the_webhook_route_joins_the_route_list_and_route_is_imported() {
        let entry = "route(\"api/webhooks/spaire\", \"routes/api.webhooks.spaire.ts\")";
        let one_line = "import { type RouteConfig, index } from \"@react-router/dev/routes\";\n\nexport default [index(\"routes/home.tsx\")] satisfies RouteConfig;\n";
        let out = add_route_entry(one_line, entry).unwrap();
        assert_eq!(
            out,
            format!(
                "import {{ type RouteConfig, index, route }} from \"@react-router/dev/routes\";\n\nexport default [index(\"routes/home.tsx\"), {entry}] satisfies RouteConfig;\n"
            )
        );
        assert_eq!(add_route_entry(&out, entry), None);
        let multi = "import { type RouteConfig, index, route } from \"@react-router/dev/routes\";\n\nexport default [\n  index(\"routes/home.tsx\"),\n  route(\"about\", \"routes/about.tsx\")\n] satisfies RouteConfig;\n";
        let out = add_route_entry(multi, entry).unwrap();
        assert!(
            out.contains(&format!(
                "  route(\"about\", \"routes/about.tsx\"),\n  {entry},\n] satisfies"
            )),
            "{out}"
        );
        let flat = "import { flatRoutes } from \"@react-router/fs-routes\";\nexport default flatRoutes() satisfies RouteConfig;\n";
        assert_eq!(add_route_entry(flat, entry), None);
    }
}
