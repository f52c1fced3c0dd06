//! Invariants of a plan, checked on every plan whether it was read from `spaire-billing.toml`
//! or built by the setup wizard / MCP server:
//!
//! - meter names are unique (Spaire does not enforce it; two meters with one name make remote
//!   setup ambiguous) and at least 3 characters (the API's minimum);
//! - each meter's event name is exactly the one the generated code sends for its kind, and each
//!   aggregated property is a metadata key the generated code writes on that event
//!   ([`presets::written_keys`]), so a meter can never sum a key no event carries;
//! - prices and credits reference meters in the plan, and amounts are what the API accepts.

use std::collections::{BTreeMap, HashSet};

use crate::diagnostic::{Diagnostic, PlanError};
use crate::model::{AggregationFunc, BillingPlan, CustomerSource, Environment, MeterKind};
use crate::parse::did_you_mean;
use crate::presets;
use crate::text;

/// Where a plan meter came from in the file: the `[[meters]]` entry (a preset entry can
/// produce several meters) and whether its fields were written by the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterOrigin {
    pub path: String,
    pub from_preset: bool,
}

/// Webhook event types Spaire sends (`WebhookEventType`); the list is
/// `billing_vocab::WEBHOOK_EVENT_TYPES`.
pub use billing_vocab::webhook::WEBHOOK_EVENT_NAMES as WEBHOOK_EVENT_TYPES;

/// Largest `cap_amount` the API accepts (a 32-bit signed integer of cents).
const MAX_CAP_AMOUNT: i64 = 2_147_483_647;

/// Validates a plan that was not read from a file (no line numbers; key paths index the plan's
/// own meters).
pub fn validate(plan: &BillingPlan) -> Result<(), PlanError> {
    let origins: Vec<MeterOrigin> = (0..plan.meters.len())
        .map(|i| MeterOrigin {
            path: format!("meters[{i}]"),
            from_preset: false,
        })
        .collect();
    let diagnostics = check(plan, &origins);
    if diagnostics.is_empty() {
        Ok(())
    } else {
        Err(PlanError {
            file: crate::PLAN_FILE.to_owned(),
            diagnostics,
        })
    }
}

/// Every invariant violation in `plan`; `origins[i]` locates `plan.meters[i]`.
pub fn check(plan: &BillingPlan, origins: &[MeterOrigin]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    check_top(plan, &mut out);
    check_meters(plan, origins, &mut out);
    check_prices(plan, &mut out);
    check_credits(plan, &mut out);
    check_webhooks(plan, &mut out);
    out
}

