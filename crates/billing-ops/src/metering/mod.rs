//! The metering account: per meter, what in the app's own code feeds it (`file:line`), and
//! every step that still needs the user's hand, each with the file, the place and the exact
//! snippet. `setup`, `apply` and `status` all print it; `complete` is what `status` gates on.
//!
//! It is computed from the project's files (on disk for `status`; on disk plus the planned
//! changes for `plan` / `apply`), never from what spaire-billing meant to do: a middleware that
//! was generated but not registered feeds nothing, and a meter nothing feeds is listed with
//! the reason and a step that fixes it, never left silent.

pub mod scan;

mod build;

pub use build::{metering_of_changes, metering_on_disk};

use billing_changeset::{ManualStep, RemoteAction, RemoteStep};
use billing_detect::{CallSiteKind, Package};
use billing_generate::feeds::{self, Feed};
use billing_plan::{BillingPlan, CustomerSource, Meter, MeterKind};
use serde::Serialize;

pub use scan::SourceView;

/// The URL path every generator serves webhooks on.
pub const WEBHOOK_PATH: &str = billing_generate::typescript::WEBHOOK_PATH;

/// The variable holding the webhook endpoint's signing secret.
pub const WEBHOOK_SECRET_VAR: &str = "SPAIRE_WEBHOOK_SECRET";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Metering {
    pub meters: Vec<MeterAccount>,
    /// Steps for the user's hand; `done` ones stay listed so a re-run shows what changed.
    pub manual_steps: Vec<MeteringStep>,
    /// Every meter is fed and every manual step is done.
    pub complete: bool,
    /// Billable calls `detect` found that no meter in the plan bills (information: they do
    /// not make metering incomplete, since the plan chose not to bill them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unmetered_calls: Vec<UnmeteredCalls>,
    /// Billable calls the user marked `spaire-billing: not billed` (information: listed so
    /// the marking is visible; they make metering neither complete nor incomplete).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_billed: Vec<UnmeteredSite>,
}

/// The calls of one kind that no meter of the plan bills, and the meter that would.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnmeteredCalls {
    /// The meter kind (and preset) that bills them: `llm-tokens`, `images-generated`, `storage`.
    pub meter: String,
    pub sites: Vec<UnmeteredSite>,
    /// What to do, in words: "add the llm-tokens meter to meter these 2 calls".
    pub fix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnmeteredSite {
    pub file: String,
    pub line: u32,
    /// The callee as written (`fetch`, `openai.chat.completions.create`).
    pub callee: String,
    /// Why adding the meter will not wire this call by itself (a raw `fetch` in browser code,
    /// a Realtime session): the manual step it becomes then says what to add.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeterAccount {
    pub name: String,
    pub event: String,
    pub feeders: Vec<Feeder>,
    /// Why nothing feeds the meter (absent when something does).
    pub unfed_reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeederKind {
    /// The app's code calls a usage helper here.
    CallSite,
    /// Middleware, a plugin or a hook that records every request is registered here.
    Middleware,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Feeder {
    pub kind: FeederKind,
    pub file: String,
    pub line: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    /// A detected model / upload call that could not be edited safely.
    CallSite,
    /// Register the generated API-call middleware (or wrap handlers with it).
    RegisterMiddleware,
    /// Nothing calls the meter's helper: call it where the usage happens.
    CallHelper,
    /// The generated customer resolver returns no user id until it is filled in.
    CustomerResolver,
    /// Serve the webhook route.
    WebhookRoute,
    /// Register the webhook endpoint in Spaire (no endpoint was created).
    WebhookEndpoint,
    /// Anything else the generators asked for.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeteringStep {
    pub kind: StepKind,
    pub file: String,
    pub line: Option<u32>,
    /// The meter this step feeds (absent for steps that feed none, e.g. webhooks).
    pub meter: Option<String>,
    /// What to do and where, in words.
    pub instructions: String,
    pub snippet: Option<String>,
    pub done: bool,
}

/// Whether a webhook endpoint exists (or is being created) in Spaire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookEndpoint {
    /// The plan has no webhooks.
    NotPlanned,
    Created,
    NotCreated,
}

impl WebhookEndpoint {
    /// From the remote steps of a plan: a `webhook-endpoint` step that creates or reuses one.
    pub fn from_remote(plan: &BillingPlan, remote: &[RemoteStep]) -> Self {
        if plan.webhooks.is_none() {
            return Self::NotPlanned;
        }
        let created = remote.iter().any(|step| {
            step.object == "webhook-endpoint"
                && matches!(step.action, RemoteAction::Create | RemoteAction::Reuse)
        });
        if created {
            Self::Created
        } else {
            Self::NotCreated
        }
    }
}

/// Everything the account is computed from.
pub struct AccountInput<'a> {
    pub plan: &'a BillingPlan,
    pub package: &'a Package,
    pub view: &'a SourceView,
    /// The manual steps the producers (generation, wiring) listed.
    pub manual_steps: &'a [ManualStep],
    pub webhook_endpoint: WebhookEndpoint,
    /// `import { x } from "..."` / `from x import y` for a helper, as seen from a file.
    pub import_line: &'a dyn Fn(&str, &[&str]) -> Option<String>,
    /// Whether spaire-billing wrote this file as it is (generated, or wired by apply): a
    /// feeder anywhere else was added by the user's hand.
    pub written_by_us: &'a dyn Fn(&str) -> bool,
}

