//! Framework ids: the values of `[project] framework`, of `detect --json` and of the MCP
//! `framework` argument. One [`FrameworkInfo`] entry per framework says which generator
//! family handles it, what the generated code can do with it, and which spellings users
//! write for it. Adding a framework starts here (see `ARCHITECTURE.md`).

use serde::{Deserialize, Serialize};

use crate::language::LanguageFamily;

/// Declares [`FrameworkId`] and [`FRAMEWORKS`] from one list, so a variant cannot exist
/// without its registry entry (and the entry's position is the variant's discriminant).
macro_rules! frameworks {
    ($($variant:ident => $id:literal, $display:literal, $family:ident, $caps:expr, [$($alias:literal),*];)*) => {
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
            },)*
        ];
    };
}

/// What generated code can do for a framework.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// It serves HTTP requests: an API-call middleware and a webhook route are generated.
    pub http: bool,
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
}

const HTTP: Capabilities = Capabilities { http: true };
const NO_HTTP: Capabilities = Capabilities { http: false };

frameworks! {
    Nextjs => "nextjs", "Next.js", Js, HTTP, ["next", "next.js"];
    Express => "express", "Express", Js, HTTP, ["express.js", "expressjs"];
    Fastify => "fastify", "Fastify", Js, HTTP, [];
    Hono => "hono", "Hono", Js, HTTP, [];
    Elysia => "elysia", "Elysia", Js, HTTP, [];
    Sveltekit => "sveltekit", "SvelteKit", Js, HTTP, ["svelte-kit"];
    Nuxt => "nuxt", "Nuxt", Js, HTTP, ["nuxt.js", "nuxtjs"];
    Astro => "astro", "Astro", Js, HTTP, [];
    Remix => "remix", "Remix", Js, HTTP, [];
    ReactRouter => "react-router", "React Router", Js, HTTP, ["react_router"];
    NodeServerless => "node-serverless", "Node serverless functions", Js, HTTP, ["serverless"];
    Fastapi => "fastapi", "FastAPI", Python, HTTP, ["fast-api"];
    Flask => "flask", "Flask", Python, HTTP, [];
    Django => "django", "Django", Python, HTTP, [];
    PydanticAi => "pydantic-ai", "PydanticAI", Python, NO_HTTP, ["pydantic_ai", "pydanticai"];
    GoNethttp => "go-nethttp", "Go net/http", Go, HTTP, ["net/http", "nethttp"];
    Gin => "gin", "Gin", Go, HTTP, [];
    Echo => "echo", "Echo", Go, HTTP, [];
    Chi => "chi", "chi", Go, HTTP, [];
    Fiber => "fiber", "Fiber", Go, HTTP, [];
    Laravel => "laravel", "Laravel", Php, HTTP, [];
    Rails => "rails", "Rails", Ruby, HTTP, ["ruby-on-rails"];
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

    #[test]
    fn families_match_the_generators() {
        assert_eq!(FrameworkId::Hono.family(), LanguageFamily::Js);
        assert_eq!(FrameworkId::Gin.family(), LanguageFamily::Go);
        assert_eq!(FrameworkId::Rails.family(), LanguageFamily::Ruby);
        assert!(!FrameworkId::PydanticAi.info().capabilities.http);
    }
}
