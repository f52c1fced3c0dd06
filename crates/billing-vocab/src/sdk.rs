//! The Spaire SDK packages, per language family.
//!
//! Only the TypeScript and Python generators import an SDK; the Go, PHP and Ruby generators
//! use the standard library only (their SDKs cannot talk to a sandbox or have no webhook
//! helper, see `sdk-ground-truth.md`). Which generator imports what is declared by the
//! generator itself (`billing_generate::imported_packages`); this table only names the
//! packages, for installs and for detecting one that is already there.

use crate::language::LanguageFamily;

/// One SDK package in its ecosystem's registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdkPackage {
    pub family: LanguageFamily,
    /// The name to install (`npm install <name>`, `pip install <name>`, ...).
    pub name: &'static str,
    /// Other names the same package is declared under in manifests (PEP 503 spellings, old
    /// module paths); detection treats them as the SDK.
    pub aliases: &'static [&'static str],
}

pub const TYPESCRIPT_SDK: SdkPackage = SdkPackage {
    family: LanguageFamily::Js,
    name: "@spaire/sdk",
    aliases: &[],
};

pub const PYTHON_SDK: SdkPackage = SdkPackage {
    family: LanguageFamily::Python,
    name: "spaire-sdk",
    aliases: &["spaire_sdk"],
};

pub const GO_SDK: SdkPackage = SdkPackage {
    family: LanguageFamily::Go,
    name: "app.spairehq.com/go",
    aliases: &["github.com/Spaire-Tech/spaire-go"],
};

pub const PHP_SDK: SdkPackage = SdkPackage {
    family: LanguageFamily::Php,
    name: "spaire-tech/spaire-php",
    aliases: &[],
};

pub const RUBY_SDK: SdkPackage = SdkPackage {
    family: LanguageFamily::Ruby,
    name: "spaire",
    aliases: &[],
};

/// Every SDK, one per family.
pub const SDKS: [SdkPackage; 5] = [TYPESCRIPT_SDK, PYTHON_SDK, GO_SDK, PHP_SDK, RUBY_SDK];

impl SdkPackage {
    /// The SDK of a language family.
    pub fn for_family(family: LanguageFamily) -> &'static SdkPackage {
        SDKS.iter()
            .find(|s| s.family == family)
            .expect("one SDK per family (checked by a test)")
    }

    /// Whether a manifest dependency called `name` is this SDK (PEP 503 for Python: case and
    /// `-`/`_` do not matter).
    pub fn is_named(&self, name: &str) -> bool {
        let same = |a: &str, b: &str| {
            if self.family == LanguageFamily::Python {
                a.replace('_', "-")
                    .eq_ignore_ascii_case(&b.replace('_', "-"))
            } else {
                a == b
            }
        };
        same(self.name, name) || self.aliases.iter().any(|a| same(a, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sdk_per_family() {
        for family in [
            LanguageFamily::Js,
            LanguageFamily::Python,
            LanguageFamily::Go,
            LanguageFamily::Php,
            LanguageFamily::Ruby,
        ] {
            assert_eq!(SDKS.iter().filter(|s| s.family == family).count(), 1);
            assert_eq!(SdkPackage::for_family(family).family, family);
        }
    }

    #[test]
    fn python_names_compare_per_pep_503() {
        assert!(PYTHON_SDK.is_named("Spaire_SDK"));
        assert!(!TYPESCRIPT_SDK.is_named("@spaire/SDK"));
        assert!(GO_SDK.is_named("github.com/Spaire-Tech/spaire-go"));
    }
}
