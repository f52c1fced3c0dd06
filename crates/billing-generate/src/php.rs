//! Code generation for PHP (Laravel) with the standard library and curl: the Spaire PHP
//! SDK cannot be installed here (Packagist is unreachable), so the generated classes talk
//! to the HTTP API directly.
//!
//! Framework-independent classes live in `app/Spaire/` (namespace `App\Spaire`); the
//! middleware and webhook controller go where Laravel keeps them. Registration edits
//! `bootstrap/app.php` (Laravel 11+) or `app/Http/Kernel.php` + `VerifyCsrfToken.php`
//! (older), and appends the webhook route to `routes/web.php`.

use billing_changeset::{ChangeSet, FileAction, FileChange, FileOrigin, ManualStep};
use serde::Serialize;

use crate::go::env_vars;
use crate::python::{created_or_modified, join, read_optional};
use crate::render;
use crate::server_context::ServerContext;
use crate::{GenerateError, Target};

pub use billing_vocab::WEBHOOK_PATH;
const MIDDLEWARE_CLASS: &str = "\\App\\Http\\Middleware\\SpaireUsage::class";

#[derive(Serialize)]
struct Context<'a> {
    #[serde(flatten)]
    common: ServerContext<'a>,
}

pub fn generate(target: &Target<'_>) -> Result<ChangeSet, GenerateError> {
    let plan = target.plan;
    let common = ServerContext::new(plan, "//")?;
    let webhooks = common.webhooks;
    let context = Context { common };
    let mut files = vec![
        (
            "SpaireConfig.php",
            "app/Spaire",
            "Spaire settings from the environment",
        ),
        (
            "spaire.php",
            "config",
            "Spaire settings for config() (survives `php artisan config:cache`)",
        ),
        (
            "UsageRecorder.php",
            "app/Spaire",
            "buffers usage events, sends them after the response",
        ),
        ("Usage.php", "app/Spaire", "usage helpers per meter"),
        (
            "Balance.php",
            "app/Spaire",
            "credit balances per meter name (balance > 0 = credits left)",
        ),
        (
            "SpaireUsage.php",
            "app/Http/Middleware",
            "flushes usage after the response; counts API calls",
        ),
    ];
    if webhooks {
        files.push((
            "WebhookVerifier.php",
            "app/Spaire",
            "Standard Webhooks verification and dispatch",
        ));
        files.push((
            "WebhookHandlers.php",
            "app/Spaire",
            "your logic per webhook event",
        ));
        files.push((
            "SpaireWebhookController.php",
            "app/Http/Controllers",
            "webhook endpoint",
        ));
    }
    let env = render::environment(&render::embedded("php", std::convert::identity));
    let mut changes = ChangeSet::default();
    for (file, dir, summary) in files {
        let path = join(&join(&target.package.path, dir), file);
        let after = render::render(&env, file, &context)?;
        changes
            .files
            .push(created_or_modified(target, path, after, summary)?);
    }
    register(target, webhooks, &mut changes)?;
    changes
        .env_vars
        .extend(env_vars(&plan.public_server_url(), webhooks));
    Ok(changes)
}

fn wired(path: String, before: String, after: String, summary: &str) -> FileChange {
    FileChange {
        path,
        action: FileAction::Modify,
        origin: FileOrigin::Wired,
        before: Some(before),
        after,
        summary: summary.to_owned(),
    }
}