fn check_top(plan: &BillingPlan, out: &mut Vec<Diagnostic>) {
    if let Some(url) = &plan.server_url
        && let Some(problem) = text::url_problem(url)
    {
        out.push(Diagnostic::new(
            "server_url",
            problem,
            "write the API base URL, e.g. `server_url = \"https://sandbox-api.spairehq.com\"`",
        ));
    } else if let Some(url) = &plan.server_url {
        let scheme_ok = url.starts_with("https://")
            || (url.starts_with("http://") && plan.environment == Environment::Local)
            || url.starts_with("http://127.0.0.1")
            || url.starts_with("http://localhost");
        if !scheme_ok {
            out.push(Diagnostic::new(
                "server_url",
                format!("expected an https URL (or http on localhost), found {url:?}"),
                "write e.g. `server_url = \"https://sandbox-api.spairehq.com\"`, or remove the \
                 key to use the environment's default",
            ));
        } else if url.trim_end_matches('/').ends_with("/v1") {
            out.push(Diagnostic::new(
                "server_url",
                format!("the base URL must not include the API version, found {url:?}"),
                format!(
                    "write `server_url = \"{}\"`",
                    url.trim_end_matches('/').trim_end_matches("/v1")
                ),
            ));
        }
    }
    let path = &plan.project.path;
    if path.starts_with('/')
        || path.contains('\\')
        || path.split('/').any(|c| c == "..")
        || path.contains(':')
    {
        out.push(Diagnostic::new(
            "project.path",
            format!(
                "expected a path inside the project, relative and without `..`, found {path:?}"
            ),
            "write the package directory relative to this file, e.g. `path = \"apps/web\"`",
        ));
    }
    let paths = [
        (
            "customer.expression",
            &plan.call_site_customer.expression,
            true,
            "teamId",
        ),
        (
            "customer.job_field",
            &plan.call_site_customer.job_field,
            false,
            "userId",
        ),
    ];
    for (key, value, optional_chain, example) in paths {
        if let Some(problem) = value
            .as_deref()
            .and_then(|v| text::customer_path_problem(v, optional_chain))
        {
            out.push(Diagnostic::new(
                key,
                problem,
                format!(
                    "write a variable or property path, e.g. `{} = \"{example}\"` (it is \
                     pasted into your code, so nothing else is accepted)",
                    key.trim_start_matches("customer.")
                ),
            ));
        }
    }
    match &plan.customer {
        CustomerSource::Header { header } => {
            let valid = !header.is_empty()
                && header
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid {
                out.push(Diagnostic::new(
                    "customer.header",
                    format!(
                        "expected an HTTP header name (letters, digits, `-`), found {header:?}"
                    ),
                    "write e.g. `header = \"x-customer-id\"`",
                ));
            }
        }
        CustomerSource::Body { field } => {
            if !is_identifier(field) {
                out.push(Diagnostic::new(
                    "customer.field",
                    format!("expected a JSON field name, found {field:?}"),
                    "write e.g. `field = \"customerId\"`",
                ));
            }
        }
        CustomerSource::Session => {}
        CustomerSource::Function { function, module } => {
            if !is_identifier(function) {
                out.push(Diagnostic::new(
                    "customer.function",
                    format!("expected a function name, found {function:?}"),
                    "write e.g. `function = \"getUserId\"`",
                ));
            }
            if !text::is_module_specifier(module) {
                out.push(Diagnostic::new(
                    "customer.module",
                    format!(
                        "expected the module that exports the function (letters, digits and \
                         `@ . _ - / ~ # \\ ::`, at most {} characters), found {module:?}",
                        text::MAX_MODULE
                    ),
                    "write e.g. `module = \"@/lib/auth\"` (TypeScript), `module = \"app.auth\"` \
                     (Python), `module = \"App/Auth\"` (PHP) or `module = \"Auth\"` (Ruby)",
                ));
            }
        }
    }
}

/// The kind as users see it (the preset family name).
pub fn kind_label(kind: MeterKind) -> &'static str {
    kind.as_str()
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

fn field(origin: &MeterOrigin, key: &str) -> String {
    if origin.from_preset {
        origin.path.clone()
    } else {
        format!("{}.{key}", origin.path)
    }
}

