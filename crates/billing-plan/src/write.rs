//! [`BillingPlan`] → `spaire-billing.toml` text, editing an existing file in place.
//!
//! The wizard saves answers into the user's committed plan file, so an update must not
//! disturb a byte the answers did not change: comments, key order, quoting and blank lines of
//! unchanged entries survive (the `cargo add` approach). The plan is rendered as a fresh
//! document and merged into the existing one key by key; only values that differ are
//! replaced, and a replaced value keeps the old one's surrounding comments.

use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table, TableLike, Value, value};

use crate::diagnostic::{Diagnostic, PlanError};
use crate::model::{AggregationFunc, BillingPlan, CustomerSource, Meter};

const HEADER: &str = "# Usage-based billing plan for `spaire-billing` (commit this file).\n\
                      # Every key is documented in docs/plan-file.md; preview changes with \
                      `spaire-billing plan`.\n";

/// Renders `plan` as TOML. With `existing` (the current file text), edits that document in
/// place instead, preserving everything the plan does not change.
pub fn render(plan: &BillingPlan, existing: Option<&str>) -> Result<String, PlanError> {
    let fresh = to_document(plan);
    let Some(existing) = existing else {
        return Ok(format!("{HEADER}{fresh}"));
    };
    let mut doc: DocumentMut = existing
        .parse()
        .map_err(|err: toml_edit::TomlError| PlanError {
            file: crate::PLAN_FILE.to_owned(),
            diagnostics: vec![
                Diagnostic::new(
                    "",
                    format!("not valid TOML: {}", err.message().trim_end()),
                    "fix the syntax first; answers are saved into the file without rewriting it",
                )
                .at(existing, err.span()),
            ],
        })?;
    let mut fresh = fresh;
    drop_implicit_defaults(doc.as_table(), fresh.as_table_mut());
    merge_table(doc.as_table_mut(), fresh.as_table());
    Ok(doc.to_string())
}

/// Keys the file may leave out because parsing fills them in: an update does not add them
/// when they are absent and still have their default value (an unchanged plan stays
/// byte-identical).
fn drop_implicit_defaults(old: &Table, fresh: &mut Table) {
    let absent = |key: &str| old.get(key).is_none();
    if absent("environment") && fresh.get("environment").and_then(Item::as_str) == Some("sandbox") {
        fresh.remove("environment");
    }
    let default_project = fresh
        .get("project")
        .and_then(Item::as_table_like)
        .is_some_and(|t| t.len() == 1 && t.get("path").and_then(Item::as_str) == Some("."));
    if absent("project") && default_project {
        fresh.remove("project");
    }
    let default_customer = fresh
        .get("customer")
        .and_then(Item::as_table_like)
        .is_some_and(|t| {
            t.len() == 2
                && t.get("from").and_then(Item::as_str) == Some("header")
                && t.get("header").and_then(Item::as_str) == Some("x-customer-id")
        });
    if absent("customer") && default_customer {
        fresh.remove("customer");
    }
    // `rollover` defaults to false per credit entry.
    let old_credits: Vec<Option<&dyn TableLike>> = match old.get("credits") {
        Some(Item::ArrayOfTables(a)) => a.iter().map(|t| Some(t as &dyn TableLike)).collect(),
        Some(Item::Value(Value::Array(a))) => a
            .iter()
            .map(|v| v.as_inline_table().map(|t| t as &dyn TableLike))
            .collect(),
        _ => Vec::new(),
    };
    if let Some(Item::ArrayOfTables(credits)) = fresh.get_mut("credits") {
        for (i, credit) in credits.iter_mut().enumerate() {
            let old_has = old_credits
                .get(i)
                .copied()
                .flatten()
                .is_some_and(|t| t.get("rollover").is_some());
            let is_default = credit.get("rollover").and_then(Item::as_bool) == Some(false);
            if !old_has && is_default && old_credits.get(i).copied().flatten().is_some() {
                credit.remove("rollover");
            }
        }
    }
}

