//! Short human descriptions of a package, shared by the CLI, the setup wizard and MCP:
//! "Next.js 15 · app router · src/ · TypeScript (ESM) · pnpm · Vercel AI SDK 5 (openai) ·
//! 3 LLM call sites".

use crate::profile::{
    CallSiteKind, FrameworkId, IntegrationKind, Language, ModuleSystem, Package, PackageManager,
};

pub fn framework_name(id: FrameworkId) -> &'static str {
    id.info().display_name
}

pub fn package_manager_name(id: PackageManager) -> &'static str {
    match id {
        PackageManager::Pnpm => "pnpm",
        PackageManager::Yarn => "yarn",
        PackageManager::Npm => "npm",
        PackageManager::Bun => "bun",
        PackageManager::Uv => "uv",
        PackageManager::Poetry => "poetry",
        PackageManager::Pipenv => "pipenv",
        PackageManager::Pip => "pip",
        PackageManager::Go => "go modules",
        PackageManager::Composer => "composer",
        PackageManager::Bundler => "bundler",
    }
}

pub fn language_name(pkg: &Package) -> String {
    let lang = pkg.language.display_name();
    match pkg.module_system {
        Some(ModuleSystem::Esm) => format!("{lang} (ESM)"),
        Some(ModuleSystem::Cjs) => format!("{lang} (CommonJS)"),
        None => lang.to_owned(),
    }
}

/// "15" for `^15.1.0`, but "0.115" for `>=0.115.0`: a 0.x major says nothing.
pub fn short_version(spec: Option<&str>, major: Option<u64>) -> Option<String> {
    let major = major?;
    if major > 0 {
        return Some(major.to_string());
    }
    let spec = spec.unwrap_or_default();
    let start = spec.find(|c: char| c.is_ascii_digit())?;
    let minor: String = spec[start..]
        .splitn(3, '.')
        .take(2)
        .map(|p| {
            p.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(".");
    Some(minor)
}

/// The one-line summary of a package.
/// The sample-code directory (`examples/chat`) of the package's app, when detection chose
/// it because the package has no app outside its samples.
fn sample_code_dir(pkg: &Package) -> Option<String> {
    let entry = pkg
        .frameworks
        .iter()
        .find_map(|f| f.details.entry_file.as_deref())?;
    let dir = entry.rsplit_once('/').map(|(dir, _)| dir)?;
    dir.split('/')
        .any(|part| crate::analyze::sources::EXAMPLE_DIRS.contains(&part))
        .then(|| dir.to_owned())
}

pub fn package_line(pkg: &Package) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut frameworks: Vec<_> = pkg.frameworks.iter().collect();
    frameworks.sort_by_key(|f| std::cmp::Reverse(f.confidence));
    let names: Vec<String> = frameworks
        .iter()
        .map(|f| match short_version(f.version.as_deref(), f.major) {
            Some(v) => format!("{} {v}", framework_name(f.id)),
            None => framework_name(f.id).to_owned(),
        })
        .collect();
    if !names.is_empty() {
        parts.push(names.join(" + "));
    }
    for f in &frameworks {
        let d = &f.details;
        match f.id {
            FrameworkId::Nextjs => match (&d.app_dir, &d.pages_dir) {
                (Some(_), Some(_)) => parts.push("app + pages router".to_owned()),
                (Some(_), None) => parts.push("app router".to_owned()),
                (None, Some(_)) => parts.push("pages router".to_owned()),
                (None, None) => {}
            },
            FrameworkId::Nuxt if d.src_dir.as_deref() == Some("app") => {
                parts.push("app/ layout".to_owned());
            }
            FrameworkId::Astro => {
                let mut s = format!("output: {}", d.output.as_deref().unwrap_or("static"));
                if let Some(a) = &d.adapter {
                    s.push_str(&format!(" ({a})"));
                }
                parts.push(s);
            }
            FrameworkId::Django => {
                if let Some(m) = &d.settings_module {
                    parts.push(format!("settings {m}"));
                }
            }
            _ => {}
        }
    }
    if pkg.src_dir && matches!(pkg.language, Language::TypeScript | Language::JavaScript) {
        parts.push("src/".to_owned());
    }
    if let Some(parent) = &pkg.sample_of {
        parts.push(format!(
            "sample app of `{parent}`, set up only with `--package {}`",
            pkg.path
        ));
    } else if let Some(dir) = sample_code_dir(pkg) {
        parts.push(format!("app in sample code `{dir}/`"));
    }
    parts.push(language_name(pkg));
    if let Some(pm) = &pkg.package_manager {
        parts.push(package_manager_name(pm.id).to_owned());
    }
    if let Some(ai) = pkg
        .integrations
        .iter()
        .find(|i| i.kind == IntegrationKind::AiSdk)
    {
        let providers: Vec<&str> = pkg
            .integrations
            .iter()
            .filter(|i| i.kind == IntegrationKind::AiProvider)
            .map(|i| i.package.trim_start_matches("@ai-sdk/"))
            .collect();
        let mut s = "Vercel AI SDK".to_owned();
        if let Some(m) = ai.major {
            s.push_str(&format!(" {m}"));
        }
        if !providers.is_empty() {
            s.push_str(&format!(" ({})", providers.join(", ")));
        }
        parts.push(s);
    }
    for i in &pkg.integrations {
        if matches!(i.kind, IntegrationKind::AiSdk | IntegrationKind::AiProvider) {
            continue;
        }
        // PydanticAI is already named as a framework.
        if i.kind == IntegrationKind::AgentFramework && pkg.has_framework(FrameworkId::PydanticAi) {
            continue;
        }
        parts.push(match short_version(i.version.as_deref(), i.major) {
            Some(v) => format!("{} {v}", i.package),
            None => i.package.clone(),
        });
    }
    let count = |pred: &dyn Fn(CallSiteKind) -> bool| {
        pkg.call_sites.iter().filter(|c| pred(c.kind)).count()
    };
    let llm = count(&|k| {
        matches!(
            k,
            CallSiteKind::GenerateText
                | CallSiteKind::StreamText
                | CallSiteKind::GenerateObject
                | CallSiteKind::StreamObject
                | CallSiteKind::AgentRun
                | CallSiteKind::AgentRunSync
                | CallSiteKind::AgentRunStream
                | CallSiteKind::AgentIter
                | CallSiteKind::Embed
                | CallSiteKind::GenerateImage
                | CallSiteKind::OpenaiImage
                | CallSiteKind::StreamUi
                | CallSiteKind::OpenaiChatCompletion
                | CallSiteKind::OpenaiResponse
                | CallSiteKind::OpenaiEmbedding
                | CallSiteKind::OpenaiLegacy
                | CallSiteKind::AnthropicMessage
                | CallSiteKind::OpenaiAssistantRun
                | CallSiteKind::LlmHttpFetch
        )
    });
    let s3 = count(&|k| {
        matches!(
            k,
            CallSiteKind::S3PutObject
                | CallSiteKind::S3Upload
                | CallSiteKind::Boto3PutObject
                | CallSiteKind::Boto3UploadFile
                | CallSiteKind::Boto3Multipart
                | CallSiteKind::Boto3Presigned
        )
    });
    let routes = count(&|k| k == CallSiteKind::RouteHandler);
    for (n, one, many) in [
        (llm, "LLM call site", "LLM call sites"),
        (s3, "S3 upload", "S3 uploads"),
        (routes, "route file", "route files"),
    ] {
        match n {
            0 => {}
            1 => parts.push(format!("1 {one}")),
            n => parts.push(format!("{n} {many}")),
        }
    }
    parts.join(" · ")
}