fn check_meters(plan: &BillingPlan, origins: &[MeterOrigin], out: &mut Vec<Diagnostic>) {
    if plan.meters.is_empty() {
        out.push(Diagnostic::new(
            "meters",
            "the plan has no meters",
            format!(
                "add one, e.g. `[[meters]]` with `preset = \"{}\"` (presets: {})",
                billing_vocab::meter::LLM_PRESET,
                billing_vocab::meter::preset_ids().join(", ")
            ),
        ));
        return;
    }
    let fallback = |i: usize| MeterOrigin {
        path: format!("meters[{i}]"),
        from_preset: false,
    };
    let origin = |i: usize| origins.get(i).cloned().unwrap_or_else(|| fallback(i));

    let mut seen_names: BTreeMap<&str, String> = BTreeMap::new();
    // Event name → kinds of meters counting it, to check what the generated code sends.
    let mut sent_by: BTreeMap<&str, Vec<MeterKind>> = BTreeMap::new();
    for (i, meter) in plan.meters.iter().enumerate() {
        let o = origin(i);
        if let Some(problem) = text::meter_name_problem(&meter.name) {
            out.push(Diagnostic::new(
                field(&o, "name"),
                problem,
                "write e.g. `name = \"image-generations\"`",
            ));
        }
        if let Some(first) = seen_names.get(meter.name.as_str()) {
            out.push(Diagnostic::new(
                field(&o, "name"),
                format!("meter `{}` is defined twice (first by {first})", meter.name),
                "remove one of them or give this one another name",
            ));
        } else {
            seen_names.insert(&meter.name, o.path.clone());
        }
        if !text::is_event_name(&meter.event) {
            out.push(Diagnostic::new(
                field(&o, "event"),
                format!(
                    "expected an event name of 1 to {} letters, digits, `-`, `_`, `.` or `:`, \
                     found {:?}",
                    text::MAX_EVENT_NAME,
                    meter.event
                ),
                "write e.g. `event = \"image-generated\"`",
            ));
        }
        if let Some(fixed) = presets::fixed_event(meter.kind)
            && fixed != meter.event
        {
            out.push(Diagnostic::new(
                field(&o, "event"),
                format!(
                    "a {} meter counts `{fixed}` events (what the generated code sends), \
                     found {:?}",
                    kind_label(meter.kind),
                    meter.event
                ),
                "use the preset unchanged, or a custom meter with its own event".to_owned(),
            ));
        }
        sent_by.entry(&meter.event).or_default().push(meter.kind);

        if let Some(markup) = &meter.markup {
            let valid = markup_in_range(markup);
            if !meter.bills_llm_cost() {
                out.push(Diagnostic::new(
                    field(&o, "markup"),
                    "only the LLM cost meter takes a `markup`".to_owned(),
                    format!(
                        "remove `markup`, or use it with `preset = \"{}\"`",
                        billing_vocab::meter::LLM_COST_PRESET
                    ),
                ));
            } else if !valid {
                out.push(Diagnostic::new(
                    field(&o, "markup"),
                    format!("expected a positive number up to 1000, found {markup:?}"),
                    "write e.g. `markup = 1.2` to bill the cost plus 20%",
                ));
            }
        }
        match (meter.aggregation.func, &meter.aggregation.property) {
            (AggregationFunc::Count, Some(property)) => out.push(Diagnostic::new(
                field(&o, "property"),
                format!("a count meter aggregates no property, found property {property:?}"),
                format!(
                    "remove `property`, or use `aggregation = \"{}\"`",
                    AggregationFunc::Sum
                ),
            )),
            (AggregationFunc::Count, None) => {}
            (func, None) => out.push(Diagnostic::new(
                field(&o, "property"),
                format!(
                    "missing key `property`: a {} meter needs the metadata key it aggregates",
                    crate::write::aggregation_name(func)
                ),
                "add e.g. `property = \"pixels\"` (the number your code records per event)",
            )),
            (_, Some(property)) => {
                // Spaire's reserved objects nest (`_cost.amount`, `_llm.total_tokens`); only
                // the kinds whose generated code writes them may aggregate such a path.
                let reserved = meter.kind != MeterKind::Custom
                    && meter.kind.metadata_keys().contains(&property.as_str());
                if !is_identifier(property) && !reserved {
                    out.push(Diagnostic::new(
                        field(&o, "property"),
                        format!(
                            "expected a metadata key (letters, digits, `_`, not starting with a \
                             digit), found {property:?}"
                        ),
                        "write e.g. `property = \"pixels\"`",
                    ));
                }
            }
        }
    }

    for (i, meter) in plan.meters.iter().enumerate() {
        let o = origin(i);
        let kinds = &sent_by[meter.event.as_str()];
        if meter.kind == MeterKind::Custom {
            if let Some(other) = kinds.iter().find(|k| **k != MeterKind::Custom) {
                out.push(Diagnostic::new(
                    field(&o, "event"),
                    format!(
                        "event `{}` is already sent by the generated {} code with its \
                         own metadata; a custom meter needs its own event",
                        meter.event,
                        kind_label(*other)
                    ),
                    "give this meter another event name, e.g. `event = \"image-generated\"`",
                ));
                continue;
            }
            if kinds.len() > 1 {
                out.push(Diagnostic::new(
                    field(&o, "event"),
                    format!(
                        "event `{}` is used by {} custom meters; each custom meter gets its own \
                         recording helper, so each needs its own event",
                        meter.event,
                        kinds.len()
                    ),
                    "give each custom meter a distinct event name",
                ));
                continue;
            }
        }
        // The property must be a key the code sending this event writes.
        if let Some(property) = &meter.aggregation.property {
            let written: HashSet<String> = plan
                .meters
                .iter()
                .filter(|m| m.event == meter.event)
                .flat_map(presets::written_keys)
                .collect();
            if !written.contains(property) {
                let mut keys: Vec<&String> = written.iter().collect();
                keys.sort();
                out.push(Diagnostic::new(
                    field(&o, "property"),
                    format!(
                        "the generated code never writes `{property}` on `{}` events (it writes {})",
                        meter.event,
                        keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                    ),
                    "aggregate one of the keys listed, or define a custom meter with its own event",
                ));
            }
        }
    }
}

