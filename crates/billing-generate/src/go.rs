//! Code generation for Go (net/http, gin, echo, chi, fiber) with the standard library only:
//! the Spaire Go SDK cannot be fetched here and rejects a sandbox server, so the generated
//! package talks to the HTTP API directly.
//!
//! Everything lands in `internal/spairebilling` of the module. On gin and echo the middleware
//! and the webhook route are registered on the router the app serves (`go_register`); other
//! routers, and shapes that cannot be edited safely, get an exact manual step naming the file
//! and line.

use billing_changeset::{ChangeSet, EnvVarName, FileAction, FileChange, FileOrigin, ManualStep};
use billing_detect::FrameworkId;
use billing_plan::CustomerSource;
use serde::Serialize;

use crate::python::{created_or_modified, join, read_optional};
use crate::render;
use crate::server_context::ServerContext;
use crate::{GenerateError, Target};

mod go_register;
mod go_scan;

/// Directory of the generated package inside the Go module.
pub const PACKAGE_DIR: &str = "internal/spairebilling";
pub use billing_vocab::WEBHOOK_PATH;

#[derive(Serialize)]
struct Context<'a> {
    #[serde(flatten)]
    common: ServerContext<'a>,
    /// `session` customers on gin / echo: the context key the app's auth middleware stores
    /// the signed-in user under (`c.Set("my_user_id", id)`), read after the handler ran.
    context_user_key: Option<String>,
}

/// Whether the generated code targets framework `id`: the plan's `[project] framework` when
/// set (it overrides detection), else what detect found.
fn uses_framework(target: &Target<'_>, id: FrameworkId) -> bool {
    match target.plan.project.framework {
        Some(wanted) => wanted == id,
        None => target.package.has_framework(id),
    }
}

/// The import path of the generated package, e.g. `example.com/shop/internal/spairebilling`.
pub fn package_import(target: &Target<'_>) -> Result<String, GenerateError> {
    Ok(format!("{}/{PACKAGE_DIR}", module_path(target)?))
}

fn module_path(target: &Target<'_>) -> Result<String, GenerateError> {
    let from_profile = target
        .package
        .frameworks
        .iter()
        .find_map(|f| f.details.module_path.clone());
    if let Some(path) = from_profile {
        return Ok(path);
    }
    let go_mod = join(&target.package.path, "go.mod");
    let text = read_optional(target, &go_mod)?.ok_or_else(|| GenerateError::GoModMissing {
        path: go_mod.clone(),
    })?;
    text.lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("module ")
                .map(|m| m.trim().trim_matches('"').to_owned())
        })
        .ok_or(GenerateError::GoModuleLineMissing { path: go_mod })
}

pub fn generate(target: &Target<'_>) -> Result<ChangeSet, GenerateError> {
    let plan = target.plan;
    let import = package_import(target)?;
    let common = ServerContext::new(plan, "//")?;
    let (api_calls, webhooks) = (common.api_calls, common.webhooks);
    let context_user_key = context_user_key(target);
    let context = Context {
        common,
        context_user_key: context_user_key.as_ref().map(|k| k.key.clone()),
    };
    let has = |id| uses_framework(target, id);
    let mut files: Vec<(&str, &str)> = vec![
        ("config.go", "configuration from the environment"),
        (
            "recorder.go",
            "batching usage recorder (goroutine + bounded channel, retries)",
        ),
        ("usage.go", "usage helpers per meter"),
        (
            "balance.go",
            "credit balances per meter name (balance > 0 = credits left)",
        ),
    ];
    if api_calls {
        files.push(("customer.go", "finds the customer id in a request"));
        files.push(("middleware.go", "net/http (and chi) API-call middleware"));
    }
    if webhooks {
        files.push(("webhooks.go", "Standard Webhooks verification and dispatch"));
        if !context.common.webhook_events.is_empty() {
            files.push(("webhook_handlers.go", "your logic per webhook event"));
        }
    }
    if api_calls || webhooks {
        for (id, file, summary) in [
            (
                FrameworkId::Gin,
                "gin.go",
                "gin middleware and webhook handler",
            ),
            (
                FrameworkId::Echo,
                "echo.go",
                "echo middleware and webhook handler",
            ),
            (
                FrameworkId::Fiber,
                "fiber.go",
                "fiber middleware and webhook handler",
            ),
        ] {
            if has(id) {
                files.push((file, summary));
            }
        }
    }
    let env = render::environment(&render::embedded("go", std::convert::identity));
    let mut changes = ChangeSet::default();
    for (file, summary) in files {
        let path = join(&join(&target.package.path, PACKAGE_DIR), file);
        let after = render::render(&env, file, &context)?;
        changes
            .files
            .push(created_or_modified(target, path, after, summary)?);
    }
    register(target, &import, api_calls, webhooks, &mut changes)?;
    changes
        .env_vars
        .extend(env_vars(&plan.public_server_url(), webhooks));
    Ok(changes)
}

