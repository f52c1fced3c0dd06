//! Framework ids: the values of `[project] framework`, of `detect --json` and of the MCP
//! `framework` argument. One [`FrameworkInfo`] entry per framework says which generator
//! family handles it, what the generated code can do with it, and which spellings users
//! write for it. Adding a framework starts here (see `ARCHITECTURE.md`).

use serde::{Deserialize, Serialize};

use crate::language::LanguageFamily;

/// Declares [`FrameworkId`] and [`FRAMEWORKS`] from one list, so a variant cannot exist
/// without its registry entry (and the entry's position is the variant's discriminant).
macro_rules! frameworks {
    ($($variant:ident {
        id: $id:literal,
        name: $display:literal,
        family: $family:ident,
        capabilities: $caps:expr,
        aliases: [$($alias:literal),* $(,)?],
        packages: [$($package:literal),* $(,)?],
        files: [$($file:literal),* $(,)?],
        markers: [$($marker:literal),* $(,)?],
        templates: [$($template:literal),* $(,)?] $(,)?
    })*) => {
        /// A framework the product can detect and generate for. The serde name (kebab-case)
        /// is the id users write; a test checks it equals [`FrameworkInfo::id`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
        #[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
        #[serde(rename_all = "kebab-case")]
        pub enum FrameworkId {
            $($variant,)*
        }

        impl FrameworkId {
            /// Every framework, in registry order.
            pub const ALL: &[FrameworkId] = &[$(FrameworkId::$variant),*];
        }

        /// The registry, in the order help texts and `detect` list frameworks.
        pub const FRAMEWORKS: &[FrameworkInfo] = &[
            $(FrameworkInfo {
                framework: FrameworkId::$variant,
                id: $id,
                display_name: $display,
                family: LanguageFamily::$family,
                capabilities: $caps,
                aliases: &[$($alias),*],
                detection: Detection {
                    packages: &[$($package),*],
                    files: &[$($file),*],
                    markers: &[$($marker),*],
                },
                templates: &[$($template),*],
            },)*
        ];
    };
}

/// What generated code can do for a framework, and how its build treats that code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// It serves HTTP requests: an API-call middleware and a webhook route are generated.
    pub http: bool,
    /// Its build tool (Vite, webpack, Turbopack) compiles the app: generated code uses ESM
    /// syntax, extensionless imports and tsconfig path aliases. Such a meta-framework is
    /// listed before a server framework it runs on (React Router over Express).
    pub bundler: bool,
}

/// What `detect` looks for. Each ecosystem's rules in `billing-detect/src/analyze/` read
/// these lists; what a match means there is written next to each field. A rule that reads
/// more than a name (a project layout, Django's settings module) stays in its analyzer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detection {
    /// Manifest dependencies that declare it: npm, PyPI, Composer and gem names; for Go, a
    /// module path prefix (`github.com/labstack/echo` also matches `…/echo/v4`).
    pub packages: &'static [&'static str],
    /// Files, relative to the package directory, whose presence confirms it. A trailing `.`
    /// stands for any extension (`next.config.` matches `next.config.mjs`).
    pub files: &'static [&'static str],
    /// Source text that confirms it. JavaScript: the module whose app constructor is called
    /// (`express` for `express()`); Go: a construction on a line of a `.go` file
    /// (`gin.Default()`); Ruby: a line of one of `files`.
    pub markers: &'static [&'static str],
}

impl Detection {
    /// Whether anything at all can find the framework.
    pub fn is_empty(&self) -> bool {
        self.packages.is_empty() && self.files.is_empty() && self.markers.is_empty()
    }
}

/// Everything the product knows about one framework, in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameworkInfo {
    pub framework: FrameworkId,
    /// The id as written in `spaire-billing.toml` (`[project] framework = "nextjs"`).
    pub id: &'static str,
    /// The name users read ("Next.js").
    pub display_name: &'static str,
    /// Which generator handles it.
    pub family: LanguageFamily,
    pub capabilities: Capabilities,
    /// Other spellings accepted for the id (compared case-insensitively), e.g. "next.js".
    pub aliases: &'static [&'static str],
    pub detection: Detection,
    /// The framework's own templates (paths under `crates/billing-generate/templates/`),
    /// rendered besides the family's shared ones. Every template file there is embedded in
    /// the binary by `billing-generate`'s build script; a test there checks each entry exists.
    pub templates: &'static [&'static str],
}