fn meter_reference(plan: &BillingPlan, path: &str, meter: &str, out: &mut Vec<Diagnostic>) {
    if plan.meter(meter).is_some() {
        return;
    }
    let names: Vec<&str> = plan.meters.iter().map(|m| m.name.as_str()).collect();
    let fix = match did_you_mean(meter, &names) {
        Some(close) => format!("did you mean `meter = \"{close}\"`?"),
        None if names.is_empty() => "add the meter under `[[meters]]` first".to_owned(),
        None => format!(
            "use one of the plan's meters: {}",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    out.push(Diagnostic::new(
        format!("{path}.meter"),
        format!("no meter named `{meter}` in the plan"),
        fix,
    ));
}

/// Whether `text` is a valid `llm-cost` markup: a positive factor up to 1000 (the plan file,
/// `--llm-markup` and MCP's `markup` all take this one rule).
pub fn markup_in_range(text: &str) -> bool {
    text.trim()
        .parse::<f64>()
        .is_ok_and(|n| n.is_finite() && n > 0.0 && n <= 1000.0)
}

/// Checks a price in cents: a decimal string, > 0, ≤ 5 integer digits, ≤ 12 decimals.
pub fn check_unit_amount(amount: &str) -> Result<(), String> {
    let (int, frac) = amount.split_once('.').unwrap_or((amount, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || (amount.contains('.') && frac.is_empty())
    {
        return Err(format!("found {amount:?}, which is not a decimal number"));
    }
    if frac.len() > 12 {
        return Err(format!("found {amount:?} with {} decimals", frac.len()));
    }
    if int.trim_start_matches('0').len() > 5 {
        return Err(format!(
            "found {amount:?}, more than 5 integer digits of cents"
        ));
    }
    if int.bytes().chain(frac.bytes()).all(|b| b == b'0') {
        return Err(format!(
            "found {amount:?}, but a metered price must be greater than 0"
        ));
    }
    Ok(())
}

fn check_prices(plan: &BillingPlan, out: &mut Vec<Diagnostic>) {
    let mut seen = HashSet::new();
    for (i, price) in plan.prices.iter().enumerate() {
        let p = format!("prices[{i}]");
        meter_reference(plan, &p, &price.meter, out);
        if price.product.0.trim().is_empty() {
            out.push(Diagnostic::new(
                format!("{p}.product"),
                "expected a product name or id, found an empty string",
                "write e.g. `product = \"Pro\"`",
            ));
        }
        if let Err(found) = check_unit_amount(&price.unit_amount) {
            out.push(Diagnostic::new(
                format!("{p}.unit_amount"),
                format!("expected a decimal string like \"0.0001\" (cents, at most 12 decimals), {found}"),
                "write the price per unit in cents, e.g. `unit_amount = \"0.0001\"` for $0.000001 per unit",
            ));
        }
        if let Some(cap) = price.cap_amount
            && !(0..=MAX_CAP_AMOUNT).contains(&cap)
        {
            out.push(Diagnostic::new(
                format!("{p}.cap_amount"),
                format!("expected cents between 0 and {MAX_CAP_AMOUNT}, found {cap}"),
                "write the maximum charge per period in cents, e.g. `cap_amount = 5000` for $50",
            ));
        }
        if !seen.insert((&price.meter, &price.product.0)) {
            out.push(Diagnostic::new(
                p,
                format!(
                    "a second price for meter `{}` on product `{}`",
                    price.meter, price.product.0
                ),
                "keep one `[[prices]]` entry per meter and product",
            ));
        }
    }
}

fn check_credits(plan: &BillingPlan, out: &mut Vec<Diagnostic>) {
    let mut seen = HashSet::new();
    for (i, credit) in plan.credits.iter().enumerate() {
        let p = format!("credits[{i}]");
        meter_reference(plan, &p, &credit.meter, out);
        if credit.product.0.trim().is_empty() {
            out.push(Diagnostic::new(
                format!("{p}.product"),
                "expected a product name or id, found an empty string",
                "write e.g. `product = \"Pro\"`",
            ));
        }
        if credit.units <= 0 || credit.units > i64::from(i32::MAX) {
            out.push(Diagnostic::new(
                format!("{p}.units"),
                format!(
                    "expected a whole number of units from 1 to {} (the API's limit), found {}",
                    i32::MAX,
                    credit.units
                ),
                "write the units credited per billing cycle, e.g. `units = 100000`",
            ));
        }
        if !seen.insert((&credit.meter, &credit.product.0)) {
            out.push(Diagnostic::new(
                p,
                format!(
                    "a second credit grant for meter `{}` on product `{}`",
                    credit.meter, credit.product.0
                ),
                "keep one `[[credits]]` entry per meter and product",
            ));
        }
    }
}

/// What to write instead of an unknown event type: the closest type, else the types of the
/// same resource (`member.joined` → the `member.*` types), else the default subscription.
fn unknown_event_fix(event: &str) -> String {
    if let Some(close) = did_you_mean(event, WEBHOOK_EVENT_TYPES) {
        return format!("did you mean \"{close}\"?");
    }
    let resource = event.split('.').next().unwrap_or_default();
    let same_resource: Vec<String> = WEBHOOK_EVENT_TYPES
        .iter()
        .filter(|t| t.split('.').next() == Some(resource))
        .map(|t| format!("\"{t}\""))
        .collect();
    if !same_resource.is_empty() {
        return format!(
            "Spaire sends these `{resource}` events: {}",
            same_resource.join(", ")
        );
    }
    format!(
        "use a Spaire webhook event type, e.g. {} (all {} are listed in docs/plan-file.md)",
        billing_vocab::DEFAULT_WEBHOOK_EVENTS
            .map(|e| format!("\"{e}\""))
            .join(", "),
        WEBHOOK_EVENT_TYPES.len()
    )
}

fn check_webhooks(plan: &BillingPlan, out: &mut Vec<Diagnostic>) {
    let Some(webhooks) = &plan.webhooks else {
        return;
    };
    let mut seen = HashSet::new();
    for (i, event) in webhooks.events.iter().enumerate() {
        let path = format!("webhooks.events[{i}]");
        if !WEBHOOK_EVENT_TYPES.contains(&event.as_str()) {
            let fix = unknown_event_fix(event);
            out.push(Diagnostic::new(
                path,
                format!("unknown webhook event type {event:?}"),
                fix,
            ));
        } else if !seen.insert(event) {
            out.push(Diagnostic::new(
                path,
                format!("{event:?} is listed twice"),
                "remove the duplicate",
            ));
        }
    }
    if let Some(url) = &webhooks.url
        && let Some(problem) = text::url_problem(url)
    {
        out.push(Diagnostic::new(
            "webhooks.url",
            problem,
            "give the public https URL of the webhook endpoint",
        ));
    } else if let Some(url) = &webhooks.url
        && !url.starts_with("https://")
    {
        out.push(Diagnostic::new(
            "webhooks.url",
            format!("Spaire only delivers webhooks to https URLs, found {url:?}"),
            "give a public https URL, or remove `url` (the handler is still generated; register \
             the endpoint later)",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_amounts_follow_the_api_rules() {
        for ok in ["0.0001", "1", "12345", "0.000000000001", "10.5"] {
            assert!(check_unit_amount(ok).is_ok(), "{ok}");
        }
        for bad in [
            "0",
            "0.0",
            "-1",
            "1e-4",
            "",
            ".5",
            "1.",
            "123456",
            "0.0000000000001",
            "1,5",
        ] {
            assert!(check_unit_amount(bad).is_err(), "{bad}");
        }
    }
}