/// Registers the middleware and webhook route in the app's code (gin, echo: on the router it
/// serves), else lists the registration as a manual step naming the file and line.
fn register(
    target: &Target<'_>,
    import: &str,
    api_calls: bool,
    webhooks: bool,
    changes: &mut ChangeSet,
) -> Result<(), GenerateError> {
    let framework = [FrameworkId::Gin, FrameworkId::Echo]
        .into_iter()
        .find(|id| uses_framework(target, *id));
    let registered = framework
        .filter(|_| api_calls || webhooks)
        .and_then(|id| go_register::register(target, id, import, api_calls, webhooks));
    let Some(registered) = registered else {
        changes
            .manual_steps
            .push(registration_step(target, import, api_calls, webhooks));
        return Ok(());
    };
    for (path, after) in registered.files {
        let before = read_optional(target, &path)?;
        changes.files.push(FileChange {
            action: FileAction::Modify,
            origin: FileOrigin::Wired,
            path,
            before,
            after,
            summary:
                "registers the Spaire middleware and webhook route on the router the app serves"
                    .to_owned(),
        });
    }
    if let Some((file, line)) = registered.shutdown {
        changes.manual_steps.push(ManualStep {
            file,
            line: Some(line),
            instructions: "Flush queued usage in the app's shutdown path, after the server stops (the middleware is registered)".to_owned(),
            snippet: Some(format!(
                "import spairebilling \"{import}\"\n\n_ = spairebilling.Close(shutdownCtx)"
            )),
        });
    }
    Ok(())
}

/// The gin / echo context key holding the signed-in user, for `session` customers: only
/// those two frameworks give middleware a `c.Get(key)` to read it back with.
fn context_user_key(target: &Target<'_>) -> Option<go_scan::ContextUserKey> {
    let session = target.plan.customer == CustomerSource::Session;
    let keyed =
        uses_framework(target, FrameworkId::Gin) || uses_framework(target, FrameworkId::Echo);
    if session && keyed {
        go_scan::find_context_user_key(target)
    } else {
        None
    }
}