/// The data of an item, whatever its TOML style (inline or not, dotted or not).
fn data(item: &Item) -> serde_json::Value {
    use serde_json::Value as J;
    fn value(v: &Value) -> J {
        match v {
            Value::String(s) => J::String(s.value().clone()),
            Value::Integer(i) => J::from(*i.value()),
            Value::Float(f) => J::from(*f.value()),
            Value::Boolean(b) => J::Bool(*b.value()),
            Value::Datetime(d) => J::String(d.value().to_string()),
            Value::Array(a) => J::Array(a.iter().map(value).collect()),
            Value::InlineTable(t) => {
                J::Object(t.iter().map(|(k, v)| (k.to_owned(), value(v))).collect())
            }
        }
    }
    match item {
        Item::None => J::Null,
        Item::Value(v) => value(v),
        Item::Table(t) => J::Object(t.iter().map(|(k, v)| (k.to_owned(), data(v))).collect()),
        Item::ArrayOfTables(a) => J::Array(
            a.iter()
                .map(|t| J::Object(t.iter().map(|(k, v)| (k.to_owned(), data(v))).collect()))
                .collect(),
        ),
    }
}

/// The canonical TOML form of a plan: presets are written back as `preset = "..."`.
pub fn to_document(plan: &BillingPlan) -> DocumentMut {
    let mut doc = DocumentMut::new();
    doc["environment"] = value(plan.environment.as_str());
    if let Some(url) = &plan.server_url {
        doc["server_url"] = value(url.as_str());
    }

    let mut project = Table::new();
    project["path"] = value(plan.project.path.as_str());
    if let Some(framework) = &plan.project.framework {
        project["framework"] = value(framework.as_str());
    }
    doc["project"] = Item::Table(project);

    let mut customer = Table::new();
    match &plan.customer {
        CustomerSource::Header { header } => {
            customer["from"] = value("header");
            customer["header"] = value(header.as_str());
        }
        CustomerSource::Body { field } => {
            customer["from"] = value("body");
            customer["field"] = value(field.as_str());
        }
        CustomerSource::Session => customer["from"] = value("session"),
        CustomerSource::Function { function, module } => {
            customer["from"] = value("function");
            customer["function"] = value(function.as_str());
            customer["module"] = value(module.as_str());
        }
    }
    if let Some(expression) = &plan.call_site_customer.expression {
        customer["expression"] = value(expression.as_str());
    }
    if let Some(job_field) = &plan.call_site_customer.job_field {
        customer["job_field"] = value(job_field.as_str());
    }
    doc["customer"] = Item::Table(customer);

    let mut meters = ArrayOfTables::new();
    for entry in meter_entries(&plan.meters) {
        meters.push(entry);
    }
    doc["meters"] = Item::ArrayOfTables(meters);

    if !plan.prices.is_empty() {
        let mut prices = ArrayOfTables::new();
        for price in &plan.prices {
            let mut t = Table::new();
            t["meter"] = value(price.meter.as_str());
            t["product"] = value(price.product.0.as_str());
            t["unit_amount"] = value(price.unit_amount.as_str());
            if let Some(cap) = price.cap_amount {
                t["cap_amount"] = value(cap);
            }
            prices.push(t);
        }
        doc["prices"] = Item::ArrayOfTables(prices);
    }
    if !plan.credits.is_empty() {
        let mut credits = ArrayOfTables::new();
        for credit in &plan.credits {
            let mut t = Table::new();
            t["meter"] = value(credit.meter.as_str());
            t["product"] = value(credit.product.0.as_str());
            t["units"] = value(credit.units);
            t["rollover"] = value(credit.rollover);
            credits.push(t);
        }
        doc["credits"] = Item::ArrayOfTables(credits);
    }
    if let Some(webhooks) = &plan.webhooks {
        let mut t = Table::new();
        let events: Array = webhooks.events.iter().map(String::as_str).collect();
        t["events"] = value(events);
        if let Some(url) = &webhooks.url {
            t["url"] = value(url.as_str());
        }
        doc["webhooks"] = Item::Table(t);
    }
    doc
}

