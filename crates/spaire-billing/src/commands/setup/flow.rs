//! The phases of `setup`, in order. Each phase reads what the previous ones decided; nothing
//! touches the project or the account until the user has seen the whole preview and said
//! yes, and then `billing_ops::Engine::apply` does the writing (atomically, journaled).

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use billing_changeset::FileAction;
use billing_detect::{Confidence, DetectOptions, Package, ProjectProfile};
use billing_errors::{Hinted, UsageError};
use billing_ops::{ApplyHooks, ApplyOptions, ApplyReport, Event, PlanOptions, Preview, Question};
use billing_plan::{BillingPlan, Environment};
use indicatif::{ProgressBar, ProgressStyle};

use super::SetupArgs;
use super::answers::{self, ProductChoice};
use super::ask::{Asker, Cancelled, Interrupted, NoTerminal, Question as Ask, TerminalAsker};
use super::draft::{DRAFT_PATH, Draft, Recording};
use super::money;
use super::report::{self, Report};
use super::summary;
use crate::ExitStatus;
use crate::commands::plan::block_on;
use crate::printer::Printer;

pub fn run(args: SetupArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let mut asker: Box<dyn Asker> = if interactive {
        Box::new(TerminalAsker::new(color_enabled()))
    } else {
        Box::new(NoTerminal)
    };
    match converse(&args, printer, asker.as_mut()) {
        Err(err) if err.is::<Interrupted>() || err.is::<StoppedAtInstall>() => {
            printer.warn(format!("{err:#}"));
            Ok(ExitStatus::Interrupted)
        }
        // Ctrl-C during apply (between files, installs or remote requests): its own words,
        // which say what was written (the generic "nothing was changed" may be false).
        Err(ref err) if let Some(why) = crate::diagnostics::interrupted_apply(err) => {
            printer.warn(format!("setup {why}"));
            Ok(ExitStatus::Interrupted)
        }
        Err(err) if err.is::<Cancelled>() || err.is::<billing_ops::Cancelled>() => {
            printer.warn(format!("{err:#}"));
            Ok(ExitStatus::Failure)
        }
        other => other,
    }
}

pub(crate) fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The conversation, with every answer kept in the draft until it is applied.
fn converse(
    args: &SetupArgs,
    printer: &Printer,
    asker: &mut dyn Asker,
) -> anyhow::Result<ExitStatus> {
    let root = project_root(&args.project.path)?;
    let draft = if asker.interactive() {
        Draft::load(&root)
    } else {
        Draft::disabled()
    };
    if draft.offered > 0 {
        printer.info(format!(
            "Offering the {} answer(s) an earlier `setup` kept in `{DRAFT_PATH}` (enter keeps each; delete the file to start over).",
            draft.offered
        ));
    }
    let mut asker = Recording {
        inner: asker,
        draft,
    };
    let result = conversation(args, printer, &mut asker, root);
    match &result {
        // A dry run applied nothing: its answers stay offered.
        Ok(_) if args.dry_run => {
            let _ = asker.draft.keep();
        }
        Ok(_) => asker.draft.finish(),
        Err(_) if asker.draft.is_kept() => printer.info(format!(
            "The answers given so far are kept in `{DRAFT_PATH}` (ignored by git); `spaire-billing setup` offers them again."
        )),
        Err(_) => {}
    }
    result
}

