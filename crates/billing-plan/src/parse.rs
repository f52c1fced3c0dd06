//! `spaire-billing.toml` text → [`BillingPlan`], with every problem located by key path and
//! line:column and paired with the fix.
//!
//! Parsing walks the `toml_edit` document by hand instead of deriving `Deserialize`: serde's
//! errors cannot name the key path *and* the position *and* say what to write instead, and
//! users edit this file by hand. Types are checked here; cross-references and invariants are
//! checked by [`crate::validate`] on the resulting plan, and their key paths are mapped back to
//! positions through the spans recorded while walking.

use std::collections::HashMap;
use std::ops::Range;

use toml_edit::{Document, Item, TableLike, Value};

use crate::diagnostic::{Diagnostic, PlanError};
use crate::model::{
    Aggregation, AggregationFunc, BillingPlan, CallSiteCustomer, CreditGrant, CustomerSource,
    Environment, FrameworkId, Meter, MeterKind, MeteredPrice, ProductRef, ProjectSection, Webhooks,
};
use crate::presets;
use crate::validate::{self, MeterOrigin};

/// Parses and validates a plan. `file` is the name shown in errors.
pub fn parse(file: &str, source: &str) -> Result<BillingPlan, PlanError> {
    let doc = Document::parse(source).map_err(|err| PlanError {
        file: file.to_owned(),
        diagnostics: vec![
            Diagnostic::new(
                "",
                format!("not valid TOML: {}", err.message().trim_end()),
                "fix the TOML syntax at this position (strings need double quotes, tables are \
                 written `[name]`, arrays of tables `[[meters]]`)",
            )
            .at(source, err.span()),
        ],
    })?;
    let mut walker = Walker {
        source,
        diagnostics: Vec::new(),
        spans: HashMap::new(),
    };
    let parsed = walker.document(doc.as_table());
    if !walker.diagnostics.is_empty() {
        // In file order, so the list reads top to bottom like the file.
        walker
            .diagnostics
            .sort_by_key(|d| (d.line.unwrap_or(u32::MAX), d.column.unwrap_or(u32::MAX)));
        return Err(PlanError {
            file: file.to_owned(),
            diagnostics: walker.diagnostics,
        });
    }
    let Some((plan, origins)) = parsed else {
        unreachable!("the walker reports a diagnostic whenever it returns no plan")
    };
    let mut diagnostics = validate::check(&plan, &origins);
    if diagnostics.is_empty() {
        return Ok(plan);
    }
    for d in &mut diagnostics {
        // Point at the deepest recorded key on the diagnostic's path.
        let mut path = d.path.as_str();
        loop {
            if let Some(span) = walker.spans.get(path) {
                *d = d.clone().at(source, Some(span.clone()));
                break;
            }
            match path.rfind(['.', '[']) {
                Some(i) => path = &path[..i],
                None => break,
            }
        }
    }
    diagnostics.sort_by_key(|d| (d.line.unwrap_or(u32::MAX), d.column.unwrap_or(u32::MAX)));
    Err(PlanError {
        file: file.to_owned(),
        diagnostics,
    })
}

struct Walker<'s> {
    source: &'s str,
    diagnostics: Vec<Diagnostic>,
    /// Key path → span of the key's value (or of its key when the value has none).
    spans: HashMap<String, Range<usize>>,
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// `found integer 5`, `found a table`, `found string "x"` — what the user actually wrote.
fn describe(item: &Item) -> String {
    match item {
        Item::Value(Value::String(s)) => format!("found string {:?}", s.value()),
        Item::Value(Value::Integer(i)) => format!("found integer {}", i.value()),
        Item::Value(Value::Float(f)) => format!("found float {}", f.value()),
        Item::Value(Value::Boolean(b)) => format!("found boolean {}", b.value()),
        Item::Value(Value::Datetime(d)) => format!("found datetime {}", d.value()),
        Item::Value(Value::Array(_)) => "found an array".to_owned(),
        Item::Value(Value::InlineTable(_)) | Item::Table(_) => "found a table".to_owned(),
        Item::ArrayOfTables(_) => "found an array of tables".to_owned(),
        Item::None => "found nothing".to_owned(),
    }
}

/// A framework id as a user wrote it (plan file, MCP argument): a registry id or one of its
/// aliases, else a `project.framework` diagnostic naming the closest id.
pub fn parse_framework(text: &str) -> Result<FrameworkId, Diagnostic> {
    if let Some(id) = FrameworkId::from_spelling(text) {
        return Ok(id);
    }
    let ids: Vec<&str> = FrameworkId::ids().collect();
    let fix = match did_you_mean(&text.trim().to_ascii_lowercase(), &ids) {
        Some(close) => format!("did you mean `framework = \"{close}\"`?"),
        None => format!(
            "use one of {}, or remove the key to use the detected framework",
            one_of(&ids)
        ),
    };
    Err(Diagnostic::new(
        "project.framework",
        format!("unknown framework {text:?}"),
        fix,
    ))
}

/// The closest allowed word, when it is close enough to be a typo.
pub fn did_you_mean<'a>(word: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|a| (strsim::levenshtein(word, a), *a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 4) || shares_most_of_prefix(word, a))
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

