//! Phase 1 of the conversation: what to meter, how to price it, who the customer is.
//!
//! Every answer comes from, in order: a flag, the existing `spaire-billing.toml` (so running
//! `setup` again starts from the last answers), or a question. Nothing is invented: a price
//! or a product that was neither passed, saved, nor typed is a question (or, without a
//! terminal, a usage error naming the flag).

use billing_plan::answers::MeterChoice;
use billing_plan::{
    Aggregation, AggregationFunc, BillingPlan, CreditGrant, CustomerSource, Meter, MeterKind,
    MeteredPrice, ProductRef, Webhooks,
};

use billing_vocab::meter::{
    CUSTOM_PRESET, LLM_COST_PRESET, LLM_EXTRA_PRESETS, LLM_PRESET, LLM_SPLIT_PRESET,
};

use super::SetupArgs;
use super::ask::{Asker, Question};
use super::{money, rules};
use crate::flag_values;

/// How metered usage is charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pricing {
    /// A price per unit, billed at the end of each period.
    Unit,
    /// Prepaid credits granted each cycle; usage draws them down.
    Credits,
    /// Credits each cycle, and a unit price for usage beyond them.
    Both,
}

/// The webhook event types the generated handler has cases for.
pub use billing_vocab::DEFAULT_WEBHOOK_EVENTS;

/// What to meter, as offered in the menu: the shared preset list (`billing_vocab::PRESETS`),
/// minus the split LLM preset, which is a follow-up question of the single one.
fn meter_choices() -> Vec<&'static billing_vocab::PresetSpec> {
    billing_vocab::PRESETS
        .iter()
        .filter(|p| p.in_menu)
        .collect()
}

/// A product the organization already has, offered in the product menu.
#[derive(Debug, Clone)]
pub struct ProductChoice {
    pub id: String,
    pub name: String,
    /// e.g. "monthly", shown next to the name.
    pub interval: String,
}

/// Collects meters from flags / the saved plan / questions.
pub fn meters(
    asker: &mut dyn Asker,
    args: &SetupArgs,
    saved: Option<&BillingPlan>,
) -> anyhow::Result<Vec<Meter>> {
    let mut preset_ids: Vec<String> = args.meter.clone();
    let mut customs: Vec<Meter> = args.custom_meter.clone();

    if preset_ids.is_empty() && customs.is_empty() {
        if let Some(saved) = saved {
            return Ok(saved.meters.clone());
        }
        let choices = meter_choices();
        let labels: Vec<String> = choices.iter().map(|p| p.menu_label.to_owned()).collect();
        let flags = billing_vocab::PRESETS
            .iter()
            .map(|p| p.id)
            .filter(|id| *id != CUSTOM_PRESET)
            .collect::<Vec<_>>()
            .join("|");
        let chosen = asker.multi_select(
            &Question::new(
                "What do you want to meter?",
                format!(
                    "--meter {flags} (repeatable) or --custom-meter NAME:EVENT:AGGREGATION[:PROPERTY]"
                ),
            ),
            &labels,
            &[],
        )?;
        for index in chosen {
            let id = choices[index].id;
            if id == LLM_PRESET {
                let split = asker.confirm(
                    &Question::new(
                        "Also meter prompt and completion tokens separately?",
                        format!("--meter {LLM_SPLIT_PRESET}"),
                    )
                    .help(
                        "adds `prompt-tokens` and `completion-tokens` meters over the same events",
                    ),
                    false,
                )?;
                preset_ids.push(if split { LLM_SPLIT_PRESET } else { LLM_PRESET }.to_owned());
                preset_ids.extend(ask_llm_extras(asker)?);
            } else if id == CUSTOM_PRESET {
                let so_far: Vec<MeterChoice> = preset_ids
                    .iter()
                    .cloned()
                    .map(MeterChoice::Preset)
                    .collect();
                let chosen = billing_plan::answers::expand_meters(&so_far).unwrap_or_default();
                customs.push(ask_custom_meter(asker, &chosen)?);
            } else {
                preset_ids.push(id.to_owned());
            }
        }
    }

    let bills_cost = preset_ids.iter().any(|id| id == LLM_COST_PRESET);
    let markup = match &args.llm_markup {
        Some(markup) if !bills_cost => {
            return Err(billing_errors::UsageError::new(format!(
                "`--llm-markup {markup}` applies to the LLM cost meter, which is not planned"
            ))
            .with_hint(format!(
                "add `--meter {LLM_COST_PRESET}`, or drop `--llm-markup`"
            ))
            .into());
        }
        Some(markup) => Some(markup.clone()),
        None if bills_cost && asker.interactive() && args.meter.is_empty() => {
            Some(ask_markup(asker)?)
        }
        None => None,
    };
    let choices: Vec<MeterChoice> = preset_ids
        .into_iter()
        .map(MeterChoice::Preset)
        .chain(customs.into_iter().map(MeterChoice::Meter))
        .collect();
    let mut meters = billing_plan::answers::expand_meters(&choices).map_err(|err| {
        let hint = err.hint();
        anyhow::Error::from(billing_errors::UsageError::new(err.to_string()).with_hint(hint))
    })?;
    for meter in meters.iter_mut().filter(|m| m.bills_llm_cost()) {
        meter.markup.clone_from(&markup);
    }
    Ok(meters)
}

