//! Pieces shared by the per-ecosystem analysers: evidence, the confidence rule, dependency
//! tables for integrations, and route-file helpers.

use crate::manifest::Dependency;
use crate::profile::{
    Confidence, Evidence, Framework, FrameworkDetails, FrameworkId, Integration, IntegrationKind,
};
use crate::text::major_of;

pub fn evidence(file: &str, line: Option<u32>, text: impl Into<String>) -> Evidence {
    Evidence {
        file: file.to_owned(),
        line,
        text: text.into(),
    }
}

pub fn dep_evidence(dep: &Dependency) -> Evidence {
    let declared = dep.text.trim_end_matches(',');
    let text = if dep.dev {
        format!("{declared} (dev only)")
    } else {
        declared.to_owned()
    };
    evidence(&dep.file, Some(dep.line), text)
}

/// Collects the evidence for one framework and decides its confidence:
/// - high: declared as a dependency *and* confirmed by a config file or construction call;
/// - medium: only one of the two (a dependency alone, or a config/construction without one);
/// - never from folder layout alone (an `app/` folder is not Next.js).
#[derive(Debug)]
pub struct FrameworkBuilder {
    pub id: FrameworkId,
    pub version: Option<String>,
    pub major: Option<u64>,
    pub declared: bool,
    pub confirmed: bool,
    /// Confirmed twice, by two files only this framework writes (Django's manage.py and the
    /// settings module it names, with `INSTALLED_APPS`): as certain as a declared dependency,
    /// for a project that declares none (no requirements file at all).
    pub confirmed_twice: bool,
    pub evidence: Vec<Evidence>,
    pub details: FrameworkDetails,
}

impl FrameworkBuilder {
    pub fn new(id: FrameworkId) -> Self {
        Self {
            id,
            version: None,
            major: None,
            declared: false,
            confirmed: false,
            confirmed_twice: false,
            evidence: Vec::new(),
            details: FrameworkDetails::default(),
        }
    }

    pub fn declare(&mut self, dep: &Dependency, resolved_spec: &str) {
        if !self.declared {
            self.declared = true;
            if !resolved_spec.is_empty() {
                self.version = Some(resolved_spec.to_owned());
            }
            self.major = major_of(resolved_spec);
        }
        self.evidence.push(dep_evidence(dep));
    }

    pub fn confirm(&mut self, ev: Evidence) {
        self.confirmed = true;
        if !self.evidence.contains(&ev) {
            self.evidence.push(ev);
        }
    }

    /// Supporting evidence that does not change confidence (folder layout).
    pub fn note(&mut self, ev: Evidence) {
        if !self.evidence.contains(&ev) {
            self.evidence.push(ev);
        }
    }

    pub fn build(self) -> Option<Framework> {
        let confidence = match (self.declared, self.confirmed) {
            (true, true) => Confidence::High,
            (false, true) if self.confirmed_twice => Confidence::High,
            (true, false) | (false, true) => Confidence::Medium,
            (false, false) => return None,
        };
        Some(Framework {
            id: self.id,
            version: self.version,
            major: self.major,
            confidence,
            evidence: self.evidence,
            details: self.details,
        })
    }
}

/// Integration packages by ecosystem: (package name or prefix ending in '/', kind).
pub const NODE_INTEGRATIONS: &[(&str, IntegrationKind)] = &[
    ("ai", IntegrationKind::AiSdk),
    ("@ai-sdk/", IntegrationKind::AiProvider),
    ("openai", IntegrationKind::LlmClient),
    ("@anthropic-ai/sdk", IntegrationKind::LlmClient),
    ("@aws-sdk/client-s3", IntegrationKind::S3),
    ("@aws-sdk/lib-storage", IntegrationKind::S3),
    ("@spaire/", IntegrationKind::SpaireSdk),
    ("@polar-sh/sdk", IntegrationKind::SpaireSdk),
    ("@polar-sh/ingestion", IntegrationKind::SpaireSdk),
];

pub const PYTHON_INTEGRATIONS: &[(&str, IntegrationKind)] = &[
    ("pydantic-ai", IntegrationKind::AgentFramework),
    ("pydantic-ai-slim", IntegrationKind::AgentFramework),
    ("openai", IntegrationKind::LlmClient),
    ("anthropic", IntegrationKind::LlmClient),
    ("boto3", IntegrationKind::S3),
    ("aioboto3", IntegrationKind::S3),
    (
        billing_vocab::sdk::PYTHON_SDK.name,
        IntegrationKind::SpaireSdk,
    ),
];