/// `llm-tokens` vs `llm-token-usage`: a shared prefix covering most of the shorter word.
fn shares_most_of_prefix(a: &str, b: &str) -> bool {
    let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let shorter = a.chars().count().min(b.chars().count());
    common >= 3 && common * 5 >= shorter * 4
}

fn one_of(allowed: &[&str]) -> String {
    allowed
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect::<Vec<_>>()
        .join(" | ")
}

impl Walker<'_> {
    fn error(
        &mut self,
        path: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.diagnostics
            .push(Diagnostic::new(path, message, fix).at(self.source, span));
    }

    fn record(&mut self, path: &str, span: Option<Range<usize>>) {
        if let Some(span) = span {
            self.spans.insert(path.to_owned(), span);
        }
    }

    /// Reports keys not in `allowed` (with a did-you-mean) and records spans of the rest.
    fn keys(&mut self, table: &dyn TableLike, path: &str, allowed: &[&str]) {
        for (key, item) in table.iter() {
            let key_path = join(path, key);
            let key_span = table.key(key).and_then(toml_edit::Key::span);
            if allowed.contains(&key) {
                self.record(&key_path, item.span().or(key_span));
                continue;
            }
            let fix = match did_you_mean(key, allowed) {
                Some(close) => format!("did you mean `{close}`? Rename the key"),
                None => format!(
                    "remove it; keys allowed here: {}",
                    allowed
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            self.error(&key_path, key_span, "unknown key", fix);
        }
    }

    fn span_of(&self, path: &str) -> Option<Range<usize>> {
        self.spans.get(path).cloned()
    }

    fn string(
        &mut self,
        table: &dyn TableLike,
        path: &str,
        key: &str,
        example: &str,
    ) -> Option<String> {
        let item = table.get(key)?;
        let key_path = join(path, key);
        match item.as_str() {
            Some(s) => Some(s.to_owned()),
            None => {
                let span = item.span();
                self.error(
                    &key_path,
                    span,
                    format!("expected a string, {}", describe(item)),
                    format!("write it in double quotes, e.g. `{key} = {example}`"),
                );
                None
            }
        }
    }

    fn required_string(
        &mut self,
        table: &dyn TableLike,
        table_span: Option<Range<usize>>,
        path: &str,
        key: &str,
        example: &str,
    ) -> Option<String> {
        if table.get(key).is_none() {
            self.error(
                &join(path, key),
                table_span,
                format!("missing key `{key}`"),
                format!("add `{key} = {example}`"),
            );
            return None;
        }
        self.string(table, path, key, example)
    }

    fn integer(
        &mut self,
        table: &dyn TableLike,
        path: &str,
        key: &str,
        example: &str,
    ) -> Option<i64> {
        let item = table.get(key)?;
        match item.as_integer() {
            Some(i) => Some(i),
            None => {
                let span = item.span();
                self.error(
                    &join(path, key),
                    span,
                    format!("expected an integer, {}", describe(item)),
                    format!("write a whole number without quotes, e.g. `{key} = {example}`"),
                );
                None
            }
        }
    }

    fn boolean(&mut self, table: &dyn TableLike, path: &str, key: &str) -> Option<bool> {
        let item = table.get(key)?;
        match item.as_bool() {
            Some(b) => Some(b),
            None => {
                let span = item.span();
                self.error(
                    &join(path, key),
                    span,
                    format!("expected true or false, {}", describe(item)),
                    format!("write `{key} = true` or `{key} = false` (no quotes)"),
                );
                None
            }
        }
    }

    fn table<'d>(&mut self, root: &'d dyn TableLike, key: &str) -> Option<&'d dyn TableLike> {
        let item = root.get(key)?;
        match item.as_table_like() {
            Some(t) => Some(t),
            None => {
                let span = item.span();
                self.error(
                    key,
                    span,
                    format!("expected a table, {}", describe(item)),
                    format!("write it as a `[{key}]` section"),
                );
                None
            }
        }
    }

    /// Entries of `[[key]]` (or `key = [{...}, ...]`), each with its span.
    fn array_of_tables<'d>(
        &mut self,
        root: &'d dyn TableLike,
        key: &str,
    ) -> Vec<(&'d dyn TableLike, Option<Range<usize>>)> {
        let Some(item) = root.get(key) else {
            return Vec::new();
        };
        if let Some(aot) = item.as_array_of_tables() {
            return aot
                .iter()
                .map(|t| (t as &dyn TableLike, t.span()))
                .collect();
        }
        if let Some(array) = item.as_array() {
            let mut out = Vec::new();
            for (i, value) in array.iter().enumerate() {
                match value.as_inline_table() {
                    Some(t) => out.push((t as &dyn TableLike, value.span())),
                    None => self.error(
                        &format!("{key}[{i}]"),
                        value.span(),
                        format!("expected a table, found {}", value.type_name()),
                        format!("write each entry as a `[[{key}]]` section"),
                    ),
                }
            }
            return out;
        }
        let span = item.span();
        self.error(
            key,
            span,
            format!("expected an array of tables, {}", describe(item)),
            format!("write each entry as a `[[{key}]]` section"),
        );
        Vec::new()
    }

    fn document(&mut self, root: &dyn TableLike) -> Option<(BillingPlan, Vec<MeterOrigin>)> {
        self.keys(
            root,
            "",
            &[
                "environment",
                "server_url",
                "project",
                "customer",
                "meters",
                "prices",
                "credits",
                "webhooks",
            ],
        );
        let environment = self.environment(root);
        let server_url = self.string(root, "", "server_url", "\"http://127.0.0.1:8787\"");
        let project = self.project(root);
        let customer = self.customer(root);
        let call_site_customer = self.call_site_customer(root);
        let (meters, origins) = self.meters(root);
        let prices = self.prices(root);
        let credits = self.credits(root);
        let webhooks = self.webhooks(root);
        if !self.diagnostics.is_empty() {
            return None;
        }
        Some((
            BillingPlan {
                call_site_customer,
                environment: environment?,
                server_url,
                project: project?,
                customer: customer?,
                meters,
                prices,
                credits,
                webhooks,
            },
            origins,
        ))
    }

    fn environment(&mut self, root: &dyn TableLike) -> Option<Environment> {
        let allowed = Environment::ALL.map(Environment::as_str);
        let Some(value) = self.string(root, "", "environment", "\"sandbox\"") else {
            // Absent means sandbox (the safe default); a wrong type was reported already.
            return root
                .get("environment")
                .is_none()
                .then_some(Environment::Sandbox);
        };
        match Environment::from_name(&value) {
            Some(environment) => Some(environment),
            None => {
                let other = value.as_str();
                let span = self.span_of("environment");
                let fix = match did_you_mean(other, &allowed) {
                    Some(close) => format!("did you mean `environment = \"{close}\"`?"),
                    None => "write `environment = \"sandbox\"` (test mode), \"production\" or \
                             \"local\" (the built-in emulator)"
                        .to_owned(),
                };
                self.error(
                    "environment",
                    span,
                    format!("expected one of {}, found {other:?}", one_of(&allowed)),
                    fix,
                );
                None
            }
        }
    }

    fn project(&mut self, root: &dyn TableLike) -> Option<ProjectSection> {
        if root.get("project").is_none() {
            return Some(ProjectSection {
                path: ".".to_owned(),
                framework: None,
            });
        }
        let table = self.table(root, "project")?;
        self.keys(table, "project", &["path", "framework"]);
        let path = self.string(table, "project", "path", "\".\"");
        let framework = self
            .string(table, "project", "framework", "\"nextjs\"")
            .and_then(|text| self.framework(&text));
        if table.get("path").is_some() && path.is_none() {
            return None;
        }
        Some(ProjectSection {
            path: path.unwrap_or_else(|| ".".to_owned()),
            framework,
        })
    }

    /// `[project] framework`: a registry id or one of its aliases; anything else is one
    /// diagnostic at the value, with the closest id when it looks like a typo.
    fn framework(&mut self, text: &str) -> Option<FrameworkId> {
        match parse_framework(text) {
            Ok(id) => Some(id),
            Err(diagnostic) => {
                let span = self.span_of(&diagnostic.path);
                self.diagnostics.push(diagnostic.at(self.source, span));
                None
            }
        }
    }

    fn customer(&mut self, root: &dyn TableLike) -> Option<CustomerSource> {
        if root.get("customer").is_none() {
            return Some(CustomerSource::Header {
                header: "x-customer-id".to_owned(),
            });
        }
        let span = root.get("customer").and_then(Item::span);
        let table = self.table(root, "customer")?;
        let p = "customer";
        let from = self.string(table, p, "from", "\"header\"");
        let from = match from.as_deref() {
            None if table.get("from").is_none() => "header",
            None => return None,
            Some(from) => from,
        };
        let allowed = ["header", "body", "session", "function"];
        match from {
            "header" => {
                self.keys(table, p, &["from", "header", "expression", "job_field"]);
                let header = self
                    .string(table, p, "header", "\"x-customer-id\"")
                    .unwrap_or_else(|| "x-customer-id".to_owned());
                Some(CustomerSource::Header { header })
            }
            "body" => {
                self.keys(table, p, &["from", "field", "expression", "job_field"]);
                let field = self.required_string(table, span, p, "field", "\"customerId\"")?;
                Some(CustomerSource::Body { field })
            }
            "session" => {
                self.keys(table, p, &["from", "expression", "job_field"]);
                Some(CustomerSource::Session)
            }
            "function" => {
                self.keys(
                    table,
                    p,
                    &["from", "function", "module", "expression", "job_field"],
                );
                let function =
                    self.required_string(table, span.clone(), p, "function", "\"getUserId\"");
                let module = self.required_string(table, span, p, "module", "\"@/lib/auth\"");
                Some(CustomerSource::Function {
                    function: function?,
                    module: module?,
                })
            }
            other => {
                self.keys(
                    table,
                    p,
                    &[
                        "from",
                        "header",
                        "field",
                        "function",
                        "module",
                        "expression",
                        "job_field",
                    ],
                );
                let span = self.span_of("customer.from");
                let fix = match did_you_mean(other, &allowed) {
                    Some(close) => format!("did you mean `from = \"{close}\"`?"),
                    None => "write `from = \"header\"` with `header = \"x-customer-id\"`, or \
                             \"body\", \"session\", \"function\""
                        .to_owned(),
                };
                self.error(
                    "customer.from",
                    span,
                    format!("expected one of {}, found {other:?}", one_of(&allowed)),
                    fix,
                );
                None
            }
        }
    }

    /// `[customer] expression` / `job_field`, allowed beside every `from` (their syntax is
    /// checked by `validate`, shared with plans that do not come from a file).
    fn call_site_customer(&mut self, root: &dyn TableLike) -> CallSiteCustomer {
        let Some(table) = root.get("customer").and_then(Item::as_table_like) else {
            return CallSiteCustomer::default();
        };
        CallSiteCustomer {
            expression: self.string(table, "customer", "expression", "\"teamId\""),
            job_field: self.string(table, "customer", "job_field", "\"userId\""),
        }
    }

    fn meters(&mut self, root: &dyn TableLike) -> (Vec<Meter>, Vec<MeterOrigin>) {
        let mut meters = Vec::new();
        let mut origins = Vec::new();
        for (i, (table, span)) in self.array_of_tables(root, "meters").into_iter().enumerate() {
            let p = format!("meters[{i}]");
            self.record(&p, span.clone());
            let example = format!("\"{}\"", billing_vocab::meter::LLM_PRESET);
            let preset_id = self.string(table, &p, "preset", &example);
            let is_custom = match preset_id.as_deref() {
                None => table.get("preset").is_none(),
                Some(presets::CUSTOM) => true,
                Some(id) => {
                    let cost = id == billing_vocab::meter::LLM_COST_PRESET;
                    let api = id == MeterKind::ApiCalls.as_str();
                    let allowed: &[&str] = if cost {
                        &["preset", "markup"]
                    } else if api {
                        &["preset", "paths"]
                    } else {
                        &["preset"]
                    };
                    self.keys(table, &p, allowed);
                    let markup = if cost { self.markup(table, &p) } else { None };
                    let paths = if api { self.api_paths(table, &p) } else { None };
                    match presets::preset(id) {
                        Some(preset) => {
                            for mut m in preset.meters {
                                m.markup.clone_from(&markup);
                                m.paths.clone_from(&paths);
                                meters.push(m);
                                origins.push(MeterOrigin {
                                    path: p.clone(),
                                    from_preset: true,
                                });
                            }
                        }
                        None => {
                            let ids = presets::preset_ids();
                            let fix = match did_you_mean(id, &ids) {
                                Some(close) => format!("did you mean `preset = \"{close}\"`?"),
                                None => format!(
                                    "pick a preset, or use `preset = \"{}\"` with `name`, \
                                     `event`, `aggregation` and `property`",
                                    presets::CUSTOM
                                ),
                            };
                            let span = self.span_of(&format!("{p}.preset"));
                            self.error(
                                &format!("{p}.preset"),
                                span,
                                format!("expected one of {}, found {id:?}", one_of(&ids)),
                                fix,
                            );
                        }
                    }
                    false
                }
            };
            if is_custom && let Some(m) = self.custom_meter(table, span, &p) {
                meters.push(m);
                origins.push(MeterOrigin {
                    path: p,
                    from_preset: false,
                });
            }
        }
        (meters, origins)
    }

    /// `markup = 1.2` on the `llm-cost` preset: a positive number (integer, float or decimal
    /// string), kept as decimal text.
    fn markup(&mut self, table: &dyn TableLike, p: &str) -> Option<String> {
        let item = table.get("markup")?;
        let path = format!("{p}.markup");
        let text = match item {
            Item::Value(Value::Integer(i)) => Some(i.value().to_string()),
            Item::Value(Value::Float(f)) => Some(f.value().to_string()),
            Item::Value(Value::String(s)) => Some(s.value().trim().to_owned()),
            _ => None,
        };
        if !text
            .as_deref()
            .is_some_and(crate::validate::markup_in_range)
        {
            let span = item.span();
            self.error(
                &path,
                span,
                format!(
                    "expected a positive number (the factor the model's cost is multiplied by), {}",
                    describe(item)
                ),
                "write e.g. `markup = 1.2` to bill the cost plus 20% (1 bills the cost itself)",
            );
            return None;
        }
        text
    }

    /// `paths = ["/api/"]` on the `api-calls` preset: URL path prefixes, each starting with
    /// `/`, in plain URL characters (they are written into generated code).
    fn api_paths(&mut self, table: &dyn TableLike, p: &str) -> Option<Vec<String>> {
        let item = table.get("paths")?;
        let path = format!("{p}.paths");
        let fix = "write e.g. `paths = [\"/api/\"]` (path prefixes, each starting with `/`)";
        let Some(array) = item.as_array() else {
            let span = item.span();
            self.error(
                &path,
                span,
                format!("expected an array of path prefixes, {}", describe(item)),
                fix,
            );
            return None;
        };
        let mut out = Vec::new();
        for (i, v) in array.iter().enumerate() {
            let valid = v.as_str().filter(|s| {
                s.starts_with('/')
                    && s.len() <= 200
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "/-_.~:@".contains(c))
            });
            match valid {
                Some(s) => out.push(s.to_owned()),
                None => {
                    let span = v.span();
                    self.error(
                        &format!("{path}[{i}]"),
                        span,
                        format!("expected a path prefix starting with `/` in URL characters, found `{v}`"),
                        fix,
                    );
                    return None;
                }
            }
        }
        if out.is_empty() {
            self.error(
                &path,
                item.span(),
                "expected at least one path prefix".to_owned(),
                fix,
            );
            return None;
        }
        Some(out)
    }

    fn custom_meter(
        &mut self,
        table: &dyn TableLike,
        span: Option<Range<usize>>,
        p: &str,
    ) -> Option<Meter> {
        self.keys(
            table,
            p,
            &["preset", "name", "event", "aggregation", "property"],
        );
        let name = self.required_string(table, span.clone(), p, "name", "\"images\"");
        let event = self.required_string(table, span.clone(), p, "event", "\"image-generated\"");
        let example = format!("\"{}\"", AggregationFunc::Sum);
        let aggregation = self.required_string(table, span, p, "aggregation", &example);
        let property = self.string(table, p, "property", "\"pixels\"");
        let aggregation = aggregation?;
        let func = match AggregationFunc::from_name(&aggregation) {
            Some(func) => func,
            None => {
                let other = aggregation.as_str();
                let allowed = AggregationFunc::names();
                let fix = match did_you_mean(other, &allowed) {
                    Some(close) => format!("did you mean `aggregation = \"{close}\"`?"),
                    None => {
                        format!(
                            "write `aggregation = \"{}\"` (with `property`) or \"{}\"",
                            AggregationFunc::Sum,
                            AggregationFunc::Count
                        )
                    }
                };
                let path = format!("{p}.aggregation");
                let span = self.span_of(&path);
                self.error(
                    &path,
                    span,
                    format!("expected one of {}, found {other:?}", one_of(&allowed)),
                    fix,
                );
                return None;
            }
        };
        Some(Meter {
            name: name?,
            event: event?,
            aggregation: Aggregation { func, property },
            kind: MeterKind::Custom,
            preset: None,
            markup: None,
            paths: None,
        })
    }

    fn prices(&mut self, root: &dyn TableLike) -> Vec<MeteredPrice> {
        let mut prices = Vec::new();
        for (i, (table, span)) in self.array_of_tables(root, "prices").into_iter().enumerate() {
            let p = format!("prices[{i}]");
            self.record(&p, span.clone());
            self.keys(
                table,
                &p,
                &["meter", "product", "unit_amount", "cap_amount"],
            );
            let meter =
                self.required_string(table, span.clone(), &p, "meter", "\"llm-token-usage\"");
            let product = self.required_string(table, span.clone(), &p, "product", "\"Pro\"");
            let unit_amount = self.unit_amount(table, span, &p);
            let cap_amount = self.integer(table, &p, "cap_amount", "5000");
            if let (Some(meter), Some(product), Some(unit_amount)) = (meter, product, unit_amount) {
                prices.push(MeteredPrice {
                    meter,
                    product: ProductRef(product),
                    unit_amount,
                    cap_amount,
                });
            }
        }
        prices
    }

    fn unit_amount(
        &mut self,
        table: &dyn TableLike,
        span: Option<Range<usize>>,
        p: &str,
    ) -> Option<String> {
        let path = format!("{p}.unit_amount");
        let expected = "expected a decimal string like \"0.0001\" (cents, at most 12 decimals)";
        let Some(item) = table.get("unit_amount") else {
            self.error(
                &path,
                span,
                "missing key `unit_amount`",
                "add the price per unit in cents as a string, e.g. `unit_amount = \"0.0001\"`",
            );
            return None;
        };
        match item.as_str() {
            Some(s) => Some(s.to_owned()),
            None => {
                let fix = match item {
                    Item::Value(Value::Integer(i)) => {
                        format!("write `unit_amount = \"{}\"`", i.value())
                    }
                    Item::Value(Value::Float(f)) => {
                        format!(
                            "write `unit_amount = \"{}\"` (quoted, so no precision is lost)",
                            f.value()
                        )
                    }
                    _ => "write `unit_amount = \"0.0001\"` (cents per unit, quoted)".to_owned(),
                };
                self.error(
                    &path,
                    item.span(),
                    format!("{expected}, {}", describe(item)),
                    fix,
                );
                None
            }
        }
    }

    fn credits(&mut self, root: &dyn TableLike) -> Vec<CreditGrant> {
        let mut credits = Vec::new();
        for (i, (table, span)) in self
            .array_of_tables(root, "credits")
            .into_iter()
            .enumerate()
        {
            let p = format!("credits[{i}]");
            self.record(&p, span.clone());
            self.keys(table, &p, &["meter", "product", "units", "rollover"]);
            let meter =
                self.required_string(table, span.clone(), &p, "meter", "\"llm-token-usage\"");
            let product = self.required_string(table, span.clone(), &p, "product", "\"Pro\"");
            let units = if table.get("units").is_none() {
                self.error(
                    &format!("{p}.units"),
                    span,
                    "missing key `units`",
                    "add the units credited per billing cycle, e.g. `units = 100000`",
                );
                None
            } else {
                self.integer(table, &p, "units", "100000")
            };
            let rollover = self.boolean(table, &p, "rollover");
            if table.get("rollover").is_some() && rollover.is_none() {
                continue;
            }
            if let (Some(meter), Some(product), Some(units)) = (meter, product, units) {
                credits.push(CreditGrant {
                    meter,
                    product: ProductRef(product),
                    units,
                    rollover: rollover.unwrap_or(false),
                });
            }
        }
        credits
    }

    fn webhooks(&mut self, root: &dyn TableLike) -> Option<Webhooks> {
        root.get("webhooks")?;
        let table = self.table(root, "webhooks")?;
        self.keys(table, "webhooks", &["events", "url"]);
        let example_url = format!("\"https://example.com{}\"", billing_vocab::WEBHOOK_PATH);
        let url = self.string(table, "webhooks", "url", &example_url);
        let mut events = Vec::new();
        match table.get("events") {
            None => {
                events = crate::model::DEFAULT_WEBHOOK_EVENTS
                    .iter()
                    .map(|e| (*e).to_owned())
                    .collect();
            }
            Some(item) => match item.as_array() {
                Some(array) => {
                    for (i, value) in array.iter().enumerate() {
                        let path = format!("webhooks.events[{i}]");
                        match value.as_str() {
                            Some(s) => {
                                self.record(&path, value.span());
                                events.push(s.to_owned());
                            }
                            None => self.error(
                                &path,
                                value.span(),
                                format!("expected a string, found {}", value.type_name()),
                                format!(
                                    "write event types in double quotes, e.g. \"{}\"",
                                    billing_vocab::DEFAULT_WEBHOOK_EVENTS[0]
                                ),
                            ),
                        }
                    }
                }
                None => {
                    let span = item.span();
                    self.error(
                        "webhooks.events",
                        span,
                        format!("expected an array of strings, {}", describe(item)),
                        format!(
                            "write `events = [\"{}\", \"{}\"]`",
                            billing_vocab::DEFAULT_WEBHOOK_EVENTS[0],
                            billing_vocab::DEFAULT_WEBHOOK_EVENTS[1]
                        ),
                    );
                }
            },
        }
        Some(Webhooks { events, url })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/plan/");
        std::fs::read_to_string(format!("{path}{name}")).unwrap()
    }

    fn error(source: &str) -> String {
        parse("spaire-billing.toml", source)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn full_plan_expands_presets_and_keeps_custom_meters() {
        let plan = parse("spaire-billing.toml", &fixture("full.toml")).unwrap();
        let names: Vec<&str> = plan.meters.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "llm-token-usage",
                "prompt-tokens",
                "completion-tokens",
                "images"
            ]
        );
        assert_eq!(plan.meters[3].kind, MeterKind::Custom);
        assert_eq!(
            plan.meters[3].aggregation.property.as_deref(),
            Some("pixels")
        );
        assert_eq!(plan.prices[0].unit_amount, "0.0001");
        assert_eq!(plan.prices[0].cap_amount, Some(5000));
        assert_eq!(plan.credits[0].units, 100_000);
        assert_eq!(plan.webhooks.as_ref().unwrap().events.len(), 4);
        assert_eq!(
            plan.customer,
            CustomerSource::Header {
                header: "x-customer-id".into()
            }
        );
    }

    #[test]
    fn llm_cost_takes_a_markup_and_writes_it_back() {
        let source = "[[meters]]\npreset = \"llm-tokens\"\n\n[[meters]]\npreset = \"llm-cost\"\nmarkup = 1.2\n";
        let plan = parse("p", source).unwrap();
        let cost = plan.meters.iter().find(|m| m.bills_llm_cost()).unwrap();
        assert_eq!(cost.markup.as_deref(), Some("1.2"));
        assert_eq!(
            cost.aggregation.property.as_deref(),
            Some(billing_vocab::meter::LLM_BILLED_COST_KEY)
        );
        assert_eq!(plan.llm_cost_markup(), Some("1.2"));
        let written = crate::write::render(&plan, None).unwrap();
        assert!(
            written.contains("preset = \"llm-cost\"\nmarkup = 1.2\n"),
            "{written}"
        );
        assert_eq!(parse("p", &written).unwrap(), plan);
        // Without a markup the cost is billed as is.
        let plain = parse("p", "[[meters]]\npreset = \"llm-cost\"\n").unwrap();
        assert_eq!(plain.llm_cost_markup(), Some("1"));
        assert_eq!(
            parse("p", "[[meters]]\npreset = \"storage\"\n")
                .unwrap()
                .llm_cost_markup(),
            None
        );
    }

    #[test]
    fn a_markup_is_positive_and_only_for_llm_cost() {
        let text = error("[[meters]]\npreset = \"llm-cost\"\nmarkup = -1\n");
        assert!(
            text.contains("meters[0].markup: expected a positive number"),
            "{text}"
        );
        let text = error("[[meters]]\npreset = \"llm-cost\"\nmarkup = \"lots\"\n");
        assert!(
            text.contains("meters[0].markup: expected a positive number"),
            "{text}"
        );
        let text = error("[[meters]]\npreset = \"api-calls\"\nmarkup = 1.2\n");
        assert!(text.contains("meters[0].markup: unknown key"), "{text}");
    }

    #[test]
    fn api_calls_take_billed_path_prefixes_and_write_them_back() {
        let source = "[[meters]]\npreset = \"api-calls\"\npaths = [\"/api/\", \"/v1/\"]\n";
        let plan = parse("p", source).unwrap();
        assert_eq!(
            plan.meters[0].paths.as_deref(),
            Some(&["/api/".to_owned(), "/v1/".to_owned()][..])
        );
        let written = crate::write::render(&plan, None).unwrap();
        assert!(
            written.contains("preset = \"api-calls\"\npaths = [\"/api/\", \"/v1/\"]\n"),
            "{written}"
        );
        assert_eq!(parse("p", &written).unwrap(), plan);
        for bad in ["\"/api/\"", "[\"api\"]", "[\"/a\\\"b\"]", "[]"] {
            let text = error(&format!(
                "[[meters]]\npreset = \"api-calls\"\npaths = {bad}\n"
            ));
            assert!(text.contains("meters[0].paths"), "{bad}: {text}");
        }
        let text = error("[[meters]]\npreset = \"storage\"\npaths = [\"/api/\"]\n");
        assert!(text.contains("meters[0].paths: unknown key"), "{text}");
    }

    #[test]
    fn defaults_fill_an_minimal_plan() {
        let plan = parse("p", "[[meters]]\npreset = \"api-calls\"\n").unwrap();
        assert_eq!(plan.environment, Environment::Sandbox);
        assert_eq!(plan.project.path, ".");
        assert!(plan.webhooks.is_none());
        assert!(plan.prices.is_empty());
    }

    #[test]
    fn an_integer_unit_amount_names_path_line_column_and_fix() {
        let err = parse("spaire-billing.toml", &fixture("bad-unit-amount.toml")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "spaire-billing.toml:10:15: prices[0].unit_amount: expected a decimal string like \
             \"0.0001\" (cents, at most 12 decimals), found integer 5"
        );
        assert_eq!(err.hint(), "write `unit_amount = \"5\"`");
    }

    #[test]
    fn semantic_problems_point_at_the_offending_keys() {
        let err = error(&fixture("many-problems.toml"));
        assert!(
            err.starts_with("4 problems in `spaire-billing.toml`:"),
            "{err}"
        );
        assert!(
            err.contains("spaire-billing.toml:6:1: meters[1].property: missing key `property`"),
            "{err}"
        );
        assert!(
            err.contains(
                "spaire-billing.toml:13:9: meters[2].event: event `llm-usage` is already sent"
            ),
            "{err}"
        );
        assert!(err.contains("spaire-billing.toml:18:9: prices[0].meter: no meter named `llm-tokens` in the plan (fix: did you mean `meter = \"llm-token-usage\"`?"), "{err}");
        assert!(err.contains("spaire-billing.toml:20:15: prices[0].unit_amount: expected a decimal string like \"0.0001\" (cents, at most 12 decimals), found \"0.0000000000001\" with 13 decimals"), "{err}");
    }

    #[test]
    fn typos_get_did_you_mean_fixes() {
        let err = parse("spaire-billing.toml", &fixture("typos.toml")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("spaire-billing.toml:1:15: environment: expected one of \"sandbox\" | \"production\" | \"local\", found \"sandbx\" (fix: did you mean `environment = \"sandbox\"`?)"), "{text}");
        assert!(
            text.contains("spaire-billing.toml:4:10: meters[0].preset: expected one of"),
            "{text}"
        );
        assert!(
            text.contains("did you mean `preset = \"api-calls\"`?"),
            "{text}"
        );
        assert!(text.contains("spaire-billing.toml:9:9: credits[0].units: expected an integer, found string \"100\""), "{text}");
        assert!(text.contains("spaire-billing.toml:10:1: credits[0].rolover: unknown key (fix: did you mean `rollover`? Rename the key)"), "{text}");
    }

    #[test]
    fn toml_syntax_errors_have_a_position() {
        let err = error("environment = sandbox\n");
        assert!(
            err.starts_with("spaire-billing.toml:1:15: not valid TOML"),
            "{err}"
        );
    }

    #[test]
    fn custom_meters_may_not_share_or_steal_events() {
        let src = "[[meters]]\nname = \"aaa\"\nevent = \"x\"\naggregation = \"count\"\n\
                   [[meters]]\nname = \"bbb\"\nevent = \"x\"\naggregation = \"count\"\n";
        let err = error(src);
        assert!(err.contains("is used by 2 custom meters"), "{err}");
    }

    #[test]
    fn a_call_site_expression_and_a_job_field_go_with_any_from_and_write_back() {
        let src = "[customer]\nfrom = \"session\"\nexpression = \"session.user?.teamId\"\n\
                   job_field = \"teamId\"\n[[meters]]\npreset = \"llm-tokens\"\n";
        let plan = parse("p", src).unwrap();
        assert_eq!(plan.customer, CustomerSource::Session);
        assert_eq!(
            plan.call_site_customer,
            CallSiteCustomer {
                expression: Some("session.user?.teamId".into()),
                job_field: Some("teamId".into()),
            }
        );
        let written = crate::write::render(&plan, None).unwrap();
        assert_eq!(parse("p", &written).unwrap(), plan);
        // Without the keys nothing is written and nothing changes.
        let plain = parse(
            "p",
            "[customer]\nfrom = \"session\"\n[[meters]]\npreset = \"llm-tokens\"\n",
        )
        .unwrap();
        assert!(plain.call_site_customer.is_empty());
        assert!(
            !crate::write::render(&plain, None)
                .unwrap()
                .contains("expression")
        );
    }

    #[test]
    fn a_call_site_expression_is_a_property_path_never_code() {
        for bad in [
            "teamId; fetch(\"https://x\")",
            "team[\"id\"]",
            "getTeam()",
            "a..b",
            "team id",
            "await.team",
            "",
        ] {
            let src =
                format!("[customer]\nexpression = {bad:?}\n[[meters]]\npreset = \"llm-tokens\"\n");
            let text = error(&src);
            assert!(text.contains("customer.expression"), "{bad}: {text}");
        }
        // `?.` is for expressions; a payload field is a plain path.
        let text = error(
            "[customer]\njob_field = \"data?.userId\"\n[[meters]]\npreset = \"llm-tokens\"\n",
        );
        assert!(text.contains("customer.job_field"), "{text}");
        let text = error("[customer]\nexpression = 3\n[[meters]]\npreset = \"llm-tokens\"\n");
        assert!(
            text.contains("customer.expression: expected a string"),
            "{text}"
        );
    }

    #[test]
    fn inline_tables_are_accepted() {
        let src = "customer = { from = \"body\", field = \"userId\" }\n\
                   meters = [{ preset = \"storage\" }]\n";
        let plan = parse("p", src).unwrap();
        assert_eq!(
            plan.customer,
            CustomerSource::Body {
                field: "userId".into()
            }
        );
        assert_eq!(plan.meters[0].name, "storage-usage");
    }

    #[test]
    fn missing_required_keys_point_at_their_table() {
        let err =
            error("[[meters]]\npreset = \"custom\"\nname = \"images\"\naggregation = \"count\"\n");
        assert!(
            err.contains("spaire-billing.toml:1:1: meters[0].event: missing key `event`"),
            "{err}"
        );
    }

    #[test]
    fn a_mistyped_framework_is_one_located_error_with_a_did_you_mean() {
        for (typo, close) in [
            ("flsk", "flask"),
            ("nxtjs", "nextjs"),
            ("gni", "gin"),
            ("larvel", "laravel"),
        ] {
            let err = parse(
                "spaire-billing.toml",
                &format!("[project]\nframework = \"{typo}\"\n"),
            )
            .unwrap_err();
            assert_eq!(err.diagnostics.len(), 1, "{err}");
            let d = &err.diagnostics[0];
            assert_eq!(
                (d.path.as_str(), d.line, d.column),
                ("project.framework", Some(2), Some(13))
            );
            assert_eq!(d.message, format!("unknown framework \"{typo}\""));
            assert_eq!(d.fix, format!("did you mean `framework = \"{close}\"`?"));
        }
        let err = parse("p", "[project]\nframework = \"cobol-on-cogs\"\n").unwrap_err();
        assert!(
            err.diagnostics[0]
                .fix
                .starts_with("use one of \"nextjs\" |"),
            "{err:?}"
        );
    }

    #[test]
    fn framework_ids_and_aliases_parse_to_the_typed_id() {
        const METER: &str = "[[meters]]\npreset = \"api-calls\"\n";
        let plan = parse("p", &format!("[project]\nframework = \"Next.js\"\n{METER}")).unwrap();
        assert_eq!(plan.project.framework, Some(FrameworkId::Nextjs));
        for id in FrameworkId::all() {
            let plan = parse("p", &format!("[project]\nframework = \"{id}\"\n{METER}")).unwrap();
            assert_eq!(plan.project.framework, Some(id));
        }
    }

    #[test]
    fn every_documented_webhook_event_type_parses() {
        for name in billing_vocab::WEBHOOK_EVENT_NAMES {
            let plan = parse(
                "p",
                &format!("[[meters]]\npreset = \"api-calls\"\n[webhooks]\nevents = [\"{name}\"]\n"),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(plan.webhooks.unwrap().events, [*name]);
        }
        let err = parse(
            "p",
            "[[meters]]\npreset = \"api-calls\"\n[webhooks]\nevents = [\"member.joined\"]\n",
        )
        .unwrap_err();
        assert_eq!(err.diagnostics.len(), 1, "{err:?}");
        assert_eq!(
            err.diagnostics[0].fix,
            "Spaire sends these `member` events: \"member.created\", \"member.updated\", \"member.deleted\"",
        );
        assert!(!err.hint().contains("framework"), "{err:?}");
    }
}