fn conversation(
    args: &SetupArgs,
    printer: &Printer,
    asker: &mut Recording<'_>,
    root: PathBuf,
) -> anyhow::Result<ExitStatus> {
    // Phase 0: pre-flight.
    let profile = billing_detect::detect(&root, &DetectOptions::default())
        .with_context(|| format!("failed to look at `{}`", args.project.path.display()))?;
    let saved = load_saved_plan(&root)?;
    preflight(&profile, args, asker, printer)?;

    // Phase 1: discovery.
    let package = choose_package(&profile, args, saved.as_ref(), asker, printer)?;
    let environment = environment(args, saved.as_ref(), &root, asker)?;
    let saved = keep_saved_answers(saved, args, asker, printer)?;
    let saved = saved.as_ref();
    let meters = answers::meters(asker, args, saved)?;
    let pricing = answers::pricing(asker, args, saved)?;

    // Phase 2: prerequisites (token, SDK, product). A local run with no emulator running
    // gets the built-in one; its URL is this run's only (the plan keeps the default).
    let plan_url = saved.and_then(|s| s.server_url.as_deref());
    let (server, remote) = crate::embedded::connect(
        environment,
        args.server.server_url.as_deref(),
        plan_url,
        &root,
        !args.dry_run,
        printer,
    )?;
    let mut products = prerequisites(&remote, &root, package, args.no_install.no_install, printer);
    // The demo product an earlier run created is the obvious answer without a terminal.
    let mut demo_created = products
        .as_deref()
        .filter(|_| environment == Environment::Local && args.product.is_none())
        .and_then(|known| match known {
            [only] if only.name == DEMO_PRODUCT => {
                Some(billing_plan::ProductRef(only.name.clone()))
            }
            _ => None,
        });
    if environment == Environment::Local
        && products.as_ref().is_some_and(Vec::is_empty)
        && args.product.is_none()
        && let Some(client) = &remote.client
        && let Some(demo) = offer_demo_product(client, asker, printer)?
    {
        demo_created = Some(billing_plan::ProductRef(demo.name.clone()));
        products = Some(vec![demo]);
    }
    let product = match demo_created {
        // Created for this run without a terminal: it is the only product there is.
        Some(demo) if !asker.interactive() => demo,
        _ => answers::product(
            asker,
            args,
            saved,
            products.as_deref(),
            environment.as_str(),
        )?,
    };
    let (prices, credits) =
        answers::prices_and_credits(asker, args, saved, &meters, pricing, &product)?;
    let customer = answers::customer(asker, args, saved)?;
    let webhooks = answers::webhooks(asker, args, saved)?;
    let plan = answers::to_plan(billing_plan::answers::Answers {
        environment,
        server_url: args
            .server
            .server_url
            .clone()
            .or_else(|| saved.and_then(|s| s.server_url.clone())),
        package: package.path.clone(),
        framework: saved.and_then(|s| s.project.framework),
        customer,
        call_site_customer: answers::call_site_customer(args, saved),
        meters: meters
            .into_iter()
            .map(billing_plan::answers::MeterChoice::Meter)
            .collect(),
        prices,
        credits,
        webhooks,
    })?;

    // Phases 3–7: preview, confirm, apply.
    let engine = billing_ops::Engine::default()
        .with_server_url(server.url())
        .with_interrupt_guard(true);
    let plan_options = PlanOptions {
        root: root.clone(),
        environment: Some(environment),
        plan: Some(plan),
        profile: Some(profile.clone()),
    };
    let preview = with_spinner(printer, asker.interactive(), "Planning", || {
        block_on(engine.plan(&plan_options))
    })??;
    if args.dry_run {
        // Preview only: nothing is asked or written after the answers, so it works without
        // a terminal; with `--json` the preview is the output.
        if args.json.json {
            printer.data(crate::json::versioned(
                &crate::commands::plan::PreviewJson::new(&preview),
            )?)?;
        } else {
            show_preview(&preview, false, args.diff, printer)?;
        }
        printer
            .info("Dry run: nothing was written. Run the same command without --dry-run to apply.");
        return Ok(ExitStatus::Success);
    }
    show_preview(&preview, args.json.json, args.diff, printer)?;
    if preview.is_noop() {
        printer.info("Everything in this plan is already applied.");
    }
    let confirmed = args.yes.yes
        || asker.confirm(
            &Ask::new(
                format!(
                    "Apply these changes ({} environment)?",
                    preview.environment.as_str()
                ),
                "--yes",
            ),
            false,
        )?;
    if !confirmed {
        return Err(Cancelled.into());
    }
    // The draft's directory must not be in the project when apply starts: `undo` removes
    // what apply created, and would leave a `.spaire-billing/` the draft had made first.
    asker.draft.set_aside();
    // The project's own checks, once before the apply (the baseline) and once after.
    let touched: Vec<String> = preview
        .changes
        .files
        .iter()
        .map(|f| f.path.clone())
        .collect();
    let baseline = (!args.no_checks).then(|| {
        let dir = root.clone();
        with_spinner(printer, asker.interactive(), "Checking", || {
            billing_ops::gates::baseline(&dir, package, touched)
        })
    });
    let mut hooks = WizardHooks {
        printer,
        asker,
        written: Vec::new(),
        yes: args.yes.yes,
        spinner: None,
    };
    let applied = block_on(engine.apply(
        &ApplyOptions {
            plan: plan_options,
            expected_hash: Some(preview.hash.clone()),
            yes: false,
            overwrite_edited: false,
            dry_run: false,
            skip_installs: args.no_install.no_install,
        },
        &mut hooks,
    ))?;
    hooks.clear_spinner();
    let applied = applied.inspect_err(|_| {
        // Not applied after all: the answers are kept again.
        let _ = hooks.asker.draft.keep();
    })?;

    // Phase 8: report.
    let checks = match baseline {
        Some(baseline) => with_spinner(printer, hooks.asker.interactive(), "Checking", || {
            baseline.after()
        }),
        None => billing_ops::gates::CheckReport::default(),
    };
    // On a local run with no token of the user's, the app must be told the emulator's.
    let local_server = (environment == Environment::Local
        && remote
            .token_source
            .as_deref()
            .is_some_and(|s| s.contains("emulator")))
    .then(|| {
        if server.is_embedded() {
            // The app reaches the same state through `spaire-billing emulator --db …` on
            // the default port, not through this run's temporary one.
            Environment::Local.default_server_url().to_owned()
        } else {
            remote.server_url.to_string()
        }
    });
    let mut report = build_report(
        &preview,
        &applied,
        checks,
        remote.client.is_some(),
        local_server.as_deref(),
    );
    if server.is_embedded() {
        // This run's emulator stops with it; the app needs one on the same state.
        for item in &mut report.checklist {
            if item.starts_with(report::LOCAL_EMULATOR_ITEM) {
                *item = format!(
                    "You are on the built-in emulator: run `{}` (this project's state, on {}) while you test, then set `environment = \"sandbox\"` in spaire-billing.toml and apply again",
                    crate::embedded::serve_command(),
                    Environment::Local.default_server_url()
                );
            }
        }
    }
    // On the emulator nothing is billed: prove a meter counts, so the run ends with a
    // counted event rather than a promise.
    if environment == Environment::Local
        && applied.remote_pending.is_empty()
        && let Some(client) = &remote.client
    {
        let plan = billing_ops::plan::load_plan_file(&root)?;
        report.verified = Some(crate::commands::verify::quick_local(&plan, client)?);
    }
    if args.json.json {
        printer.data(crate::json::versioned(&report)?)?;
    } else {
        for file in &applied.files {
            let verb = match file.action {
                FileAction::Create => "Created",
                FileAction::Modify => "Updated",
            };
            printer.status(verb, &file.path);
        }
        printer.data(report.render().trim_end())?;
        if let Some(verified) = &report.verified {
            printer.data("")?;
            crate::commands::verify::render(verified, printer)?;
        }
    }
    // Only problems this apply introduced fail the run (and, locally, a meter that did not
    // count its test event).
    let failed =
        report.checks.has_new_problems() || report.verified.as_ref().is_some_and(|v| !v.passed);
    Ok(if failed {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

fn project_root(path: &Path) -> anyhow::Result<PathBuf> {
    if !path.is_dir() {
        return Err(
            UsageError::new(format!("`{}` is not a directory", path.display()))
                .with_hint("pass your project's directory, e.g. `spaire-billing setup .`")
                .into(),
        );
    }
    Ok(canonical(path))
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

fn load_saved_plan(root: &Path) -> anyhow::Result<Option<BillingPlan>> {
    match billing_plan::load(root) {
        Ok(plan) => Ok(plan),
        Err(billing_plan::LoadError::Invalid(err)) => {
            let hint = format!(
                "{}; setup starts from the saved answers, so fix the file (or move it away to start over)",
                err.hint()
            );
            Err(Hinted::new(err.to_string(), hint).into())
        }
        Err(err) => Err(err.into()),
    }
}

/// Uncommitted changes and production indicators need an explicit go-ahead.
fn preflight(
    profile: &ProjectProfile,
    args: &SetupArgs,
    asker: &mut dyn Asker,
    printer: &Printer,
) -> anyhow::Result<()> {
    for warning in &profile.warnings {
        match warning.code.as_str() {
            "dirty-git" => {
                printer.warn(&warning.message);
                printer.info(
                    "  Committing first is recommended: `spaire-billing undo` can revert this tool's changes, but a commit keeps yours apart from them.",
                );
                if !args.yes.yes
                    && !args.dry_run
                    && !asker.confirm(
                        &Ask::new("Continue with uncommitted changes?", "--yes"),
                        false,
                    )?
                {
                    return Err(Cancelled.into());
                }
            }
            code if code.starts_with("production") => {
                printer.warn(&warning.message);
                if !args.yes.yes
                    && !args.dry_run
                    && !asker.confirm(
                        &Ask::new(
                            "This looks like a production deployment. Continue here anyway?",
                            "--yes",
                        ),
                        false,
                    )?
                {
                    return Err(Cancelled.into());
                }
            }
            _ => printer.warn(&warning.message),
        }
    }
    Ok(())
}

/// The package to set up: `--package`, the saved plan, the only clear candidate, or a choice.
fn choose_package<'p>(
    profile: &'p ProjectProfile,
    args: &SetupArgs,
    saved: Option<&BillingPlan>,
    asker: &mut dyn Asker,
    printer: &Printer,
) -> anyhow::Result<&'p Package> {
    let with_framework: Vec<&Package> = profile
        .packages
        .iter()
        .filter(|p| !p.frameworks.is_empty())
        .collect();
    let candidates: Vec<&Package> = if with_framework.is_empty() {
        profile.packages.iter().collect()
    } else {
        with_framework
    };
    let names = || {
        candidates
            .iter()
            .map(|p| format!("`{}`", p.path))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if candidates.is_empty() {
        return Err(Hinted::new(
            format!("found no package to set up in `{}`", profile.root),
            "run setup in your app's directory (one with package.json, pyproject.toml, requirements.txt, go.mod, composer.json or Gemfile)",
        )
        .into());
    }
    let wanted = args
        .package
        .as_deref()
        .or_else(|| saved.map(|s| s.project.path.as_str()));
    if let Some(wanted) = wanted {
        let package = profile.package(wanted).ok_or_else(|| {
            UsageError::new(format!("no package at `{wanted}`"))
                .with_hint(format!("pass `--package` with one of: {}", names()))
        })?;
        printer.info(format!(
            "Found {} in `{}`",
            billing_detect::summary::package_line(package),
            package.path
        ));
        return Ok(package);
    }
    let clear = candidates.len() == 1
        && candidates[0]
            .primary_framework()
            .is_some_and(|f| f.confidence == Confidence::High);
    if clear {
        let package = candidates[0];
        printer.info(format!(
            "Found {}{}",
            billing_detect::summary::package_line(package),
            if package.path == "." {
                String::new()
            } else {
                format!(" in `{}`", package.path)
            }
        ));
        return Ok(package);
    }
    let labels: Vec<String> = candidates
        .iter()
        .map(|p| format!("{}  ({})", p.path, billing_detect::summary::package_line(p)))
        .collect();
    let prompt = if candidates.len() == 1 {
        "Is this the package to set up? (detection is not certain)"
    } else {
        "Which package should record usage?"
    };
    let index = asker.select(
        &Ask::new(prompt, format!("--package {}", candidates[0].path))
            .help(format!("packages found: {}", names())),
        &labels,
        0,
    )?;
    Ok(candidates[index])
}

fn environment(
    args: &SetupArgs,
    saved: Option<&BillingPlan>,
    root: &Path,
    asker: &mut dyn Asker,
) -> anyhow::Result<Environment> {
    let environment = match args.environment.environment {
        Some(environment) => environment,
        None => match saved {
            Some(saved) => saved.environment,
            // No account yet: trying it on the built-in emulator comes first.
            None if asker.interactive() && billing_remote::find_token(root).is_none() => {
                choose_without_token(asker)?
            }
            None => Environment::Sandbox,
        },
    };
    if environment == Environment::Production
        && !args.yes.yes
        && !args.dry_run
        && !asker.confirm(
            &Ask::new(
                "Set up PRODUCTION billing (real customers, real money)? Sandbox first is recommended",
                "--environment production --yes",
            ),
            false,
        )?
    {
        return Err(Cancelled.into());
    }
    Ok(environment)
}

/// With no token anywhere, where the first run goes: the built-in emulator (nothing to
/// sign up for, ends with a counted event), or sandbox (with a token to create first, or
/// with every remote step left as dashboard instructions).
fn choose_without_token(asker: &mut dyn Asker) -> anyhow::Result<Environment> {
    let options = [
        "Try it now on the built-in emulator (local, no account needed)".to_owned(),
        format!(
            "Sandbox: I will set {} to a sandbox token first (setup creates everything)",
            billing_remote::TOKEN_ENV
        ),
        "Sandbox without a token: list the dashboard steps for me to do by hand".to_owned(),
    ];
    let choice = asker.select(
        &Ask::new(
            format!(
                "{} is not set. Where should billing be set up?",
                billing_remote::TOKEN_ENV
            ),
            "--environment local|sandbox|production",
        )
        .help("the emulator keeps its state in .spaire-billing/ (ignored by git); apply the same plan to sandbox later with --environment sandbox"),
        &options,
        0,
    )?;
    if choice == 1 {
        return Err(Hinted::new(
            format!("set {} first", billing_remote::TOKEN_ENV),
            format!(
                "create a sandbox organization access token at {}/<organization>/settings (scopes: {}), export it as {}, then run `spaire-billing setup` again",
                billing_api::dashboard_base(Environment::Sandbox).unwrap_or("the dashboard"),
                billing_api::REQUIRED_SCOPES.join(", "),
                billing_remote::TOKEN_ENV
            ),
        )
        .into());
    }
    Ok(if choice == 0 {
        Environment::Local
    } else {
        Environment::Sandbox
    })
}

/// Running setup again: keep the saved answers, or answer again.
fn keep_saved_answers(
    saved: Option<BillingPlan>,
    args: &SetupArgs,
    asker: &mut dyn Asker,
    printer: &Printer,
) -> anyhow::Result<Option<BillingPlan>> {
    let Some(saved) = saved else {
        return Ok(None);
    };
    let meters: Vec<&str> = saved.meters.iter().map(|m| m.name.as_str()).collect();
    let mut pricing: Vec<String> = saved
        .prices
        .iter()
        .map(|p| {
            format!(
                "{} per unit of `{}`",
                money::cents_to_dollars(&p.unit_amount),
                p.meter
            )
        })
        .collect();
    pricing.extend(
        saved
            .credits
            .iter()
            .map(|c| format!("{} `{}` credits per cycle", c.units, c.meter)),
    );
    printer.info(format!(
        "Saved answers in spaire-billing.toml: meters {}; {}",
        meters.join(", "),
        if pricing.is_empty() {
            "no pricing".to_owned()
        } else {
            pricing.join(", ")
        }
    ));
    // Flags override individual answers; the question is only for a person at a terminal.
    if !asker.interactive() || args.yes.yes {
        return Ok(Some(saved));
    }
    let keep = asker.confirm(&Ask::new("Keep these answers?", "--yes"), true)?;
    Ok(keep.then_some(saved))
}

/// Explains a missing token, and lists the organization's recurring products when it can.
fn prerequisites(
    remote: &billing_remote::Remote,
    root: &Path,
    package: &Package,
    no_install: bool,
    printer: &Printer,
) -> Option<Vec<ProductChoice>> {
    if let Some(command) = billing_ops::produce::sdk_install_command(package)
        && !billing_ops::produce::sdk_installed(package)
    {
        // The project's pins may rule the SDK out (thenewboston-backend: `pydantic =
        // "^1.10.9"`): then no install of it is promised, and the plan names the pins.
        if let Some(blocked) = billing_ops::produce::sdk_blocked(root, package) {
            printer.note(format!(
                "the Spaire SDK cannot be installed beside the versions {} allows: the generated \
                 code does without it (the plan says how, and which pins to raise for it)",
                blocked.file
            ));
        } else if no_install {
            printer.note(format!(
                "the Spaire SDK is not installed; run `{}` yourself (--no-install)",
                command.join(" ")
            ));
        } else {
            printer.note(format!(
                "the Spaire SDK is not installed; the plan runs `{}` after you confirm",
                command.join(" ")
            ));
        }
    }
    let Some(client) = &remote.client else {
        let where_ = billing_api::dashboard_base(remote.environment)
            .map(|b| format!("{b}/<organization>/settings"))
            .unwrap_or_else(|| "the emulator's output".to_owned());
        printer.note(format!(
            "SPAIRE_ACCESS_TOKEN is not set: no API calls will be made. Meters, prices and credits become dashboard steps. Create a {} token at {where_} (scopes: {}) to let setup do them.",
            remote.environment.as_str(),
            billing_api::REQUIRED_SCOPES.join(", ")
        ));
        return None;
    };
    let query = billing_api::ProductListQuery {
        is_archived: Some(false),
        is_recurring: Some(true),
        ..Default::default()
    };
    match block_on(client.products(&query).collect_all()) {
        Ok(Ok(products)) => {
            // A fresh emulator is offered a demo product next; no dashboard to send anyone to.
            if products.is_empty() && remote.environment != Environment::Local {
                printer.note(format!(
                    "your {} organization has no recurring product yet: create one under Products in the dashboard, or name the product to use",
                    remote.environment.as_str()
                ));
            }
            Some(
                products
                    .into_iter()
                    .map(|p| ProductChoice {
                        id: p.id,
                        name: p.name,
                        interval: p
                            .recurring_interval
                            .unwrap_or_else(|| "recurring".to_owned()),
                    })
                    .collect(),
            )
        }
        Ok(Err(err)) => {
            printer.warn(format!("could not list products: {}", err.into_hinted()));
            None
        }
        Err(err) => {
            printer.warn(format!("could not list products: {err:#}"));
            None
        }
    }
}

/// The short preview ([`summary`]), or every file as a diff with `--diff`.
/// Name of the product offered to a fresh local organization: obviously local, never
/// mistaken for a real plan when the plan file moves to sandbox.
pub(crate) const DEMO_PRODUCT: &str = "Local demo plan";

/// A fresh emulator has no product for the prices to attach to: offer to create one there
/// (local only; a sandbox or production product is the user's to design).
fn offer_demo_product(
    client: &billing_api::Client,
    asker: &mut dyn Asker,
    printer: &Printer,
) -> anyhow::Result<Option<ProductChoice>> {
    // Without a terminal (`--environment local --yes` in a script or the README's one
    // command) the demo product is simply created: it is local and costs nothing.
    let create = !asker.interactive()
        || asker.confirm(
        &Ask::new(
            format!("Your local organization has no product yet. Create `{DEMO_PRODUCT}` ($20/month) in the emulator?"),
            "--product NAME_OR_ID (after creating a product in the emulator)",
        )
        .help("the prices and credits need a subscription product to attach to"),
        true,
    )?;
    if !create {
        return Ok(None);
    }
    let product = block_on(client.create_product(&billing_api::ProductCreate {
        name: DEMO_PRODUCT.to_owned(),
        recurring_interval: Some("month".to_owned()),
        prices: vec![billing_api::NewPrice::Fixed {
            price_amount: 2000,
            price_currency: "usd".to_owned(),
        }],
        description: Some("Created by spaire-billing setup in the local emulator".to_owned()),
    }))?
    .map_err(|err| anyhow::Error::new(err.into_hinted()))
    .context("could not create the demo product in the emulator")?;
    printer.status(
        "Created",
        format!("product `{DEMO_PRODUCT}` in the local emulator"),
    );
    Ok(Some(ProductChoice {
        id: product.id,
        name: product.name,
        interval: "month".to_owned(),
    }))
}

fn show_preview(
    preview: &Preview,
    json: bool,
    full_diff: bool,
    printer: &Printer,
) -> anyhow::Result<()> {
    // Pre-flight already showed the profile's warnings (and asked about a dirty tree).
    let shown = |warning: &String| {
        preview.profile.warnings.iter().any(|w| {
            w.message == *warning
                || (w.code == "dirty-git" && warning == billing_ops::plan::DIRTY_TREE_WARNING)
        })
    };
    for warning in preview.warnings.iter().filter(|w| !shown(w)) {
        printer.warn(warning);
    }
    let text = if full_diff {
        preview.text.clone()
    } else {
        summary::render(&preview.changes, &preview.hash)
    };
    // With `--json`, stdout carries only the final report; the preview goes to stderr.
    if json {
        printer.info(text.trim_end());
    } else {
        printer.data(text.trim_end())?;
    }
    for conflict in &preview.conflicts {
        printer.warn(format!(
            "`{}` was edited since spaire-billing generated it; you will be asked before it is overwritten",
            conflict.path
        ));
    }
    Ok(())
}

fn build_report(
    preview: &Preview,
    applied: &ApplyReport,
    checks: billing_ops::gates::CheckReport,
    token_present: bool,
    local_server: Option<&str>,
) -> Report {
    let mut rollback = vec![format!(
        "`spaire-billing undo` reverts everything below (journal {})",
        applied.journal.as_deref().unwrap_or("-")
    )];
    for file in &applied.files {
        rollback.push(match file.action {
            FileAction::Create => format!("delete `{}`", file.path),
            FileAction::Modify => format!("restore `{}` byte for byte", file.path),
        });
    }
    for done in &applied.remote_completed {
        rollback.push(format!("revert remote: {done}"));
    }
    for install in &applied.installs {
        if matches!(
            install.outcome,
            billing_ops::InstallOutcome::Succeeded { .. }
        ) {
            rollback.push(format!(
                "`{}` changed your manifest and lockfile; undo restores both (run your package manager again afterwards to prune node_modules / the venv)",
                install.command
            ));
        }
    }
    let mut install_steps: Vec<String> = Vec::new();
    for install in &applied.installs {
        match &install.outcome {
            billing_ops::InstallOutcome::Skipped { reason } => install_steps.push(format!(
                "run `{}` in `{}` ({reason})",
                install.command, install.cwd
            )),
            billing_ops::InstallOutcome::Failed { reason, .. } => install_steps.push(format!(
                "run `{}` in `{}` ({reason}); until it succeeds the app will NOT start: the \
                 generated code imports what it installs",
                install.command, install.cwd
            )),
            billing_ops::InstallOutcome::Succeeded { .. } => {}
        }
    }
    Report {
        environment: applied.environment.as_str().to_owned(),
        package: preview.package.clone(),
        plan_hash: applied.hash.clone(),
        files: applied.files.iter().map(|f| f.path.clone()).collect(),
        checks,
        dashboard_completed: applied.remote_completed.clone(),
        dashboard_pending: pending_dashboard_steps(preview, applied),
        rollback,
        install_steps,
        checklist: report::checklist(applied.environment.as_str(), token_present, local_server),
        metering: applied.metering.clone(),
        verified: None,
    }
}

/// Each pending remote step with the exact dashboard instructions to do it by hand.
fn pending_dashboard_steps(preview: &Preview, applied: &ApplyReport) -> Vec<String> {
    let detailed: Vec<String> = preview
        .changes
        .remote
        .iter()
        .filter(|step| step.action == billing_changeset::RemoteAction::Pending)
        .map(|step| {
            let mut text = format!("[{}] {}", step.environment, step.summary);
            for (i, line) in step.dashboard_steps.iter().enumerate() {
                text.push_str(&format!("\n   {}) {line}", i + 1));
            }
            text
        })
        .collect();
    if detailed.is_empty() {
        applied.remote_pending.clone()
    } else {
        detailed
    }
}

/// Runs `work` under a spinner on a terminal (plain status line otherwise).
fn with_spinner<T>(
    printer: &Printer,
    interactive: bool,
    verb: &str,
    work: impl FnOnce() -> T,
) -> T {
    if !interactive || printer.is_quiet() {
        return work();
    }
    let spinner = new_spinner(format!("{verb}…"));
    let result = work();
    spinner.finish_and_clear();
    result
}

fn new_spinner(message: String) -> ProgressBar {
    let spinner = ProgressBar::new_spinner();
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.set_message(message);
    spinner.enable_steady_tick(std::time::Duration::from_millis(100));
    spinner
}

/// Setup stopped at the install prompt, after the files were written.
#[derive(Debug, thiserror::Error)]
#[error(
    "setup stopped at the install prompt; {written} file(s) were already written and `{command}` was not run. \
     `spaire-billing undo` reverts the files; `spaire-billing apply` finishes (the install and the remote steps)"
)]
struct StoppedAtInstall {
    written: usize,
    command: String,
}

/// Answers `apply`'s questions inside the conversation: the plan itself was confirmed already;
/// installs and overwriting edited files are asked (or need their flag without a terminal).
struct WizardHooks<'a, 'b> {
    printer: &'a Printer,
    asker: &'a mut Recording<'b>,
    /// Files apply has written so far (what a stop at the install prompt leaves behind).
    written: Vec<String>,
    yes: bool,
    spinner: Option<ProgressBar>,
}

impl WizardHooks<'_, '_> {
    fn clear_spinner(&mut self) {
        if let Some(spinner) = self.spinner.take() {
            spinner.finish_and_clear();
        }
    }
}

impl ApplyHooks for WizardHooks<'_, '_> {
    fn confirm(&mut self, question: &Question<'_>) -> anyhow::Result<bool> {
        self.clear_spinner();
        match question {
            // Shown and confirmed as the conversation's own question.
            Question::Apply { .. } | Question::Production { .. } => Ok(true),
            Question::RunInstall { install } => {
                if self.yes {
                    return Ok(true);
                }
                let command = billing_changeset::preview::shell_words(&install.argv);
                self.asker
                    .confirm(
                        &Ask::new(
                            format!("Run `{command}` in `{}` now?", install.cwd),
                            "--yes (or --no-install to run it yourself)",
                        ),
                        true,
                    )
                    .map_err(|err| {
                        // The files are written by now: "nothing was changed" would be false.
                        if (err.is::<Interrupted>() || err.is::<Cancelled>())
                            && !self.written.is_empty()
                        {
                            StoppedAtInstall {
                                written: self.written.len(),
                                command,
                            }
                            .into()
                        } else {
                            err
                        }
                    })
            }
            Question::OverwriteEdited { conflict } => {
                self.printer.data(conflict.diff.trim_end())?;
                self.asker.confirm(
                    &Ask::new(
                        format!(
                            "Overwrite `{}`? Your edits shown above (lines marked -) are lost",
                            conflict.path
                        ),
                        "`spaire-billing apply --overwrite-edited` after reviewing `spaire-billing plan`",
                    ),
                    false,
                )
            }
        }
    }

    fn event(&mut self, event: &Event<'_>) {
        let interactive = self.asker.interactive() && !self.printer.is_quiet();
        match event {
            Event::Wrote { path, .. } => self.written.push((*path).to_owned()),
            Event::InstallStarted { command, cwd } => {
                self.clear_spinner();
                self.printer
                    .status("Running", format!("{command} (in {cwd})"));
                if interactive {
                    self.spinner = Some(new_spinner(format!("{command}…")));
                }
            }
            Event::InstallOutput { line } => match &self.spinner {
                Some(spinner) => spinner.println(format!("    | {line}")),
                None => self.printer.info(format!("    | {line}")),
            },
            Event::InstallFinished { command, success } => {
                self.clear_spinner();
                if *success {
                    self.printer.status("Installed", command);
                } else {
                    self.printer.warn(format!(
                        "`{command}` failed; run it yourself, then `spaire-billing status`"
                    ));
                }
            }
            Event::RemoteStarted { steps, environment } => {
                self.clear_spinner();
                let message = format!("{steps} remote step(s) in {}", environment.as_str());
                if interactive {
                    self.spinner = Some(new_spinner(message));
                } else {
                    self.printer.status("Remote", message);
                }
            }
            // Setup ran its baseline before asking apply to start.
            Event::Writing { .. } => {}
        }
    }
}