/// The names of one meter, and of every meter of its kind (they share helpers).
struct MeterFeed<'a> {
    meter: &'a Meter,
    feed: Feed,
    group: Vec<String>,
}

const WEBHOOK_NAMES: &[&str] = &[
    "spaireWebhooks",
    "handleSpaireWebhook",
    "spaire_webhook",
    "SpaireWebhook",
    "WebhookHandler",
];

pub fn account(input: &AccountInput<'_>) -> Metering {
    let feeds: Vec<MeterFeed<'_>> = input
        .plan
        .meters
        .iter()
        .map(|meter| {
            let feed = feeds::feed(input.package.language, input.plan, meter);
            let mut group: Vec<String> = feed
                .helpers
                .iter()
                .chain(&feed.middleware)
                .chain(&feed.generic)
                .cloned()
                .collect();
            group.dedup();
            MeterFeed { meter, feed, group }
        })
        .collect();

    let mut meters: Vec<MeterAccount> = feeds
        .iter()
        .map(|f| MeterAccount {
            name: f.meter.name.clone(),
            event: f.meter.event.clone(),
            feeders: feeders_of(input.view, f),
            unfed_reason: None,
        })
        .collect();

    let mut steps: Vec<MeteringStep> = input
        .manual_steps
        .iter()
        .map(|step| classify(input, &feeds, &meters, step))
        .collect();

    for (f, meter) in feeds.iter().zip(&meters) {
        if let Some(step) = done_by_hand(input, &steps, f, meter) {
            steps.push(step);
        }
    }
    if let Some(step) = customer_resolver_step(input, &feeds) {
        steps.push(step);
    }
    if let Some(step) = webhook_endpoint_step(input) {
        steps.push(step);
    }
    for (index, f) in feeds.iter().enumerate() {
        if !meters[index].feeders.is_empty() {
            continue;
        }
        let pending = steps
            .iter()
            .any(|s| !s.done && s.meter.as_deref() == Some(f.meter.name.as_str()));
        // Meters of one kind share their helpers: one step to call it is enough.
        let same_kind_listed = steps.iter().any(|s| {
            !s.done
                && s.kind == StepKind::CallHelper
                && s.meter
                    .as_deref()
                    .and_then(|m| input.plan.meter(m))
                    .is_some_and(|m| m.kind == f.meter.kind && m.kind != MeterKind::Custom)
        });
        if !pending && !same_kind_listed {
            steps.push(call_helper_step(input, f));
        }
        meters[index].unfed_reason = Some(unfed_reason(f));
    }
    let complete = meters.iter().all(|m| !m.feeders.is_empty()) && steps.iter().all(|s| s.done);
    Metering {
        meters,
        manual_steps: steps,
        complete,
        unmetered_calls: unmetered_calls(input.plan, input.package, input.view),
        not_billed: input
            .package
            .not_billed
            .iter()
            .map(|site| UnmeteredSite {
                file: site.file.clone(),
                line: site.line,
                callee: site.callee.clone(),
                notes: Vec::new(),
            })
            .collect(),
    }
}

