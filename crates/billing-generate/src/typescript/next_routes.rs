//! Which Next.js route files are billed API endpoints: the app router's `route.*` files and
//! the pages router's `pages/api/**` files, under one of the api-calls meter's `paths` (the
//! same prefixes `isBilledApiCall` checks at run time), minus the routes that are never an
//! API call a customer makes (`billing_vocab::api_calls::NEVER_BILLED`, the same rule the
//! generated run-time check applies; stated in the plan preview).

use std::path::Path;

use billing_vocab::api_calls::NEVER_BILLED;

use super::next_wrap::Router;
use crate::GenerateError;

/// A route file, package-relative, and the URL path it serves (`/api/posts/[id]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteFile {
    pub path: String,
    pub url: String,
    pub router: Router,
}

/// Why a route is not billed: outside `paths`, a static file, or one of the vocabulary's
/// [`NEVER_BILLED`] kinds (by a path segment, or by a marker in the route's source).
pub fn not_billed(url: &str, source: &str, api_paths: &[String]) -> Option<&'static str> {
    // The same prefix rule as the generated `isBilledApiCall`.
    if !api_paths
        .iter()
        .any(|prefix| url.starts_with(prefix.as_str()) || format!("{url}/") == *prefix)
    {
        return Some("outside `paths`");
    }
    let segments: Vec<String> = url
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    if segments
        .last()
        .is_some_and(|last| !last.starts_with(['[', '.']) && last.contains('.'))
    {
        return Some("static files");
    }
    NEVER_BILLED
        .iter()
        .find(|rule| {
            segments.iter().any(|segment| rule.matches_segment(segment))
                || rule.markers.iter().any(|m| source.contains(m))
        })
        .map(|rule| rule.what)
}

/// The rule as the preview states it.
pub fn rule_text(api_paths: &[String]) -> String {
    let never: Vec<&str> = NEVER_BILLED.iter().map(|rule| rule.what).collect();
    format!(
        "only successful (2xx, non-HTML) answers of route handlers under {} are billed; never pages, redirects, static files, nor {} routes (the prefixes are `paths` of the api-calls meter)",
        api_paths
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(", "),
        never.join(", ")
    )
}