fn registration_step(
    target: &Target<'_>,
    import: &str,
    api_calls: bool,
    webhooks: bool,
) -> ManualStep {
    let has = |id| uses_framework(target, id);
    let mut lines = vec![format!("import spairebilling \"{import}\""), String::new()];
    let (router, middleware, webhook) = if has(FrameworkId::Gin) {
        (
            "router := gin.Default()",
            "router.Use(spairebilling.GinAPICallMiddleware())",
            "router.POST(spairebilling.WebhookPath, spairebilling.GinWebhookHandler())",
        )
    } else if has(FrameworkId::Echo) {
        (
            "e := echo.New()",
            "e.Use(spairebilling.EchoAPICallMiddleware())",
            "e.POST(spairebilling.WebhookPath, spairebilling.EchoWebhookHandler())",
        )
    } else if has(FrameworkId::Fiber) {
        (
            "app := fiber.New()",
            "app.Use(spairebilling.FiberAPICallMiddleware())",
            "app.Post(spairebilling.WebhookPath, spairebilling.FiberWebhookHandler)",
        )
    } else if has(FrameworkId::Chi) {
        (
            "r := chi.NewRouter()",
            "r.Use(spairebilling.APICallMiddleware)",
            "r.Method(\"POST\", spairebilling.WebhookPath, spairebilling.WebhookHandler())",
        )
    } else {
        (
            "mux := http.NewServeMux()",
            "handler := spairebilling.APICallMiddleware(mux) // serve `handler` instead of `mux`",
            "mux.Handle(spairebilling.WebhookPath, spairebilling.WebhookHandler())",
        )
    };
    // The router the app really builds (its variable, file and line), not a guessed one.
    let constructor = router
        .split_once(":= ")
        .map_or(router, |(_, call)| call.trim_end_matches("()"));
    let found = go_scan::find_constructor(target, constructor);
    let (middleware, webhook) = match &found {
        Some(site) => {
            let default_var = router.split(' ').next().unwrap_or(router);
            let rename = |line: &str| {
                line.strip_prefix(default_var)
                    .map_or_else(
                        || line.to_owned(),
                        |rest| format!("{}{rest}", site.variable),
                    )
                    .replace(
                        "serve `handler` instead of `mux`",
                        &format!("serve `handler` instead of `{}`", site.variable),
                    )
                    .replace(
                        "APICallMiddleware(mux)",
                        &format!("APICallMiddleware({})", site.variable),
                    )
            };
            lines.push(format!(
                "// after `{}` ({}:{}):",
                site.text, site.file, site.line
            ));
            (rename(middleware), rename(webhook))
        }
        None => {
            lines.push(format!("// after `{router}`:"));
            (middleware.to_owned(), webhook.to_owned())
        }
    };
    if api_calls {
        lines.push(middleware);
    }
    if webhooks {
        lines.push(webhook);
    }
    lines.push(String::new());
    match go_scan::find_shutdown(target) {
        Some((file, line)) => {
            lines.push(format!(
                "// in the app's shutdown path ({file}:{line}), after the server stops, flush queued usage:"
            ));
            lines.push("_ = spairebilling.Close(shutdownCtx)".to_owned());
        }
        None => {
            // Without one, the usage still queued when SIGTERM arrives would be lost.
            lines.push(
                "// the app has no shutdown path: at the start of main, so SIGINT / SIGTERM still\n\
                 // deliver queued usage (imports \"time\"):"
                    .to_owned(),
            );
            lines.push("spairebilling.FlushOnSignal(10 * time.Second)".to_owned());
        }
    }
    let (file, line) = match found {
        Some(site) => (site.file, Some(site.line)),
        None => (
            target
                .package
                .frameworks
                .iter()
                .find_map(|f| f.details.entry_file.clone())
                .unwrap_or_else(|| join(&target.package.path, "main.go")),
            None,
        ),
    };
    ManualStep {
        file,
        line,
        instructions: "Register the billing middleware and webhook route on the router the app builds here, and flush usage on shutdown".to_owned(),
        snippet: Some(lines.join("\n")),
    }
}

pub(crate) fn env_vars(server_url: &str, webhooks: bool) -> Vec<EnvVarName> {
    let mut vars = vec![
        EnvVarName {
            name: "SPAIRE_ACCESS_TOKEN".to_owned(),
            purpose: "organization access token used to send usage events and read balances"
                .to_owned(),
            required: true,
        },
        EnvVarName {
            name: "SPAIRE_SERVER_URL".to_owned(),
            purpose: format!("Spaire API base URL (default {server_url})"),
            required: false,
        },
    ];
    if webhooks {
        vars.push(EnvVarName {
            name: "SPAIRE_WEBHOOK_SECRET".to_owned(),
            purpose: "secret of the Spaire webhook endpoint (starts with spaire_whs_)".to_owned(),
            required: true,
        });
    }
    vars
}

#[cfg(test)]
pub(crate) mod tests;