pub const GO_INTEGRATIONS: &[(&str, IntegrationKind)] = &[
    ("github.com/openai/openai-go", IntegrationKind::LlmClient),
    (
        "github.com/anthropics/anthropic-sdk-go",
        IntegrationKind::LlmClient,
    ),
    (
        "github.com/aws/aws-sdk-go-v2/service/s3",
        IntegrationKind::S3,
    ),
    (billing_vocab::sdk::GO_SDK.name, IntegrationKind::SpaireSdk),
    (
        billing_vocab::sdk::GO_SDK.aliases[0],
        IntegrationKind::SpaireSdk,
    ),
];

pub const PHP_INTEGRATIONS: &[(&str, IntegrationKind)] = &[
    ("openai-php/client", IntegrationKind::LlmClient),
    ("openai-php/laravel", IntegrationKind::LlmClient),
    ("aws/aws-sdk-php", IntegrationKind::S3),
    (billing_vocab::sdk::PHP_SDK.name, IntegrationKind::SpaireSdk),
];

pub const RUBY_INTEGRATIONS: &[(&str, IntegrationKind)] = &[
    ("ruby-openai", IntegrationKind::LlmClient),
    ("openai", IntegrationKind::LlmClient),
    ("anthropic", IntegrationKind::LlmClient),
    ("aws-sdk-s3", IntegrationKind::S3),
    (
        billing_vocab::sdk::RUBY_SDK.name,
        IntegrationKind::SpaireSdk,
    ),
];

fn matches_entry(name: &str, entry: &str) -> bool {
    if let Some(prefix) = entry.strip_suffix('/') {
        name.strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1)
    } else {
        name == entry
            || name.strip_prefix(entry).is_some_and(|r| r.starts_with('/'))
                && entry.contains('/')
                && entry.contains('.')
    }
}

/// Integrations among `deps` (each package once, runtime declaration preferred).
pub fn integrations(
    deps: &[(Dependency, String)],
    table: &[(&str, IntegrationKind)],
) -> Vec<Integration> {
    let mut out: Vec<Integration> = Vec::new();
    let mut sorted: Vec<&(Dependency, String)> = deps.iter().collect();
    sorted.sort_by_key(|(d, _)| d.dev);
    for (dep, spec) in sorted {
        let Some((_, kind)) = table.iter().find(|(e, _)| matches_entry(&dep.name, e)) else {
            continue;
        };
        if out.iter().any(|i| i.package == dep.name) {
            continue;
        }
        out.push(Integration {
            package: dep.name.clone(),
            kind: *kind,
            version: (!spec.is_empty()).then(|| spec.clone()),
            major: major_of(spec),
            evidence: dep_evidence(dep),
        });
    }
    out.sort_by(|a, b| a.package.cmp(&b.package));
    out
}

/// The line where a route module exports its handler, found by text (cheap and good enough
/// for evidence): `export async function POST`, `export const GET =`, `export default`,
/// `defineEventHandler`, Remix/React Router `loader`/`action`.
pub fn route_export(src: &str) -> Option<(u32, String)> {
    const NAMES: &[&str] = &[
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ALL", "loader", "action",
    ];
    for (i, line) in src.lines().enumerate() {
        let t = line.trim_start();
        let line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
        if let Some(rest) = t.strip_prefix("export ") {
            let rest = rest.trim_start_matches("async ").trim_start();
            let rest = rest
                .strip_prefix("function ")
                .or_else(|| rest.strip_prefix("const "))
                .or_else(|| rest.strip_prefix("let "));
            if let Some(rest) = rest {
                let name: String = rest
                    .trim_start_matches('*')
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if NAMES.contains(&name.as_str()) {
                    return Some((line_no, name));
                }
            }
        }
        if t.contains("defineEventHandler(") || t.starts_with("export default") {
            let name = if t.contains("defineEventHandler") {
                "defineEventHandler"
            } else {
                "default"
            };
            return Some((line_no, name.to_owned()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integration_prefixes() {
        assert!(matches_entry("@ai-sdk/openai", "@ai-sdk/"));
        assert!(!matches_entry("@ai-sdk", "@ai-sdk/"));
        assert!(matches_entry("ai", "ai"));
        assert!(!matches_entry("aiohttp", "ai"));
        assert!(matches_entry(
            "github.com/aws/aws-sdk-go-v2/service/s3",
            "github.com/aws/aws-sdk-go-v2/service/s3"
        ));
    }

    #[test]
    fn route_exports() {
        assert_eq!(
            route_export("import x from 'y'\n\nexport async function POST(req: Request) {}"),
            Some((3, "POST".into()))
        );
        assert_eq!(
            route_export("export const GET = () => {}"),
            Some((1, "GET".into()))
        );
        assert_eq!(
            route_export("export default defineEventHandler(async () => 1)"),
            Some((1, "defineEventHandler".into()))
        );
        assert_eq!(route_export("export function helper() {}"), None);
    }
}