/// The package's billable call sites no planned meter bills, grouped by the meter kind to
/// add (the same rule wiring uses to skip them, `billing_wire::missing_meter`).
pub fn unmetered_calls(
    plan: &BillingPlan,
    package: &Package,
    view: &SourceView,
) -> Vec<UnmeteredCalls> {
    let mut groups: Vec<UnmeteredCalls> = Vec::new();
    for site in &package.call_sites {
        let Some(kind) = billing_wire::missing_meter(site.kind, plan) else {
            continue;
        };
        let meter = kind.as_str();
        let index = match groups.iter().position(|g| g.meter == meter) {
            Some(index) => index,
            None => {
                groups.push(UnmeteredCalls {
                    meter: meter.to_owned(),
                    sites: Vec::new(),
                    fix: String::new(),
                });
                groups.len() - 1
            }
        };
        let notes = match view.files.get(&site.file) {
            Some(src) if site.kind == CallSiteKind::LlmHttpFetch => {
                billing_detect::callsites::typescript::raw_fetch_notes(&site.file, src, site.line)
            }
            _ => Vec::new(),
        };
        groups[index].sites.push(UnmeteredSite {
            file: site.file.clone(),
            line: site.line,
            callee: site.callee.clone(),
            notes: notes.into_iter().map(str::to_owned).collect(),
        });
    }
    for group in &mut groups {
        group
            .sites
            .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        let n = group.sites.len();
        group.fix = format!(
            "add the {} meter (`spaire-billing setup`, or a `[[meters]]` entry with `preset = \"{}\"` in spaire-billing.toml) to meter {}",
            group.meter,
            group.meter,
            if n == 1 {
                "this call".to_owned()
            } else {
                format!("these {n} calls")
            }
        );
    }
    groups
}

fn feeders_of(view: &SourceView, f: &MeterFeed<'_>) -> Vec<Feeder> {
    let mut feeders = Vec::new();
    let mut push = |kind: FeederKind, use_: scan::Use| {
        if !feeders
            .iter()
            .any(|x: &Feeder| x.file == use_.file && x.line == use_.line)
        {
            feeders.push(Feeder {
                kind,
                file: use_.file,
                line: use_.line,
            });
        }
    };
    for use_ in scan::uses(view, &f.group, &f.feed.middleware, None) {
        push(FeederKind::Middleware, use_);
    }
    for use_ in scan::uses(view, &f.group, &f.feed.helpers, None) {
        push(FeederKind::CallSite, use_);
    }
    if let Some(generic) = &f.feed.generic {
        for use_ in scan::uses(
            view,
            &f.group,
            std::slice::from_ref(generic),
            Some(&f.meter.event),
        ) {
            push(FeederKind::CallSite, use_);
        }
    }
    feeders.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    feeders
}

/// A meter the user fed by hand where no producer asks for anything any more (the generator
/// stops asking once the middleware is registered; wiring once the call is wired): the step
/// stays listed as done, so a re-run shows what changed.
fn done_by_hand(
    input: &AccountInput<'_>,
    steps: &[MeteringStep],
    f: &MeterFeed<'_>,
    meter: &MeterAccount,
) -> Option<MeteringStep> {
    if steps
        .iter()
        .any(|s| s.meter.as_deref() == Some(meter.name.as_str()))
    {
        return None;
    }
    let feeder = meter
        .feeders
        .iter()
        .find(|feeder| !(input.written_by_us)(&feeder.file))?;
    let (kind, what) = match feeder.kind {
        FeederKind::Middleware => (
            StepKind::RegisterMiddleware,
            "the usage middleware is registered here",
        ),
        FeederKind::CallSite => (StepKind::CallHelper, "the usage helper is called here"),
    };
    Some(MeteringStep {
        kind,
        file: feeder.file.clone(),
        line: Some(feeder.line),
        meter: Some(f.meter.name.clone()),
        instructions: format!("Done in the app's own code: {what}"),
        snippet: None,
        done: true,
    })
}

fn unfed_reason(f: &MeterFeed<'_>) -> String {
    let what = match (f.feed.middleware.first(), f.feed.helpers.first()) {
        (Some(middleware), _) => format!("registers `{middleware}` or calls its helpers"),
        (None, Some(helper)) => format!("calls `{helper}`"),
        (None, None) => format!(
            "calls `{}` with the event name",
            f.feed.generic.as_deref().unwrap_or("the usage helper")
        ),
    };
    // Every unfed meter has a pending step (one was added when nothing else covered it).
    format!(
        "nothing in the app {what}, so no `{}` event is ever sent and the meter counts \
         nothing; the manual steps say what to add",
        f.meter.event
    )
}