/// After "LLM tokens": whether to also meter cached or reasoning tokens, embeddings or images,
/// or bill the cost.
fn ask_llm_extras(asker: &mut dyn Asker) -> anyhow::Result<Vec<String>> {
    let flags = LLM_EXTRA_PRESETS.join("|");
    let more = asker.confirm(
        &Question::new(
            "Also meter more AI usage, or bill the model's cost?",
            format!("--meter {flags}"),
        )
        .help(
            "cached or reasoning tokens, embedding tokens, generated images; cost = the \
             model's price for each call (genai-prices) times your markup",
        ),
        false,
    )?;
    if !more {
        return Ok(Vec::new());
    }
    let specs: Vec<&billing_vocab::PresetSpec> = LLM_EXTRA_PRESETS
        .iter()
        .filter_map(|id| billing_vocab::preset(id))
        .collect();
    let labels: Vec<String> = specs.iter().map(|p| p.menu_label.to_owned()).collect();
    let chosen = asker.multi_select(
        &Question::new("Which ones?", format!("--meter {flags} (repeatable)")),
        &labels,
        &[],
    )?;
    Ok(chosen.into_iter().map(|i| specs[i].id.to_owned()).collect())
}

fn ask_markup(asker: &mut dyn Asker) -> anyhow::Result<String> {
    let validate = |text: &str| crate::flag_values::markup(text).map(|_| ());
    let markup = asker.text(
        &Question::new(
            "Markup on the model's cost (1 = at cost, 1.2 = cost + 20%):",
            "--llm-markup FACTOR",
        ),
        Some("1.2"),
        &validate,
    )?;
    Ok(markup.trim().to_owned())
}

/// `NAME:EVENT:AGGREGATION[:PROPERTY]`, e.g. `images:image-generated:sum:pixels`.
pub fn parse_custom_meter(spec: &str) -> anyhow::Result<Meter> {
    let parts: Vec<&str> = spec.split(':').collect();
    let usage = || {
        billing_errors::UsageError::new(format!("`--custom-meter {spec}` is not NAME:EVENT:AGGREGATION[:PROPERTY]"))
            .with_hint("e.g. `--custom-meter images:image-generated:sum:pixels` or `--custom-meter searches:search:count`")
    };
    let (name, event, func, property) = match parts.as_slice() {
        [name, event, func] => (*name, *event, *func, None),
        [name, event, func, property] => (*name, *event, *func, Some(*property)),
        _ => return Err(usage().into()),
    };
    let func = parse_aggregation(func).ok_or_else(usage)?;
    custom_meter(name, event, func, property.map(str::to_owned)).map_err(|why| {
        billing_errors::UsageError::new(format!("`--custom-meter {spec}`: {why}")).into()
    })
}

fn parse_aggregation(text: &str) -> Option<AggregationFunc> {
    AggregationFunc::from_name(text)
}

fn custom_meter(
    name: &str,
    event: &str,
    func: AggregationFunc,
    property: Option<String>,
) -> Result<Meter, String> {
    if name.is_empty() || event.is_empty() {
        return Err("a custom meter needs a name and an event name".to_owned());
    }
    let property = match (func, property) {
        (AggregationFunc::Count, _) => None,
        (_, Some(p)) if !p.is_empty() => Some(p),
        _ => return Err("every aggregation but `count` needs a property to aggregate".to_owned()),
    };
    Ok(Meter {
        name: name.to_owned(),
        event: event.to_owned(),
        aggregation: Aggregation { func, property },
        kind: MeterKind::Custom,
        preset: None,
        markup: None,
        paths: None,
    })
}