/// `markup = 1.2` as the number the user wrote (kept as text if it is not one).
fn markup_value(markup: &str) -> Item {
    match markup.parse::<f64>() {
        Ok(number) if number.fract() == 0.0 && number.abs() < 1e15 => value(number as i64),
        Ok(number) => value(number),
        Err(_) => value(markup),
    }
}

/// One `[[meters]]` table per preset use (a preset's meters collapse back into one entry when
/// they appear together and unchanged) or per custom meter.
fn meter_entries(meters: &[Meter]) -> Vec<Table> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < meters.len() {
        let m = &meters[i];
        if let Some(preset) = m.preset.as_deref().and_then(crate::presets::preset)
            && !preset.meters.is_empty()
            && meters.get(i..i + preset.meters.len()).is_some_and(|used| {
                // The markup is the preset's one setting, not a change to its meters.
                used.iter()
                    .map(|u| Meter {
                        markup: None,
                        paths: None,
                        ..u.clone()
                    })
                    .eq(preset.meters.iter().cloned())
            })
        {
            let mut t = Table::new();
            t["preset"] = value(preset.id);
            if let Some(markup) = &m.markup {
                t["markup"] = markup_value(markup);
            }
            if let Some(paths) = &m.paths {
                t["paths"] = value(Array::from_iter(paths.iter().map(String::as_str)));
            }
            out.push(t);
            i += preset.meters.len();
            continue;
        }
        let mut t = Table::new();
        t["name"] = value(m.name.as_str());
        t["event"] = value(m.event.as_str());
        t["aggregation"] = value(aggregation_name(m.aggregation.func));
        if let Some(property) = &m.aggregation.property {
            t["property"] = value(property.as_str());
        }
        out.push(t);
        i += 1;
    }
    out
}

pub(crate) fn aggregation_name(func: AggregationFunc) -> &'static str {
    func.as_str()
}

fn merge_table(old: &mut dyn TableLike, new: &dyn TableLike) {
    let stale: Vec<String> = old
        .iter()
        .filter(|(k, _)| new.get(k).is_none())
        .map(|(k, _)| k.to_owned())
        .collect();
    for key in stale {
        old.remove(&key);
    }
    for (key, new_item) in new.iter() {
        match old.get_mut(key) {
            Some(old_item) => merge_item(old_item, new_item),
            None => {
                old.insert(key, new_item.clone());
            }
        }
    }
}