fn register(
    target: &Target<'_>,
    webhooks: bool,
    changes: &mut ChangeSet,
) -> Result<(), GenerateError> {
    let base = &target.package.path;
    let webhook_uri = WEBHOOK_PATH.trim_start_matches('/');
    let bootstrap = join(base, "bootstrap/app.php");
    let modern =
        read_optional(target, &bootstrap)?.filter(|text| text.contains("->withMiddleware("));
    if let Some(source) = modern {
        // Laravel 11+: middleware and CSRF exceptions are configured in bootstrap/app.php.
        let mut lines = vec![format!("$middleware->append({MIDDLEWARE_CLASS});")];
        if webhooks {
            lines.push(format!(
                "$middleware->validateCsrfTokens(except: ['{webhook_uri}']);"
            ));
        }
        match insert_into_block(&source, "->withMiddleware(", &lines, "SpaireUsage::class") {
            Some(after) if after == source => {}
            Some(after) => changes.files.push(wired(
                bootstrap,
                source,
                after,
                "registers the Spaire middleware (and CSRF exception)",
            )),
            None => changes.manual_steps.push(ManualStep {
                file: bootstrap,
                line: None,
                instructions:
                    "Inside `->withMiddleware(function (Middleware $middleware) { ... })` add"
                        .to_owned(),
                snippet: Some(lines.join("\n")),
            }),
        }
    } else {
        let kernel = join(base, "app/Http/Kernel.php");
        let line = format!("{MIDDLEWARE_CLASS},");
        let edited = read_optional(target, &kernel)?.and_then(|source| {
            let after = insert_into_block(
                &source,
                "protected $middleware = [",
                std::slice::from_ref(&line),
                "SpaireUsage::class",
            )?;
            Some((source, after))
        });
        match edited {
            Some((before, after)) if before == after => {}
            Some((before, after)) => changes.files.push(wired(
                kernel,
                before,
                after,
                "registers the Spaire middleware globally",
            )),
            None => changes.manual_steps.push(ManualStep {
                file: kernel,
                line: None,
                instructions: "Add the middleware to the global `$middleware` array".to_owned(),
                snippet: Some(line),
            }),
        }
        if webhooks {
            let csrf = join(base, "app/Http/Middleware/VerifyCsrfToken.php");
            let entry = format!("'{webhook_uri}',");
            let edited = read_optional(target, &csrf)?.and_then(|source| {
                let after = insert_into_block(
                    &source,
                    "protected $except = [",
                    std::slice::from_ref(&entry),
                    webhook_uri,
                )?;
                Some((source, after))
            });
            match edited {
                Some((before, after)) if before == after => {}
                Some((before, after)) => changes.files.push(wired(
                    csrf,
                    before,
                    after,
                    "excludes the webhook route from CSRF",
                )),
                None => changes.manual_steps.push(ManualStep {
                    file: csrf,
                    line: None,
                    instructions: "Exclude the webhook route from CSRF verification (`$except`)"
                        .to_owned(),
                    snippet: Some(entry),
                }),
            }
        }
    }
    if webhooks {
        let routes = join(base, "routes/web.php");
        let route = format!(
            "\n// Added by spaire-billing: the Spaire webhook endpoint (excluded from CSRF verification).\n\\Illuminate\\Support\\Facades\\Route::post('{WEBHOOK_PATH}', \\App\\Http\\Controllers\\SpaireWebhookController::class);\n"
        );
        match read_optional(target, &routes)? {
            Some(source) if source.contains("SpaireWebhookController") => {}
            Some(source) => {
                let mut after = source.clone();
                if !after.ends_with('\n') {
                    after.push('\n');
                }
                after.push_str(&route);
                changes.files.push(wired(
                    routes,
                    source,
                    after,
                    "routes the Spaire webhook endpoint",
                ));
            }
            None => changes.manual_steps.push(ManualStep {
                file: routes,
                line: None,
                instructions: "Add the webhook route to your web routes".to_owned(),
                snippet: Some(route.trim().to_owned()),
            }),
        }
    }
    Ok(())
}

/// Inserts `lines` right after the line containing `opener` (which must open a block or an
/// array on that line), indented one level deeper. The source comes back unchanged when
/// `marker` shows the entry is already there; `None` when the opener is missing.
pub(crate) fn insert_into_block(
    source: &str,
    opener: &str,
    lines: &[String],
    marker: &str,
) -> Option<String> {
    if source.contains(marker) {
        return Some(source.to_owned());
    }
    let all: Vec<&str> = source.split_inclusive('\n').collect();
    let at = all.iter().position(|l| l.contains(opener))?;
    // The block may open on the next line (`->withMiddleware(function (...)\n    {`).
    let open_line =
        (at..all.len().min(at + 3)).find(|i| all[*i].trim_end().ends_with(['{', '[']))?;
    let indent: String = all[open_line]
        .chars()
        .take_while(|c| c.is_whitespace())
        .collect();
    let inner = format!("{indent}    ");
    let mut out = String::with_capacity(source.len() + 200);
    for (i, line) in all.iter().enumerate() {
        out.push_str(line);
        if i == open_line {
            for added in lines {
                out.push_str(&inner);
                out.push_str(added);
                out.push('\n');
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests;