/// A custom meter, each part checked as it is typed against the meters `chosen` so far.
fn ask_custom_meter(asker: &mut dyn Asker, chosen: &[Meter]) -> anyhow::Result<Meter> {
    let flag = "--custom-meter NAME:EVENT:AGGREGATION[:PROPERTY]";
    let name = asker.text(
        &Question::new("Meter name:", flag).help("3 to 100 characters, e.g. image-generations"),
        None,
        &|s: &str| rules::meter_name(chosen, s),
    )?;
    // The name is a good default event only when it is a valid event name itself.
    let default_event = rules::meter_event(chosen, &name, &name)
        .is_ok()
        .then_some(name.as_str());
    let event = asker.text(
        &Question::new("Event name your code will send:", flag)
            .help("letters, digits, `-`, `_`, `.` or `:`, e.g. image-generated"),
        default_event,
        &|s: &str| rules::meter_event(chosen, &name, s),
    )?;
    // `sum` first: it is the usual choice and the default.
    let funcs: Vec<AggregationFunc> = std::iter::once(AggregationFunc::Sum)
        .chain(
            AggregationFunc::ALL
                .into_iter()
                .filter(|f| *f != AggregationFunc::Sum),
        )
        .collect();
    let labels: Vec<String> = funcs.iter().map(|f| f.as_str().to_owned()).collect();
    let func = funcs[asker.select(&Question::new("Aggregation:", flag), &labels, 0)?];
    let property = if func == AggregationFunc::Count {
        None
    } else {
        Some(
            asker.text(
                &Question::new("Metadata property to aggregate:", flag)
                    .help("the number your code records per event, e.g. pixels or image_count"),
                None,
                &|s: &str| rules::meter_property(chosen, &name, &event, func, s),
            )?,
        )
    };
    custom_meter(&name, &event, func, property).map_err(|why| anyhow::anyhow!(why))
}

/// The pricing model, from `--pricing`, the saved plan, or a question.
pub fn pricing(
    asker: &mut dyn Asker,
    args: &SetupArgs,
    saved: Option<&BillingPlan>,
) -> anyhow::Result<Pricing> {
    if let Some(pricing) = args.pricing {
        return Ok(pricing);
    }
    if let Some(saved) = saved
        && (!saved.prices.is_empty() || !saved.credits.is_empty())
    {
        return Ok(match (saved.prices.is_empty(), saved.credits.is_empty()) {
            (false, true) => Pricing::Unit,
            (true, false) => Pricing::Credits,
            _ => Pricing::Both,
        });
    }
    let options = vec![
        "Per unit (e.g. $0.00001 per token, billed each period)".to_owned(),
        "Credits (prepaid units each billing cycle)".to_owned(),
        "Both (credits, then a unit price for overage)".to_owned(),
    ];
    let index = asker.select(
        &Question::new(
            "How do you want to price it?",
            "--pricing unit|credits|both",
        ),
        &options,
        0,
    )?;
    Ok([Pricing::Unit, Pricing::Credits, Pricing::Both][index])
}

/// Prices and credits for every meter, for one product.
pub fn prices_and_credits(
    asker: &mut dyn Asker,
    args: &SetupArgs,
    saved: Option<&BillingPlan>,
    meters: &[Meter],
    pricing: Pricing,
    product: &ProductRef,
) -> anyhow::Result<(Vec<MeteredPrice>, Vec<CreditGrant>)> {
    let mut prices = Vec::new();
    let mut credits = Vec::new();
    let cap = args.cap;
    for meter in meters {
        let saved_price = saved.and_then(|s| s.prices.iter().find(|p| p.meter == meter.name));
        let saved_credit = saved.and_then(|s| s.credits.iter().find(|c| c.meter == meter.name));
        if matches!(pricing, Pricing::Unit | Pricing::Both) {
            let unit_amount = unit_price_for(asker, args, meter, saved_price)?;
            prices.push(MeteredPrice {
                meter: meter.name.clone(),
                product: product.clone(),
                unit_amount,
                cap_amount: cap.or(saved_price.and_then(|p| p.cap_amount)),
            });
        }
        if matches!(pricing, Pricing::Credits | Pricing::Both) {
            let units = credits_for(asker, args, meter, saved_credit)?;
            let rollover = match args.rollover {
                Some(r) => r,
                None => match saved_credit {
                    Some(c) => c.rollover,
                    None => asker.confirm(
                        &Question::new(
                            format!(
                                "Roll unused `{}` credits over to the next cycle?",
                                meter.name
                            ),
                            "--rollover true|false",
                        ),
                        false,
                    )?,
                },
            };
            credits.push(CreditGrant {
                meter: meter.name.clone(),
                product: product.clone(),
                units,
                rollover,
            });
        }
    }
    // Asked once the prices are known (a fresh conversation only: a saved plan without a
    // cap had none).
    if cap.is_none() && saved.is_none() && !prices.is_empty() {
        let asked = ask_cap(asker, pricing)?;
        for price in &mut prices {
            price.cap_amount = asked;
        }
    }
    Ok((prices, credits))
}