/// Serves HTTP, run by Node (or Bun) as written.
const HTTP: Capabilities = Capabilities {
    http: true,
    bundler: false,
};
/// Serves HTTP, compiled by the framework's bundler.
const BUNDLED_HTTP: Capabilities = Capabilities {
    http: true,
    bundler: true,
};
const NO_HTTP: Capabilities = Capabilities {
    http: false,
    bundler: false,
};

frameworks! {
    Nextjs {
        id: "nextjs", name: "Next.js", family: Js, capabilities: BUNDLED_HTTP,
        aliases: ["next", "next.js"],
        packages: ["next"],
        files: ["next.config."],
        markers: [],
        templates: [
            "typescript/frameworks/next.ts.j2",
            "typescript/frameworks/next-webhook-route.ts.j2",
            "typescript/frameworks/next-webhook-pages.ts.j2",
        ],
    }
    Express {
        id: "express", name: "Express", family: Js, capabilities: HTTP,
        aliases: ["express.js", "expressjs"],
        packages: ["express"],
        files: [],
        markers: ["express"],
        templates: ["typescript/frameworks/express.ts.j2"],
    }
    Fastify {
        id: "fastify", name: "Fastify", family: Js, capabilities: HTTP,
        aliases: [],
        packages: ["fastify"],
        files: [],
        markers: ["fastify"],
        templates: ["typescript/frameworks/fastify.ts.j2", "typescript/frameworks/fastify-autoload.ts.j2"],
    }
    Hono {
        id: "hono", name: "Hono", family: Js, capabilities: HTTP,
        aliases: [],
        packages: ["hono"],
        files: [],
        markers: ["hono"],
        templates: ["typescript/frameworks/hono.ts.j2"],
    }
    Elysia {
        id: "elysia", name: "Elysia", family: Js, capabilities: HTTP,
        aliases: [],
        packages: ["elysia"],
        files: [],
        markers: ["elysia"],
        templates: ["typescript/frameworks/elysia.ts.j2"],
    }
    Sveltekit {
        id: "sveltekit", name: "SvelteKit", family: Js, capabilities: BUNDLED_HTTP,
        aliases: ["svelte-kit"],
        packages: ["@sveltejs/kit"],
        files: ["svelte.config."],
        markers: [],
        templates: [
            "typescript/frameworks/sveltekit.ts.j2",
            "typescript/frameworks/sveltekit-hooks.ts.j2",
            "typescript/frameworks/sveltekit-webhook.ts.j2",
        ],
    }
    Nuxt {
        id: "nuxt", name: "Nuxt", family: Js, capabilities: BUNDLED_HTTP,
        aliases: ["nuxt.js", "nuxtjs"],
        packages: ["nuxt"],
        files: ["nuxt.config."],
        markers: [],
        templates: [
            "typescript/frameworks/nuxt-middleware.ts.j2",
            "typescript/frameworks/nuxt-webhook.ts.j2",
        ],
    }
    Astro {
        id: "astro", name: "Astro", family: Js, capabilities: BUNDLED_HTTP,
        aliases: [],
        packages: ["astro"],
        files: ["astro.config."],
        markers: [],
        templates: [
            "typescript/frameworks/astro.ts.j2",
            "typescript/frameworks/astro-middleware.ts.j2",
            "typescript/frameworks/astro-webhook.ts.j2",
        ],
    }
    Remix {
        id: "remix", name: "Remix", family: Js, capabilities: BUNDLED_HTTP,
        aliases: [],
        packages: [
            "@remix-run/node",
            "@remix-run/dev",
            "@remix-run/serve",
            "@remix-run/express",
            "@remix-run/cloudflare",
            "@remix-run/deno",
        ],
        files: ["remix.config."],
        markers: [],
        templates: [
            "typescript/frameworks/remix.ts.j2",
            "typescript/frameworks/remix-webhook.ts.j2",
        ],
    }
    ReactRouter {
        id: "react-router", name: "React Router", family: Js, capabilities: BUNDLED_HTTP,
        aliases: ["react_router"],
        packages: [
            "@react-router/dev",
            "@react-router/node",
            "@react-router/serve",
            "@react-router/express",
            "@react-router/cloudflare",
        ],
        files: ["react-router.config."],
        markers: [],
        templates: [
            "typescript/frameworks/remix.ts.j2",
            "typescript/frameworks/remix-webhook.ts.j2",
        ],
    }
    NodeServerless {
        id: "node-serverless", name: "Node serverless functions", family: Js, capabilities: HTTP,
        aliases: ["serverless"],
        packages: ["serverless", "@vercel/node", "@netlify/functions", "@types/aws-lambda"],
        files: ["serverless.yml", "serverless.yaml", "serverless.ts"],
        markers: [],
        templates: [
            "typescript/frameworks/serverless.ts.j2",
            "typescript/frameworks/serverless-webhook.ts.j2",
        ],
    }
    Fastapi {
        id: "fastapi", name: "FastAPI", family: Python, capabilities: HTTP,
        aliases: ["fast-api"],
        packages: ["fastapi"],
        files: [],
        markers: [],
        templates: ["python/fastapi_integration.py.j2"],
    }
    Flask {
        id: "flask", name: "Flask", family: Python, capabilities: HTTP,
        aliases: [],
        packages: ["flask"],
        files: [],
        markers: [],
        templates: ["python/flask_integration.py.j2"],
    }
    Django {
        id: "django", name: "Django", family: Python, capabilities: HTTP,
        aliases: [],
        packages: ["django"],
        // `manage.py` also confirms it; the rule reads its settings module, so it stays
        // in `analyze/python.rs`.
        files: [],
        markers: [],
        templates: [
            "python/django_middleware.py.j2",
            "python/django_views.py.j2",
            "python/django_urls.py.j2",
        ],
    }
    PydanticAi {
        id: "pydantic-ai", name: "PydanticAI", family: Python, capabilities: NO_HTTP,
        aliases: ["pydantic_ai", "pydanticai"],
        packages: ["pydantic-ai", "pydantic-ai-slim"],
        files: [],
        markers: [],
        // No web glue: an agent gets the family's usage and balance helpers only.
        templates: [],
    }
    GoNethttp {
        id: "go-nethttp", name: "Go net/http", family: Go, capabilities: HTTP,
        aliases: ["net/http", "nethttp"],
        // The standard library: found by its constructions alone, and only when no router
        // library is in use.
        packages: [],
        files: [],
        markers: [
            "http.NewServeMux()",
            "http.HandleFunc(",
            "http.ListenAndServe(",
            "http.Server{",
        ],
        templates: ["go/middleware.go.j2"],
    }
    Gin {
        id: "gin", name: "Gin", family: Go, capabilities: HTTP,
        aliases: [],
        packages: ["github.com/gin-gonic/gin"],
        files: [],
        markers: ["gin.Default()", "gin.New()"],
        templates: ["go/gin.go.j2"],
    }
    Echo {
        id: "echo", name: "Echo", family: Go, capabilities: HTTP,
        aliases: [],
        packages: ["github.com/labstack/echo"],
        files: [],
        markers: ["echo.New()"],
        templates: ["go/echo.go.j2"],
    }
    Chi {
        id: "chi", name: "chi", family: Go, capabilities: HTTP,
        aliases: [],
        packages: ["github.com/go-chi/chi"],
        files: [],
        markers: ["chi.NewRouter()"],
        // chi routers take net/http middleware as they are.
        templates: ["go/middleware.go.j2"],
    }
    Fiber {
        id: "fiber", name: "Fiber", family: Go, capabilities: HTTP,
        aliases: [],
        packages: ["github.com/gofiber/fiber"],
        files: [],
        markers: ["fiber.New("],
        templates: ["go/fiber.go.j2"],
    }
    Laravel {
        id: "laravel", name: "Laravel", family: Php, capabilities: HTTP,
        aliases: [],
        packages: ["laravel/framework"],
        files: ["artisan"],
        markers: [],
        templates: ["php/SpaireUsage.php.j2", "php/SpaireWebhookController.php.j2"],
    }
    Rails {
        id: "rails", name: "Rails", family: Ruby, capabilities: HTTP,
        aliases: ["ruby-on-rails"],
        packages: ["rails"],
        files: ["config/application.rb"],
        markers: ["Rails::Application", "require \"rails"],
        templates: [
            "ruby/initializer.rb.j2",
            "ruby/webhooks_controller.rb.j2",
            "ruby/api_call_middleware.rb.j2",
        ],
    }
}