/// Every route file under the app directory and `pages/api`, sorted, package-relative.
/// `package_root` is the package on disk; `app_dir` / `pages_dir` are package-relative.
pub fn find(
    package_root: &Path,
    app_dir: Option<&str>,
    pages_dir: Option<&str>,
) -> Result<Vec<RouteFile>, GenerateError> {
    let mut out = Vec::new();
    if let Some(app) = app_dir {
        for rel in walk(package_root, app)? {
            let Some((dir, file)) = rel.rsplit_once('/').or(Some(("", rel.as_str()))) else {
                continue;
            };
            let is_route = file
                .strip_prefix("route.")
                .is_some_and(|ext| ["ts", "tsx", "js", "jsx", "mjs"].contains(&ext));
            if !is_route {
                continue;
            }
            let mut url = String::new();
            let mut routed = true;
            for segment in dir.split('/').filter(|s| !s.is_empty()) {
                if segment.starts_with('_') {
                    // A private folder: Next.js does not route it.
                    routed = false;
                } else if !(segment.starts_with('(') || segment.starts_with('@')) {
                    url.push('/');
                    url.push_str(segment);
                }
            }
            if routed {
                out.push(RouteFile {
                    path: join(app, &rel),
                    url: if url.is_empty() { "/".to_owned() } else { url },
                    router: Router::App,
                });
            }
        }
    }
    if let Some(pages) = pages_dir {
        let api = join(pages, "api");
        for rel in walk(package_root, &api)? {
            let Some((stem, ext)) = rel.rsplit_once('.') else {
                continue;
            };
            if !["ts", "tsx", "js", "jsx"].contains(&ext)
                || stem.ends_with(".d")
                || stem.ends_with(".test")
                || stem.ends_with(".spec")
            {
                continue;
            }
            let stem = stem.strip_suffix("/index").unwrap_or(stem);
            let url = if stem == "index" {
                "/api".to_owned()
            } else {
                format!("/api/{stem}")
            };
            out.push(RouteFile {
                path: join(&api, &rel),
                url,
                router: Router::Pages,
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn join(dir: &str, rel: &str) -> String {
    if dir.is_empty() || dir == "." {
        rel.to_owned()
    } else {
        format!("{}/{rel}", dir.trim_end_matches('/'))
    }
}

/// Files under `package_root/dir`, relative to it (empty when the directory is missing).
fn walk(package_root: &Path, dir: &str) -> Result<Vec<String>, GenerateError> {
    let mut out = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(rel) = stack.pop() {
        let abs = package_root.join(dir).join(&rel);
        let entries = match std::fs::read_dir(&abs) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(GenerateError::Read {
                    path: join(dir, &rel),
                    source,
                });
            }
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "node_modules" || name == ".next" || name == ".git" {
                continue;
            }
            let child = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(child),
                Ok(t) if t.is_file() => out.push(child),
                _ => {}
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{find, not_billed};
    use crate::typescript::next_wrap::Router;

    fn api() -> Vec<String> {
        vec!["/api/".to_owned()]
    }

    #[test]
    fn only_api_routes_that_a_customer_calls_are_billed() {
        let billed = [
            "/api/posts",
            "/api/posts/[postId]",
            "/api/trpc/[trpc]",
            "/api/mcp",
        ];
        for url in billed {
            assert_eq!(not_billed(url, "", &api()), None, "{url}");
        }
        let never = [
            ("/api/auth/[...nextauth]", "auth"),
            ("/api/auth/[...all]", "auth"),
            ("/auth/callback", "outside `paths`"),
            ("/api/webhooks/stripe", "webhook"),
            ("/api/stripe-webhook", "webhook"),
            ("/api/cron/cleanup", "cron"),
            ("/api/health", "health-check"),
            ("/api/og", "OG-image"),
            ("/api/og-blog", "OG-image"),
            ("/api/docs/static.json", "static files"),
            ("/.well-known/openid-configuration", "outside `paths`"),
            (
                "/api/idp/.well-known/openid-configuration",
                "discovery (`.well-known`, JWKS)",
            ),
            ("/api/idp/jwks", "discovery (`.well-known`, JWKS)"),
            ("/api/oauth/token", "auth"),
        ];
        for (url, why) in never {
            assert_eq!(not_billed(url, "", &api()), Some(why), "{url}");
        }
        let stripe = "const event = stripe.webhooks.constructEvent(body, sig, secret);";
        assert_eq!(not_billed("/api/payments", stripe, &api()), Some("webhook"));
        let og = "return new ImageResponse(<div />);";
        assert_eq!(not_billed("/api/card", og, &api()), Some("OG-image"));
        // `paths` chooses the prefixes, as for every other framework.
        let v1 = vec!["/api/v1/".to_owned()];
        assert_eq!(not_billed("/api/posts", "", &v1), Some("outside `paths`"));
        assert_eq!(not_billed("/api/v1/posts", "", &v1), None);
    }

    #[test]
    fn route_files_map_to_their_urls() {
        let dir = tempfile::tempdir().unwrap();
        for file in [
            "src/app/api/posts/route.ts",
            "src/app/(marketing)/api/contact/route.js",
            "src/app/_lib/route.ts",
            "src/app/api/posts/helpers.ts",
            "src/app/page.tsx",
            "pages/api/index.ts",
            "pages/api/users/[id].ts",
            "pages/api/types.d.ts",
            "pages/about.tsx",
        ] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        let found: Vec<(String, String, Router)> = find(dir.path(), Some("src/app"), Some("pages"))
            .unwrap()
            .into_iter()
            .map(|r| (r.path, r.url, r.router))
            .collect();
        let expect = |p: &str, u: &str, r| (p.to_owned(), u.to_owned(), r);
        assert_eq!(
            found,
            [
                expect("pages/api/index.ts", "/api", Router::Pages),
                expect("pages/api/users/[id].ts", "/api/users/[id]", Router::Pages),
                expect(
                    "src/app/(marketing)/api/contact/route.js",
                    "/api/contact",
                    Router::App
                ),
                expect("src/app/api/posts/route.ts", "/api/posts", Router::App),
            ]
        );
    }
}