/// The seed's optional cap on the metered charge (asked on a terminal only: without one,
/// no `--cap` simply means no cap).
fn ask_cap(asker: &mut dyn Asker, pricing: Pricing) -> anyhow::Result<Option<i64>> {
    if !asker.interactive() || pricing == Pricing::Credits {
        return Ok(None);
    }
    let answer = asker.text(
        &Question::new(
            "Maximum metered charge per billing period, in dollars (empty: no cap):",
            "--cap DOLLARS",
        )
        .help("a customer is never charged more than this for usage in one period, e.g. 50"),
        Some(""),
        &|s: &str| {
            if s.is_empty() {
                Ok(())
            } else {
                flag_values::cap(s).map(|_| ())
            }
        },
    )?;
    if answer.trim().is_empty() {
        return Ok(None);
    }
    flag_values::cap(answer.trim())
        .map(Some)
        .map_err(|why| anyhow::anyhow!(why))
}

/// Finds `--unit-price METER=DOLLARS` for this meter, or a bare `--unit-price DOLLARS`.
fn flag_for_meter<'a>(values: &'a [String], meter: &str) -> Option<&'a str> {
    values
        .iter()
        .find_map(|v| {
            v.strip_prefix(meter)
                .and_then(|rest| rest.strip_prefix('='))
        })
        .or_else(|| values.iter().find(|v| !v.contains('=')).map(String::as_str))
}

fn unit_price_for(
    asker: &mut dyn Asker,
    args: &SetupArgs,
    meter: &Meter,
    saved: Option<&MeteredPrice>,
) -> anyhow::Result<String> {
    if let Some(dollars) = flag_for_meter(&args.unit_price, &meter.name) {
        return money::dollars_to_cents(dollars).map_err(|why| {
            billing_errors::UsageError::new(format!("--unit-price {dollars}: {why}")).into()
        });
    }
    if let Some(saved) = saved {
        return Ok(saved.unit_amount.clone());
    }
    let unit = unit_noun(meter);
    let answer = asker.text(
        &Question::new(
            format!("Price per {unit} for `{}`, in dollars:", meter.name),
            format!("--unit-price {}=DOLLARS", meter.name),
        )
        .help("e.g. 0.00001; stored exactly as cents (0.001 cents)"),
        None,
        &|s: &str| money::dollars_to_cents(s).map(|_| ()),
    )?;
    money::dollars_to_cents(&answer).map_err(|why| anyhow::anyhow!(why))
}

fn credits_for(
    asker: &mut dyn Asker,
    args: &SetupArgs,
    meter: &Meter,
    saved: Option<&CreditGrant>,
) -> anyhow::Result<i64> {
    if let Some(units) = flag_for_meter(&args.credits, &meter.name) {
        return parse_units(units).map_err(|why| {
            billing_errors::UsageError::new(format!("--credits {units}: {why}")).into()
        });
    }
    if let Some(saved) = saved {
        return Ok(saved.units);
    }
    let unit = unit_noun(meter);
    let answer = asker.text(
        &Question::new(
            format!("{unit}s of `{}` credited per billing cycle:", meter.name),
            format!("--credits {}=UNITS", meter.name),
        ),
        None,
        &|s: &str| flag_values::credit_units(s).map(|_| ()),
    )?;
    flag_values::credit_units(&answer).map_err(|why| anyhow::anyhow!(why))
}