fn merge_item(old: &mut Item, new: &Item) {
    if data(old) == data(new) {
        return;
    }
    // `meters = [{ ... }]` written inline stays inline.
    if let (Some(old_array), Some(new_aot)) = (old.as_array_mut(), new.as_array_of_tables()) {
        let decor = old_array.decor().clone();
        let mut array: Array = new_aot
            .iter()
            .map(|t| Value::InlineTable(t.clone().into_inline_table()))
            .collect();
        array.fmt();
        *array.decor_mut() = decor;
        *old_array = array;
        return;
    }
    if let (Some(old_aot), Some(new_aot)) = (old.as_array_of_tables_mut(), new.as_array_of_tables())
    {
        let keep = old_aot.len().min(new_aot.len());
        while old_aot.len() > new_aot.len() {
            old_aot.remove(old_aot.len() - 1);
        }
        for (i, new_table) in new_aot.iter().enumerate() {
            if i < keep {
                if let Some(old_table) = old_aot.get_mut(i) {
                    merge_table(old_table, new_table);
                }
            } else {
                old_aot.push(new_table.clone());
            }
        }
        return;
    }
    if old.is_table_like() && new.is_table_like() {
        if let (Some(o), Some(n)) = (old.as_table_like_mut(), new.as_table_like()) {
            merge_table(o, n);
        }
        return;
    }
    match (old.as_value_mut(), new.as_value()) {
        (Some(o), Some(n)) => {
            if !same_value(o, n) {
                let decor = o.decor().clone();
                *o = n.clone();
                *o.decor_mut() = decor;
            }
        }
        _ => *old = new.clone(),
    }
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.value() == y.value(),
        (Value::Integer(x), Value::Integer(y)) => x.value() == y.value(),
        (Value::Boolean(x), Value::Boolean(y)) => x.value() == y.value(),
        (Value::Float(x), Value::Float(y)) => x.value().to_bits() == y.value().to_bits(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| same_value(a, b))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn full() -> String {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/plan/full.toml"
        );
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn unchanged_answers_leave_the_file_byte_identical() {
        let text = full();
        let plan = parse("p", &text).unwrap();
        assert_eq!(render(&plan, Some(&text)).unwrap(), text);
    }

    #[test]
    fn a_changed_answer_changes_only_its_value_and_keeps_comments() {
        let text = full();
        let mut plan = parse("p", &text).unwrap();
        plan.prices[0].unit_amount = "0.0002".into();
        plan.credits[0].rollover = true;
        let out = render(&plan, Some(&text)).unwrap();
        let expected = text
            .replace(
                "unit_amount = \"0.0001\"   # cents per token",
                "unit_amount = \"0.0002\"   # cents per token",
            )
            .replace("rollover = false", "rollover = true");
        assert_eq!(out, expected);
        assert_eq!(parse("p", &out).unwrap(), plan);
    }

    #[test]
    fn removed_and_added_entries_are_reflected() {
        let text = full();
        let mut plan = parse("p", &text).unwrap();
        plan.credits.clear();
        plan.meters.truncate(3);
        plan.meters
            .extend(crate::preset("api-calls").unwrap().meters);
        plan.webhooks = None;
        let out = render(&plan, Some(&text)).unwrap();
        assert!(!out.contains("[[credits]]"));
        assert!(!out.contains("[webhooks]"));
        assert!(!out.contains("Images are priced"), "{out}");
        assert!(out.contains("# Billing plan used by the plan-file tests"));
        assert_eq!(parse("p", &out).unwrap(), plan);
    }

    #[test]
    fn inline_and_dotted_styles_stay_valid() {
        let text = "customer = { from = \"body\", field = \"userId\" }\n\
                    project.path = \".\"\n\
                    meters = [{ preset = \"storage\" }]\n";
        let mut plan = parse("p", text).unwrap();
        assert_eq!(
            render(&plan, Some(text)).unwrap(),
            text,
            "unchanged answers"
        );
        plan.meters
            .extend(crate::preset("api-calls").unwrap().meters);
        plan.customer = CustomerSource::Body {
            field: "accountId".into(),
        };
        let out = render(&plan, Some(text)).unwrap();
        assert!(
            out.contains("customer = { from = \"body\", field = \"accountId\" }"),
            "{out}"
        );
        assert_eq!(parse("p", &out).unwrap(), plan, "{out}");
    }

    #[test]
    fn defaults_left_out_by_hand_are_not_added() {
        let text = "[[meters]]\npreset = \"api-calls\"\n\n[[credits]]\nmeter = \"api-calls\"\n\
                    product = \"Pro\"\nunits = 10\n";
        let plan = parse("p", text).unwrap();
        assert_eq!(render(&plan, Some(text)).unwrap(), text);
    }

    #[test]
    fn a_fresh_file_round_trips() {
        let text = full();
        let plan = parse("p", &text).unwrap();
        let fresh = render(&plan, None).unwrap();
        assert!(fresh.starts_with("# Usage-based billing plan"));
        assert_eq!(parse("p", &fresh).unwrap(), plan);
    }
}
