//! Which packages each generator's output imports, and the install that brings them in.
//!
//! This is the only source of SDK installs: `plan` installs exactly what the generated code
//! imports and `status` reports exactly those as missing. The Go, PHP and Ruby generators
//! write standard-library code only (plus the web framework the app already depends on), so
//! they declare nothing and their plans install nothing. `tests` below proves each
//! declaration against the rendered files.

use billing_changeset::PackageInstall;
use billing_detect::{IntegrationKind, Language, Package, PackageManager};
use billing_vocab::{LanguageFamily, PYTHON_SDK, SdkPackage, TYPESCRIPT_SDK};

/// What the TypeScript/JavaScript output imports (`@spaire/sdk` and `@spaire/sdk/webhooks`).
pub const TYPESCRIPT: &[SdkPackage] = &[TYPESCRIPT_SDK];
/// What the Python output imports (`spaire_sdk`).
pub const PYTHON: &[SdkPackage] = &[PYTHON_SDK];
/// What the Python output imports instead when `spaire-sdk` cannot be installed beside the
/// project's pins ([`crate::Target::without_sdk`]) and a webhook handler is generated: the
/// Standard Webhooks verifier `spaire-sdk` itself calls, with no dependencies of its own.
pub const PYTHON_STANDARD_WEBHOOKS: SdkPackage = SdkPackage {
    family: LanguageFamily::Python,
    name: "standardwebhooks",
    aliases: &[],
};
/// Go output: `net/http`, `crypto/hmac`, ... and the app's own router package.
pub const GO: &[SdkPackage] = &[];
/// PHP output: Laravel's own classes only.
pub const PHP: &[SdkPackage] = &[];
/// Ruby output: `net/http`, `openssl`, `json` and Rails.
pub const RUBY: &[SdkPackage] = &[];

/// The model price table the TypeScript output imports when an `llm-cost` meter is planned.
pub const TYPESCRIPT_PRICES: SdkPackage = SdkPackage {
    family: LanguageFamily::Js,
    name: "@pydantic/genai-prices",
    aliases: &[],
};
/// The model price table the Python output imports when an `llm-cost` meter is planned.
pub const PYTHON_PRICES: SdkPackage = SdkPackage {
    family: LanguageFamily::Python,
    name: "genai-prices",
    aliases: &["genai_prices"],
};

/// The install of the price table the `llm-cost` helpers import, unless a manifest of the
/// package already names it (pydantic-ai users usually have it already).
pub fn price_installs(
    root: &std::path::Path,
    package: &Package,
    plan: &billing_plan::BillingPlan,
) -> Vec<PackageInstall> {
    if plan.llm_cost_markup().is_none() {
        return Vec::new();
    }
    let sdk = match package.language.family() {
        LanguageFamily::Js => &TYPESCRIPT_PRICES,
        LanguageFamily::Python => &PYTHON_PRICES,
        _ => return Vec::new(),
    };
    let named = package.manifests.iter().any(|manifest| {
        std::fs::read_to_string(root.join(manifest)).is_ok_and(|text| {
            std::iter::once(sdk.name)
                .chain(sdk.aliases.iter().copied())
                .any(|name| {
                    text.contains(&format!("\"{name}"))
                        || text.lines().any(|l| l.trim_start().starts_with(name))
                })
        })
    });
    if named {
        Vec::new()
    } else {
        vec![install(package, sdk)]
    }
}

/// The packages the generated code for `language` imports.
pub fn imported_packages(language: Language) -> &'static [SdkPackage] {
    match language.family() {
        LanguageFamily::Js => TYPESCRIPT,
        LanguageFamily::Python => PYTHON,
        LanguageFamily::Go => GO,
        LanguageFamily::Php => PHP,
        LanguageFamily::Ruby => RUBY,
    }
}

/// The packages the code generated for `target` imports: those of its language, except for
/// Python without the SDK (`standardwebhooks` when a webhook handler is generated, else none).
pub fn imported_by(target: &crate::Target<'_>) -> Vec<&'static SdkPackage> {
    let language = target.package.language;
    if language.family() == LanguageFamily::Python && target.without_sdk {
        return if crate::python::generates_webhooks(target) {
            vec![&PYTHON_STANDARD_WEBHOOKS]
        } else {
            Vec::new()
        };
    }
    imported_packages(language).iter().collect()
}

/// Whether the package already depends on `sdk` (as detect saw it).
pub fn is_installed(package: &Package, sdk: &SdkPackage) -> bool {
    package
        .integrations
        .iter()
        .any(|i| i.kind == IntegrationKind::SpaireSdk && sdk.is_named(&i.package))
}

/// The imported packages the package does not have yet.
pub fn missing_packages(package: &Package) -> Vec<&'static SdkPackage> {
    imported_packages(package.language)
        .iter()
        .filter(|sdk| !is_installed(package, sdk))
        .collect()
}

/// The command that installs `sdk` with the package's own package manager.
pub fn install_argv(package: &Package, sdk: &SdkPackage) -> Vec<String> {
    let manager = package.package_manager.as_ref().map(|m| m.id);
    let words: &[&str] = match (package.language.family(), manager) {
        (LanguageFamily::Js, Some(PackageManager::Pnpm)) => &["pnpm", "add"],
        (LanguageFamily::Js, Some(PackageManager::Yarn)) => &["yarn", "add"],
        (LanguageFamily::Js, Some(PackageManager::Bun)) => &["bun", "add"],
        (LanguageFamily::Js, _) => &["npm", "install"],
        (LanguageFamily::Python, Some(PackageManager::Uv)) => &["uv", "add"],
        (LanguageFamily::Python, Some(PackageManager::Poetry)) => &["poetry", "add"],
        (LanguageFamily::Python, Some(PackageManager::Pipenv)) => &["pipenv", "install"],
        (LanguageFamily::Python, _) => &["python", "-m", "pip", "install"],
        (LanguageFamily::Go, _) => &["go", "get"],
        (LanguageFamily::Php, _) => &["composer", "require"],
        (LanguageFamily::Ruby, _) => &["bundle", "add"],
    };
    let mut argv: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
    argv.push(sdk.name.to_owned());
    argv
}

/// The install of `sdk` into `package`, run in the package's directory.
pub fn install(package: &Package, sdk: &SdkPackage) -> PackageInstall {
    PackageInstall {
        cwd: if package.path.is_empty() {
            ".".to_owned()
        } else {
            package.path.clone()
        },
        argv: install_argv(package, sdk),
        packages: vec![sdk.name.to_owned()],
    }
}

/// One install per imported package the package lacks.
pub fn missing_installs(package: &Package) -> Vec<PackageInstall> {
    missing_packages(package)
        .into_iter()
        .map(|sdk| install(package, sdk))
        .collect()
}