fn first_meter_of<'a>(
    feeds: &'a [MeterFeed<'a>],
    kinds: &[MeterKind],
) -> Option<&'a MeterFeed<'a>> {
    // `kinds` is in order of preference.
    kinds
        .iter()
        .find_map(|kind| feeds.iter().find(|f| f.meter.kind == *kind))
}

/// Gives a producer's manual step its kind and meter, and decides from the files whether it
/// is done (the middleware it asks for is registered now).
fn classify(
    input: &AccountInput<'_>,
    feeds: &[MeterFeed<'_>],
    meters: &[MeterAccount],
    step: &ManualStep,
) -> MeteringStep {
    let text = format!(
        "{} {}",
        step.instructions,
        step.snippet.as_deref().unwrap_or("")
    );
    let mentions = |names: &[String]| names.iter().any(|n| text.contains(n.as_str()));
    let site = input
        .package
        .call_sites
        .iter()
        .find(|s| s.file == step.file && Some(s.line) == step.line);
    let mut out = MeteringStep {
        kind: StepKind::Other,
        file: step.file.clone(),
        line: step.line,
        meter: None,
        instructions: step.instructions.clone(),
        snippet: step.snippet.clone(),
        done: false,
    };
    let fed = |name: &str| {
        meters
            .iter()
            .any(|m| m.name == name && !m.feeders.is_empty())
    };
    if let Some(site) = site {
        let kinds: &[MeterKind] = match site.kind {
            CallSiteKind::S3PutObject
            | CallSiteKind::S3Upload
            | CallSiteKind::Boto3PutObject
            | CallSiteKind::Boto3UploadFile
            | CallSiteKind::Boto3Multipart
            | CallSiteKind::Boto3Presigned => &[MeterKind::Storage],
            CallSiteKind::RouteHandler => &[MeterKind::ApiCalls],
            // An embedding meter bills embedding calls; without one they count as LLM tokens.
            CallSiteKind::Embed | CallSiteKind::OpenaiEmbedding => {
                &[MeterKind::Embeddings, MeterKind::LlmTokens]
            }
            _ => &[MeterKind::LlmTokens],
        };
        out.kind = StepKind::CallSite;
        out.meter = first_meter_of(feeds, kinds).map(|f| f.meter.name.clone());
        // Done once the helper is called near the site (within the call's statement).
        out.done = out.meter.as_deref().is_some_and(|name| {
            meters.iter().any(|m| {
                m.name == name
                    && m.feeders.iter().any(|feeder| {
                        feeder.file == site.file
                            && feeder.line >= site.line
                            && feeder.line <= site.line + 40
                    })
            })
        });
        return out;
    }
    if let Some(api) = first_meter_of(feeds, &[MeterKind::ApiCalls])
        && mentions(&api.group)
    {
        out.kind = StepKind::RegisterMiddleware;
        out.meter = Some(api.meter.name.clone());
        if out.line.is_none() {
            out.line = app_construction_line(input, &step.file);
        }
        let webhooks_named = WEBHOOK_NAMES.iter().any(|n| text.contains(n));
        out.done = fed(&api.meter.name) && (!webhooks_named || webhook_route_served(input.view));
        if out.snippet.is_some() && !out.done {
            out.snippet = with_import(input, &step.file, &text, out.snippet.take());
        }
        return out;
    }
    let lower = text.to_lowercase();
    if lower.contains("webhook") && WEBHOOK_NAMES.iter().any(|n| text.contains(n))
        || lower.contains(&format!("post {WEBHOOK_PATH}"))
    {
        out.kind = StepKind::WebhookRoute;
        out.done = webhook_route_served(input.view);
        return out;
    }
    out
}

/// The line where the app object is built in `file` (`const app = express(`): the
/// registration goes right after it.
fn app_construction_line(input: &AccountInput<'_>, file: &str) -> Option<u32> {
    let app = input
        .package
        .primary_framework()
        .and_then(|f| f.details.app_variable.clone())
        .unwrap_or_else(|| "app".to_owned());
    let text = input.view.files.get(file)?;
    text.lines()
        .position(|line| {
            let code = line.trim_start();
            let code = code.strip_prefix("export ").unwrap_or(code);
            ["const ", "let ", "var "].iter().any(|kw| {
                code.strip_prefix(kw)
                    .and_then(|rest| rest.strip_prefix(app.as_str()))
                    .is_some_and(|rest| {
                        let rest = rest.trim_start();
                        rest.starts_with('=') || rest.starts_with(':')
                    })
            })
        })
        .map(|index| u32::try_from(index + 1).unwrap_or(u32::MAX))
}

/// Whether some file other than the generated webhook module serves it.
fn webhook_route_served(view: &SourceView) -> bool {
    let names: Vec<String> = WEBHOOK_NAMES.iter().map(|n| (*n).to_owned()).collect();
    !scan::uses(view, &names, &names, None).is_empty()
}

/// A registration snippet gets the import line it needs, in the file's own module system.
fn with_import(
    input: &AccountInput<'_>,
    file: &str,
    text: &str,
    snippet: Option<String>,
) -> Option<String> {
    let snippet = snippet?;
    let names: Vec<&str> = ["spaireApiCalls", "spaireWebhooks"]
        .into_iter()
        .filter(|n| snippet.contains(n) || text.contains(n))
        .collect();
    if names.is_empty() || snippet.contains("import ") || snippet.contains("require(") {
        return Some(snippet);
    }
    match (input.import_line)(file, &names) {
        Some(import) => Some(format!("{import}\n{snippet}")),
        None => Some(snippet),
    }
}

/// The generated session resolver returns no user id until the user fills it in: without it,
/// every API call is dropped (no customer), so it is a step, pending while its marker is there.
fn customer_resolver_step(
    input: &AccountInput<'_>,
    feeds: &[MeterFeed<'_>],
) -> Option<MeteringStep> {
    if input.plan.customer != CustomerSource::Session {
        return None;
    }
    let meter = first_meter_of(feeds, &[MeterKind::ApiCalls]).map(|f| f.meter.name.clone());
    let stub = scan::find_text(input.view, feeds::SESSION_STUB_MARKER);
    let (file, line, done) = match stub.first() {
        Some((file, marker_line)) => {
            // The TypeScript stub is a named function; the Python and Ruby ones are marked
            // where the body has to be written, so the marker's own line is the place.
            let line = scan::definition(input.view, feeds::SESSION_STUB_FUNCTION)
                .filter(|(f, _)| f == file)
                .map_or(*marker_line, |(_, line)| line);
            (file.clone(), Some(line), false)
        }
        None => {
            let (file, line) = scan::definition(input.view, feeds::SESSION_STUB_FUNCTION)?;
            (file, Some(line), true)
        }
    };
    let resolver = StubResolver::for_file(&file);
    Some(MeteringStep {
        kind: StepKind::CustomerResolver,
        file,
        line,
        meter,
        instructions: format!(
            "`{function}()` returns no user id yet, so no request is attributed to a customer \
             and API calls are not metered: make it return the signed-in user's own id (a \
             string, the id your app stores; Spaire bills it as `externalCustomerId`) for the \
             request, or `{nothing}` when nobody is signed in{remove}",
            function = resolver.function,
            nothing = resolver.nothing,
            remove = resolver.remove,
        ),
        snippet: Some(resolver.snippet.to_owned()),
        done,
    })
}

/// How the generated session stub reads in the language of its file.
struct StubResolver {
    function: &'static str,
    nothing: &'static str,
    remove: &'static str,
    snippet: &'static str,
}

impl StubResolver {
    fn for_file(file: &str) -> Self {
        if file.ends_with(".py") {
            Self {
                function: "customer_id_from_request",
                nothing: "None",
                remove: " (then delete the `_warn_once()` call and its TODO)",
                snippet: "# FastAPI, OAuth2 bearer JWT: decode the token as your get_current_user does\n\
                          # payload = jwt.decode(token, SECRET_KEY, algorithms=[ALGORITHM]); return payload.get(\"sub\")\n\
                          # Flask-Login: return current_user.get_id() if current_user.is_authenticated else None",
            }
        } else if file.ends_with(".go") {
            Self {
                function: "CustomerIDFromRequest",
                nothing: "\"\"",
                remove: " (then delete its TODO)",
                snippet: "// in your auth middleware, once the user is known:\n\
                          // r = r.WithContext(spairebilling.WithCustomerID(r.Context(), userID))",
            }
        } else if file.ends_with(".rb") {
            Self {
                function: "customer_id_from",
                nothing: "\"\"",
                remove: " (then delete the `warn_once` call and its TODO)",
                snippet: "# Devise / Warden: env[\"warden\"]&.user&.id.to_s\n\
                          # Rails 8 authentication: Current.user&.id.to_s",
            }
        } else {
            Self {
                function: feeds::SESSION_STUB_FUNCTION,
                nothing: "undefined",
                remove: "",
                snippet: "// Auth.js: return (await auth())?.user?.id;\n// SvelteKit: return (request as { locals?: { user?: { id?: string } } }).locals?.user?.id;",
            }
        }
    }
}

fn webhook_endpoint_step(input: &AccountInput<'_>) -> Option<MeteringStep> {
    let webhooks = input.plan.webhooks.as_ref()?;
    let route = input
        .view
        .files
        .keys()
        .find(|path| path.contains("webhooks/spaire") || path.contains("webhook"))
        .cloned()
        .unwrap_or_else(|| WEBHOOK_PATH.trim_start_matches('/').to_owned());
    let done = input.webhook_endpoint == WebhookEndpoint::Created;
    Some(MeteringStep {
        kind: StepKind::WebhookEndpoint,
        file: route,
        line: None,
        meter: None,
        instructions: format!(
            "No webhook endpoint was created in Spaire (spaire-billing.toml has no `[webhooks] \
             url`, or no token): in the dashboard (Settings → Webhooks) add an endpoint for \
             https://<your public host>{WEBHOOK_PATH} with the events {}, and put its signing \
             secret in `{WEBHOOK_SECRET_VAR}`; or set `[webhooks] url` and apply again, and \
             spaire-billing creates it",
            webhooks.events.join(", ")
        ),
        snippet: Some(format!(
            "URL path: {WEBHOOK_PATH}\nSecret:   {WEBHOOK_SECRET_VAR}=<the endpoint's signing secret>"
        )),
        done,
    })
}

/// Nothing feeds the meter and no step covers it: say which helper to call, from where.
fn call_helper_step(input: &AccountInput<'_>, f: &MeterFeed<'_>) -> MeteringStep {
    let helper = f
        .feed
        .helpers
        .first()
        .or(f.feed.generic.as_ref())
        .cloned()
        .unwrap_or_default();
    let (file, line) = scan::definition(input.view, &helper)
        .map(|(file, line)| (file, Some(line)))
        .unwrap_or_else(|| ("(the generated usage module)".to_owned(), None));
    let place = match f.meter.kind {
        MeterKind::LlmTokens => {
            "after each model call in your request handlers (no model call was detected that \
             spaire-billing could wire: calls through the `openai` SDK, `openai-edge` or an \
             agent built elsewhere need this by hand), with the signed-in user's id and the \
             call's token usage"
        }
        MeterKind::Embeddings => {
            "after each embedding call (AI SDK `embed` / `embedMany`, OpenAI \
             `embeddings.create`), with the signed-in user's id and the call's token usage"
        }
        MeterKind::Images => {
            "after each image-generation call (AI SDK `generateImage`, OpenAI \
             `images.generate`), with the signed-in user's id and the images it returned"
        }
        MeterKind::ApiCalls => {
            "once per billed request, in each route handler (or register the generated \
             middleware on your app)"
        }
        MeterKind::Storage => {
            "right after each successful upload, in the code that stores it, with the size in \
             bytes"
        }
        MeterKind::ComputeTime => "around the work you bill for, in the code that runs it",
        MeterKind::Custom => "where the billed thing happens, in your own code",
    };
    let snippet = match (input.import_line)("", &[helper.as_str()]) {
        Some(import) => format!("{import}\n{}", f.feed.example),
        None => f.feed.example.clone(),
    };
    MeteringStep {
        kind: StepKind::CallHelper,
        file,
        line,
        meter: Some(f.meter.name.clone()),
        instructions: format!(
            "Nothing in the app feeds meter `{}` yet: call `{helper}` (defined in this file) \
             {place}",
            f.meter.name
        ),
        snippet: Some(snippet),
        done: false,
    }
}

#[cfg(test)]
mod tests;