impl FrameworkId {
    /// Every framework, in registry order.
    pub fn all() -> impl Iterator<Item = FrameworkId> {
        Self::ALL.iter().copied()
    }

    /// This framework's registry entry.
    pub fn info(self) -> &'static FrameworkInfo {
        // The macro writes entries in variant order, so the discriminant is the index.
        &FRAMEWORKS[self as usize]
    }

    /// The id as written in `spaire-billing.toml`.
    pub fn as_str(self) -> &'static str {
        self.info().id
    }

    pub fn family(self) -> LanguageFamily {
        self.info().family
    }

    /// The frameworks of one language family, in registry order.
    pub fn of_family(family: LanguageFamily) -> impl Iterator<Item = &'static FrameworkInfo> {
        FRAMEWORKS.iter().filter(move |f| f.family == family)
    }

    /// The framework a user means by `text`: the id or an alias, ignoring case and
    /// surrounding blanks.
    pub fn from_spelling(text: &str) -> Option<FrameworkId> {
        let wanted = text.trim();
        FRAMEWORKS
            .iter()
            .find(|f| {
                f.id.eq_ignore_ascii_case(wanted)
                    || f.aliases.iter().any(|a| a.eq_ignore_ascii_case(wanted))
            })
            .map(|f| f.framework)
    }

    /// Every id, for messages listing the accepted values.
    pub fn ids() -> impl Iterator<Item = &'static str> {
        FRAMEWORKS.iter().map(|f| f.id)
    }
}

