//! Which request paths the `api-calls` meter never bills, whatever its `paths` say: one
//! definition read at build time (which Next.js route files get wrapped,
//! `billing-generate`'s `next_routes`) and rendered into every generated run-time rule
//! (`isBilledApiCall` in the TypeScript usage module, which the Express, Fastify, Hono, Elysia,
//! Nuxt, SvelteKit, Astro, React Router / Remix, Next.js and function wrappers all ask).
//!
//! These are requests no customer makes as an API call: auth routes answer every page view's
//! session check and every sign-in redirect; webhooks and cron jobs are called by another
//! service; health checks by the platform; OG images by crawlers; draft-mode and
//! revalidation by the CMS; discovery documents by clients before they call anything.

/// A kind of route that is never billed, recognised by a path segment (lower-cased) or, at
/// build time only, by what the route's file uses (an auth library's handler, a webhook
/// signature check, an OG image response).
#[derive(Debug)]
pub struct NeverBilled {
    /// What the plan preview calls the rule ("auth", "webhook", ...).
    pub what: &'static str,
    /// Whole path segments that mark the route (`/api/auth/...`).
    pub segments: &'static [&'static str],
    /// How a segment may start (`og-blog`).
    pub segment_prefixes: &'static [&'static str],
    /// Text inside a segment that marks the route (`stripe-webhooks`, `[...nextauth]`).
    pub segment_contains: &'static [&'static str],
    /// Text in a route's source file that marks it (only where the file is known: Next.js
    /// route files at plan time).
    pub markers: &'static [&'static str],
}

impl NeverBilled {
    /// Whether one lower-cased path segment marks a route of this kind.
    pub fn matches_segment(&self, segment: &str) -> bool {
        self.segments.contains(&segment)
            || self.segment_prefixes.iter().any(|p| segment.starts_with(p))
            || self.segment_contains.iter().any(|c| segment.contains(c))
    }
}

/// The routes API-call metering never bills. Not a bare `ping`, `token` or `session`: apps
/// name billed endpoints so (realtime-voice apps mint a paid provider session at `/token` or
/// `/api/session`), while the auth library's own routes sit under `auth` / `oauth` segments
/// (`/api/auth/session`, `/oauth/token`) and a platform's probe carries no customer id.
pub const NEVER_BILLED: &[NeverBilled] = &[
    NeverBilled {
        what: "auth",
        segments: &[
            "auth",
            "oauth",
            "oauth2",
            "authorize",
            "callback",
            "login",
            "logout",
            "signin",
            "signout",
            "sign-in",
            "sign-out",
            "signup",
            "sign-up",
        ],
        segment_prefixes: &[],
        segment_contains: &["nextauth"],
        markers: &[
            "NextAuth(",
            "toNextJsHandler(",
            "auth.handler",
            "handlers.GET",
            "handlers.POST",
            "createRouteHandlers(",
        ],
    },
    NeverBilled {
        what: "webhook",
        segments: &[],
        segment_prefixes: &[],
        segment_contains: &["webhook"],
        markers: &[
            "webhooks.constructEvent",
            "constructEventAsync(",
            "verifyWebhook(",
            "validateEvent(",
            "new Webhook(",
        ],
    },
    NeverBilled {
        what: "cron",
        segments: &["cron", "crons"],
        segment_prefixes: &[],
        segment_contains: &[],
        markers: &[],
    },
    NeverBilled {
        what: "health-check",
        segments: &[
            "health",
            "healthz",
            "healthcheck",
            "health-check",
            "readyz",
            "livez",
        ],
        segment_prefixes: &[],
        segment_contains: &[],
        markers: &[],
    },
    NeverBilled {
        what: "OG-image",
        segments: &[
            "og",
            "opengraph-image",
            "twitter-image",
            "icon",
            "apple-icon",
        ],
        segment_prefixes: &["og-"],
        segment_contains: &[],
        markers: &["ImageResponse"],
    },
    NeverBilled {
        what: "draft-mode/revalidation",
        segments: &["draft", "preview", "exit-preview", "revalidate"],
        segment_prefixes: &[],
        segment_contains: &[],
        markers: &["draftMode()", "revalidatePath(", "revalidateTag("],
    },
    NeverBilled {
        what: "discovery (`.well-known`, JWKS)",
        segments: &[".well-known", "jwks", "jwks.json"],
        segment_prefixes: &[],
        segment_contains: &[],
        markers: &[],
    },
];

/// The never-billed kind a URL path belongs to, by its segments alone (what a run-time rule
/// can see). Segments are compared lower-cased.
pub fn never_billed_path(path: &str) -> Option<&'static str> {
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    NEVER_BILLED
        .iter()
        .find(|rule| segments.iter().any(|s| rule.matches_segment(s)))
        .map(|rule| rule.what)
}

/// Every whole segment, segment prefix and segment part of [`NEVER_BILLED`], for a
/// generated run-time rule to render (sorted, deduplicated).
pub fn never_billed_lists() -> [Vec<&'static str>; 3] {
    let collect = |field: fn(&NeverBilled) -> &'static [&'static str]| {
        let mut all: Vec<&'static str> = NEVER_BILLED.iter().flat_map(field).copied().collect();
        all.sort_unstable();
        all.dedup();
        all
    };
    [
        collect(|r| r.segments),
        collect(|r| r.segment_prefixes),
        collect(|r| r.segment_contains),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_customers_never_call_as_an_api_are_recognised() {
        for (path, what) in [
            ("/api/auth/session", "auth"),
            ("/api/Auth/callback/github", "auth"),
            ("/api/auth/[...nextauth]", "auth"),
            ("/api/webhooks/spaire", "webhook"),
            ("/api/stripe-webhook", "webhook"),
            ("/api/cron/cleanup", "cron"),
            ("/api/healthz", "health-check"),
            ("/api/og-blog", "OG-image"),
            (
                "/api/.well-known/jwks.json",
                "discovery (`.well-known`, JWKS)",
            ),
        ] {
            assert_eq!(never_billed_path(path), Some(what), "{path}");
        }
        for path in [
            "/api/posts",
            "/api/tokens/usage",
            "/api/authors",
            "/api/logo",
            "/token",
            "/api/session",
            "/api/ping",
        ] {
            assert_eq!(never_billed_path(path), None, "{path}");
        }
    }

    #[test]
    fn the_rendered_lists_cover_every_rule() {
        let [segments, prefixes, parts] = never_billed_lists();
        for rule in NEVER_BILLED {
            assert!(rule.segments.iter().all(|s| segments.contains(s)));
            assert!(rule.segment_prefixes.iter().all(|s| prefixes.contains(s)));
            assert!(rule.segment_contains.iter().all(|s| parts.contains(s)));
        }
        assert!(parts.contains(&"webhook") && segments.contains(&"auth"));
    }
}
