//! Languages a package can be written in, and the families generators are written per.

use serde::{Deserialize, Serialize};

/// The language of a detected package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Language {
    TypeScript,
    JavaScript,
    Python,
    Go,
    Php,
    Ruby,
}

/// One generator per family: TypeScript and JavaScript share templates (and the npm
/// ecosystem), every other language is its own family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum LanguageFamily {
    /// TypeScript or JavaScript on Node-compatible runtimes (npm registry).
    Js,
    /// PyPI.
    Python,
    /// Go modules.
    Go,
    /// Composer / Packagist.
    Php,
    /// RubyGems / Bundler.
    Ruby,
}

impl Language {
    pub const ALL: [Language; 6] = [
        Language::TypeScript,
        Language::JavaScript,
        Language::Python,
        Language::Go,
        Language::Php,
        Language::Ruby,
    ];

    /// The name users read in messages ("TypeScript", "PHP").
    pub fn display_name(self) -> &'static str {
        match self {
            Language::TypeScript => "TypeScript",
            Language::JavaScript => "JavaScript",
            Language::Python => "Python",
            Language::Go => "Go",
            Language::Php => "PHP",
            Language::Ruby => "Ruby",
        }
    }

    pub fn family(self) -> LanguageFamily {
        match self {
            Language::TypeScript | Language::JavaScript => LanguageFamily::Js,
            Language::Python => LanguageFamily::Python,
            Language::Go => LanguageFamily::Go,
            Language::Php => LanguageFamily::Php,
            Language::Ruby => LanguageFamily::Ruby,
        }
    }
}

impl LanguageFamily {
    /// The name users read in messages.
    pub fn display_name(self) -> &'static str {
        match self {
            LanguageFamily::Js => "JavaScript/TypeScript",
            LanguageFamily::Python => "Python",
            LanguageFamily::Go => "Go",
            LanguageFamily::Php => "PHP",
            LanguageFamily::Ruby => "Ruby",
        }
    }

    /// The family's directory under `crates/billing-generate/templates/`, which its
    /// generator renders from.
    pub fn template_dir(self) -> &'static str {
        match self {
            LanguageFamily::Js => "typescript",
            LanguageFamily::Python => "python",
            LanguageFamily::Go => "go",
            LanguageFamily::Php => "php",
            LanguageFamily::Ruby => "ruby",
        }
    }
}