pub(crate) fn parse_units(text: &str) -> Result<i64, String> {
    let cleaned: String = text.chars().filter(|c| *c != '_' && *c != ',').collect();
    match cleaned.trim().parse::<i64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("`{text}` is not a positive whole number of units")),
    }
}

fn unit_noun(meter: &Meter) -> &'static str {
    match meter.kind {
        MeterKind::LlmTokens | MeterKind::Embeddings => "token",
        MeterKind::Images => "image",
        MeterKind::ApiCalls => "call",
        MeterKind::Storage => "byte",
        MeterKind::ComputeTime => "millisecond",
        MeterKind::Custom => "unit",
    }
}

/// The product prices and credits attach to: a flag, the saved plan, or a typed name
/// (offered the organization's first recurring product). When the organization's products
/// are known, the answer must be one of them: a flag or saved answer that is not is asked
/// again on a terminal (a usage error without one), a typed one is re-asked with the reason.
pub fn product(
    asker: &mut dyn Asker,
    args: &SetupArgs,
    saved: Option<&BillingPlan>,
    available: Option<&[ProductChoice]>,
    environment: &str,
) -> anyhow::Result<ProductRef> {
    let flag = "--product NAME_OR_ID";
    let given = args
        .product
        .as_ref()
        .map(|p| (p.clone(), "--product"))
        .or_else(|| {
            saved
                .and_then(|s| {
                    s.prices
                        .first()
                        .map(|p| &p.product)
                        .or_else(|| s.credits.first().map(|c| &c.product))
                })
                .map(|p| (p.0.clone(), "spaire-billing.toml"))
                // The emulator's demo product exists only there: moving the plan to
                // sandbox or production asks for a real product instead.
                .filter(|(name, _)| {
                    environment == billing_plan::Environment::Local.as_str()
                        || name != super::flow::DEMO_PRODUCT
                })
        });
    let Some(known) = available else {
        if let Some((given, _)) = given {
            return Ok(ProductRef(given));
        }
        let name = asker.text(
            &Question::new("Which product should these prices attach to?", flag).help(
                "the name of a recurring product in your Spaire organization; create one under Products in the dashboard if you have none",
            ),
            None,
            &|s: &str| {
                if s.chars().count() < 3 {
                    Err("product names have at least 3 characters".to_owned())
                } else {
                    Ok(())
                }
            },
        )?;
        return Ok(ProductRef(name));
    };
    if known.is_empty() {
        return Err(billing_errors::Hinted::new(
            format!("your {environment} organization has no recurring product for the prices to attach to"),
            "create a subscription product (e.g. \"Pro\", monthly), then run `spaire-billing setup` again; the answers given so far are offered again",
        )
        .into());
    }
    if let Some((given, from)) = given {
        match rules::product(&given, known, environment) {
            Ok(found) => return Ok(reference(found, known)),
            Err(why) if !asker.interactive() => {
                return Err(
                    billing_errors::UsageError::new(format!("{from} {given}: {why}"))
                        .with_hint(format!(
                            "pass `--product` with one of: {}",
                            product_list(known)
                        ))
                        .into(),
                );
            }
            Err(why) => {
                let mut err = anstream::stderr().lock();
                let _ = std::io::Write::write_fmt(&mut err, format_args!("  ✗ {why}\n"));
            }
        }
    }
    let answer = asker.text(
        &Question::new("Which product should these prices attach to?", flag).help(format!(
            "your {environment} products: {}",
            product_list(known)
        )),
        Some(&known[0].name),
        &|s: &str| rules::product(s, known, environment).map(|_| ()),
    )?;
    let found = rules::product(&answer, known, environment).map_err(|why| anyhow::anyhow!(why))?;
    Ok(reference(found, known))
}

/// A product is saved by name, so the plan moves between environments (ids differ per
/// environment); by id only when two products share the name.
fn reference(found: &ProductChoice, known: &[ProductChoice]) -> ProductRef {
    let same_name = known.iter().filter(|p| p.name == found.name).count();
    ProductRef(if same_name == 1 {
        found.name.clone()
    } else {
        found.id.clone()
    })
}