impl std::fmt::Display for FrameworkId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_ids_are_the_serde_names_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for info in FRAMEWORKS {
            let serde_name = serde_json::to_value(info.framework).unwrap();
            assert_eq!(serde_name, info.id, "{:?}", info.framework);
            assert!(seen.insert(info.id), "duplicate id {}", info.id);
            let parsed: FrameworkId = serde_json::from_value(serde_name).unwrap();
            assert_eq!(parsed, info.framework);
        }
    }

    #[test]
    fn info_finds_each_variants_own_entry() {
        for info in FRAMEWORKS {
            assert_eq!(info.framework.info(), info);
            assert_eq!(FrameworkId::from_spelling(info.id), Some(info.framework));
        }
    }

    #[test]
    fn aliases_and_case_are_accepted_and_never_ambiguous() {
        assert_eq!(
            FrameworkId::from_spelling("Next.js"),
            Some(FrameworkId::Nextjs)
        );
        assert_eq!(
            FrameworkId::from_spelling(" FastAPI "),
            Some(FrameworkId::Fastapi)
        );
        assert_eq!(
            FrameworkId::from_spelling("net/http"),
            Some(FrameworkId::GoNethttp)
        );
        assert_eq!(FrameworkId::from_spelling("flsk"), None);
        let mut seen = std::collections::HashSet::new();
        for info in FRAMEWORKS {
            for spelling in std::iter::once(&info.id).chain(info.aliases) {
                assert!(
                    seen.insert(spelling.to_ascii_lowercase()),
                    "`{spelling}` names two frameworks"
                );
            }
        }
    }

    /// A registry entry is the whole description of a framework: `detect` must be able to
    /// find it and, when it serves HTTP, the generator must have glue templates for it
    /// (their existence is checked in `billing-generate`, which embeds them).
    #[test]
    fn every_framework_has_detection_data_and_templates() {
        for info in FRAMEWORKS {
            assert!(
                !info.detection.is_empty(),
                "{}: no package, file or marker can detect it",
                info.id
            );
            assert!(
                !info.capabilities.http || !info.templates.is_empty(),
                "{}: serves HTTP but lists no template for its middleware / webhook route",
                info.id
            );
            for template in info.templates {
                let dir = template.split('/').next().unwrap_or("");
                assert_eq!(
                    dir,
                    info.family.template_dir(),
                    "{}: template {template} is not in its family's directory",
                    info.id
                );
                assert!(template.ends_with(".j2"), "{}: {template}", info.id);
            }
            assert!(
                !info.capabilities.bundler || info.family == LanguageFamily::Js,
                "{}: only JavaScript frameworks have a bundler",
                info.id
            );
        }
    }

    #[test]
    fn families_match_the_generators() {
        assert_eq!(FrameworkId::Hono.family(), LanguageFamily::Js);
        assert_eq!(FrameworkId::Gin.family(), LanguageFamily::Go);
        assert_eq!(FrameworkId::Rails.family(), LanguageFamily::Ruby);
        assert!(!FrameworkId::PydanticAi.info().capabilities.http);
    }
}