fn product_list(known: &[ProductChoice]) -> String {
    known
        .iter()
        .map(|p| format!("{} ({})", p.name, p.interval))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How request code finds the app's user id.
pub fn customer(
    asker: &mut dyn Asker,
    args: &SetupArgs,
    saved: Option<&BillingPlan>,
) -> anyhow::Result<CustomerSource> {
    if let Some(source) = &args.customer {
        warn_if_client_set(source);
        return Ok(source.clone());
    }
    if let Some(saved) = saved {
        return Ok(saved.customer.clone());
    }
    // The signed-in user first: a header or body field is whatever the caller sends.
    let options = vec![
        "My framework's session / sign-in (the signed-in user; one resolver function)".to_owned(),
        "A function in my code that returns the user id".to_owned(),
        "A request header (e.g. x-customer-id) — only if a gateway you run sets it".to_owned(),
        "A field of the JSON request body — any caller can set it".to_owned(),
    ];
    let flag = "--customer session|function:MODULE#NAME|header:NAME|body:FIELD";
    let index = asker.select(
        &Question::new(
            "How does your request code know which customer it serves?",
            flag,
        )
        .help("usage is recorded against your own user id (external_customer_id)"),
        &options,
        0,
    )?;
    if index >= 2 {
        warn_client_set();
    }
    Ok(match index {
        2 => CustomerSource::Header {
            header: asker.text(
                &Question::new("Header name:", flag),
                Some("x-customer-id"),
                &rules::header,
            )?,
        },
        3 => CustomerSource::Body {
            field: asker.text(
                &Question::new("Body field:", flag),
                Some("customerId"),
                &rules::body_field,
            )?,
        },
        1 => {
            let module = asker.text(
                &Question::new("Module that exports it (import path):", flag),
                Some("@/lib/auth"),
                &rules::function_module,
            )?;
            let function = asker.text(
                &Question::new("Function name:", flag),
                Some("getUserId"),
                &rules::function_name,
            )?;
            CustomerSource::Function { function, module }
        }
        _ => CustomerSource::Session,
    })
}

/// `[customer] expression` / `job_field`: the flags, else what the saved plan has (they are
/// edited in the file, never asked, and a re-run must not drop them).
pub fn call_site_customer(
    args: &SetupArgs,
    saved: Option<&BillingPlan>,
) -> billing_plan::CallSiteCustomer {
    let kept = saved
        .map(|s| s.call_site_customer.clone())
        .unwrap_or_default();
    billing_plan::CallSiteCustomer {
        expression: args.customer_expression.clone().or(kept.expression),
        job_field: args.customer_job_field.clone().or(kept.job_field),
    }
}

/// A customer id the client sends can be anyone's: say so where the choice is made.
fn warn_if_client_set(source: &CustomerSource) {
    if matches!(
        source,
        CustomerSource::Header { .. } | CustomerSource::Body { .. }
    ) {
        warn_client_set();
    }
}

fn warn_client_set() {
    let mut err = anstream::stderr().lock();
    let _ = std::io::Write::write_fmt(
        &mut err,
        format_args!(
            "warning: the customer id comes from the request, which the caller controls: anyone can bill another customer (or nobody) by sending a different value. Use it only behind a gateway you run that sets it after authentication; otherwise prefer `--customer session` or `--customer function:MODULE#NAME`.\n"
        ),
    );
}

pub fn parse_customer(spec: &str) -> anyhow::Result<CustomerSource> {
    let bad = || {
        billing_errors::UsageError::new(format!("`--customer {spec}` is not a customer source"))
            .with_hint("use `header:x-customer-id`, `body:customerId`, `function:@/lib/auth#getUserId` or `session`")
    };
    Ok(match spec.split_once(':') {
        Some(("header", name)) if !name.is_empty() => CustomerSource::Header {
            header: name.to_owned(),
        },
        Some(("body", field)) if !field.is_empty() => CustomerSource::Body {
            field: field.to_owned(),
        },
        Some(("function", rest)) => {
            let (module, function) = rest.rsplit_once('#').ok_or_else(bad)?;
            if module.is_empty() || function.is_empty() {
                return Err(bad().into());
            }
            CustomerSource::Function {
                function: function.to_owned(),
                module: module.to_owned(),
            }
        }
        None if spec == "session" => CustomerSource::Session,
        _ => return Err(bad().into()),
    })
}

/// Webhook handler on or off, and the public URL to register (if any).
pub fn webhooks(
    asker: &mut dyn Asker,
    args: &SetupArgs,
    saved: Option<&BillingPlan>,
) -> anyhow::Result<Option<Webhooks>> {
    let wanted = match args.webhooks {
        Some(w) => w,
        None => match saved {
            Some(saved) => saved.webhooks.is_some(),
            None => asker.confirm(
                &Question::new(
                    "Generate a webhook handler (order paid, subscription active/canceled, customer state)?",
                    "--webhooks true|false",
                ),
                true,
            )?,
        },
    };
    if !wanted {
        return Ok(None);
    }
    let saved_hooks = saved.and_then(|s| s.webhooks.clone());
    let url = match args
        .webhook_url
        .clone()
        .or_else(|| saved_hooks.as_ref().and_then(|w| w.url.clone()))
    {
        Some(url) => Some(url),
        None if saved.is_none() => ask_webhook_url(asker)?,
        None => None,
    };
    Ok(Some(Webhooks {
        events: saved_hooks
            .as_ref()
            .map(|w| w.events.clone())
            .unwrap_or_else(|| {
                DEFAULT_WEBHOOK_EVENTS
                    .iter()
                    .map(|e| (*e).to_owned())
                    .collect()
            }),
        url,
    }))
}

/// Where Spaire sends the webhooks (registered by apply with a token); empty leaves the
/// registration as a step in the report, with the secret's variable name.
fn ask_webhook_url(asker: &mut dyn Asker) -> anyhow::Result<Option<String>> {
    if !asker.interactive() {
        return Ok(None);
    }
    let answer = asker.text(
        &Question::new(
            format!(
                "Public https URL of the webhook handler (e.g. https://example.com{}; empty: register it later):",
                billing_vocab::webhook::WEBHOOK_PATH
            ),
            "--webhook-url URL",
        )
        .help("apply registers it and the report says where to put its secret (SPAIRE_WEBHOOK_SECRET)"),
        Some(""),
        &|s: &str| {
            if s.is_empty() {
                Ok(())
            } else {
                flag_values::webhook_url(s).map(|_| ())
            }
        },
    )?;
    Ok((!answer.trim().is_empty()).then(|| answer.trim().to_owned()))
}

/// The plan the answers make, through the one answers-to-plan function MCP uses too.
pub fn to_plan(answers: billing_plan::answers::Answers) -> anyhow::Result<BillingPlan> {
    billing_plan::answers::to_plan(answers).map_err(|err| {
        let hint = err.hint();
        match err {
            billing_plan::answers::AnswersError::Invalid(plan_err) => {
                billing_errors::Hinted::new("these answers do not make a valid billing plan", hint)
                    .with_source(plan_err)
                    .into()
            }
            other => billing_errors::Hinted::new(other.to_string(), hint).into(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_meter_specs() {
        let m = parse_custom_meter("images:image-generated:sum:pixels").unwrap();
        assert_eq!(m.event, "image-generated");
        assert_eq!(m.aggregation.property.as_deref(), Some("pixels"));
        let c = parse_custom_meter("searches:search:count").unwrap();
        assert_eq!(c.aggregation.property, None);
        assert!(
            parse_custom_meter("x:y:sum").is_err(),
            "sum needs a property"
        );
        assert!(parse_custom_meter("x:y:median:p").is_err());
        assert!(parse_custom_meter("x").is_err());
    }

    #[test]
    fn customer_specs() {
        assert_eq!(
            parse_customer("header:x-user").unwrap(),
            CustomerSource::Header {
                header: "x-user".into()
            }
        );
        assert_eq!(
            parse_customer("function:@/lib/auth#getUserId").unwrap(),
            CustomerSource::Function {
                function: "getUserId".into(),
                module: "@/lib/auth".into()
            }
        );
        assert_eq!(parse_customer("session").unwrap(), CustomerSource::Session);
        assert!(parse_customer("cookie:sid").is_err());
    }

    #[test]
    fn per_meter_flags_win_over_bare_ones() {
        let values = vec!["0.5".to_owned(), "api-calls=0.01".to_owned()];
        assert_eq!(flag_for_meter(&values, "api-calls"), Some("0.01"));
        assert_eq!(flag_for_meter(&values, "storage-usage"), Some("0.5"));
        assert_eq!(flag_for_meter(&[], "x"), None);
    }

    #[test]
    fn units_accept_separators() {
        assert_eq!(parse_units("100_000"), Ok(100_000));
        assert_eq!(parse_units("1,000"), Ok(1000));
        assert!(parse_units("0").is_err());
        assert!(parse_units("ten").is_err());
    }
}

/// The wizard and the MCP server turn the same answers into the same plan: both go through
/// `billing_plan::answers::to_plan`, and this pins it end to end (flags on one side, an
/// agent's `propose_plan` JSON on the other).
#[cfg(test)]
mod same_plan_tests {
    use clap::Parser as _;

    use super::super::ask::NoTerminal;
    use super::*;
    use crate::cli::{Cli, Command};

    fn wizard_plan(flags: &[&str]) -> BillingPlan {
        let cli = Cli::try_parse_from(["spaire-billing", "setup"].iter().chain(flags)).unwrap();
        let Command::Setup(args) = cli.command else {
            unreachable!("parsed `setup`")
        };
        let asker = &mut NoTerminal;
        let meters = meters(asker, &args, None).unwrap();
        let pricing = pricing(asker, &args, None).unwrap();
        let product = product(asker, &args, None, None, "local").unwrap();
        let (prices, credits) =
            prices_and_credits(asker, &args, None, &meters, pricing, &product).unwrap();
        to_plan(billing_plan::answers::Answers {
            environment: args.environment.environment.unwrap(),
            server_url: args.server.server_url.clone(),
            package: ".".to_owned(),
            framework: None,
            customer: customer(asker, &args, None).unwrap(),
            call_site_customer: call_site_customer(&args, None),
            meters: meters.into_iter().map(MeterChoice::Meter).collect(),
            prices,
            credits,
            webhooks: webhooks(asker, &args, None).unwrap(),
        })
        .unwrap()
    }

    fn mcp_plan(json: serde_json::Value) -> BillingPlan {
        let dir = tempfile::tempdir().unwrap();
        let args = serde_json::from_value(json).unwrap();
        billing_mcp::server::answers::to_plan(dir.path(), &args).unwrap()
    }

    #[test]
    fn the_same_answers_make_the_same_plan_in_the_wizard_and_through_mcp() {
        let wizard = wizard_plan(&[
            "--environment=local",
            "--meter=llm-tokens-split",
            "--custom-meter=images:image-generated:sum:pixels",
            "--pricing=both",
            "--unit-price=0.001",
            "--credits=100000",
            "--rollover=false",
            "--cap=50",
            "--product=Pro",
            "--customer=header:x-user-id",
            "--webhooks=true",
        ]);
        let names = [
            "llm-token-usage",
            "prompt-tokens",
            "completion-tokens",
            "images",
        ];
        let prices: Vec<_> = names
            .iter()
            .map(|m| serde_json::json!({"meter": m, "product": "Pro", "unit_amount": "0.1", "cap_amount": 5000}))
            .collect();
        let credits: Vec<_> = names
            .iter()
            .map(|m| serde_json::json!({"meter": m, "product": "Pro", "units": 100000, "rollover": false}))
            .collect();
        let mcp = mcp_plan(serde_json::json!({
            "environment": "local",
            "customer": {"from": "header", "header": "x-user-id"},
            "meters": [
                {"preset": "llm-tokens-split"},
                {"name": "images", "event": "image-generated", "aggregation": "sum", "property": "pixels"}
            ],
            "prices": prices,
            "credits": credits,
            "webhooks": {"events": billing_plan::DEFAULT_WEBHOOK_EVENTS},
        }));
        assert_eq!(wizard, mcp);

        let wizard = wizard_plan(&[
            "--environment=sandbox",
            "--meter=api-calls",
            "--pricing=unit",
            "--unit-price=0.005",
            "--product=Pro",
            "--customer=session",
            "--customer-expression=session.user?.teamId",
            "--customer-job-field=teamId",
            "--webhooks=false",
        ]);
        assert_eq!(
            wizard.call_site_customer.expression.as_deref(),
            Some("session.user?.teamId")
        );
        let mcp = mcp_plan(serde_json::json!({
            "customer": {"from": "session"},
            "customer_expression": "session.user?.teamId",
            "customer_job_field": "teamId",
            "meters": [{"preset": "api-calls"}],
            "prices": [{"meter": "api-calls", "product": "Pro", "unit_amount": "0.5"}],
        }));
        assert_eq!(wizard, mcp);
    }
}
