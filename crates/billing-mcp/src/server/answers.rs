//! `propose_plan` arguments → a validated [`BillingPlan`], with the same presets and checks as
//! `spaire-billing.toml`, so an agent cannot produce a plan the CLI would reject.

use std::path::Path;

use billing_errors::Hinted;
use billing_plan::answers::{Answers, AnswersError, MeterChoice};
use billing_plan::{
    Aggregation, AggregationFunc, BillingPlan, CreditGrant, CustomerSource, Environment, Meter,
    MeterKind, MeteredPrice, ProductRef, Webhooks,
};

use super::args::{CustomerArg, MeterArg, ProposePlanArgs};

/// Builds the plan from answers, or loads `spaire-billing.toml` when no meters were given.
pub fn to_plan(root: &Path, args: &ProposePlanArgs) -> anyhow::Result<BillingPlan> {
    let Some(meter_args) = &args.meters else {
        return from_plan_file(root, args);
    };
    let Some(customer) = &args.customer else {
        return Err(Hinted::new(
            "`customer` is required with `meters`",
            "ask the user how requests identify the customer (a header, a body field, the session, or a function) and pass it as `customer`",
        )
        .into());
    };
    if meter_args.is_empty() {
        return Err(Hinted::new(
            "`meters` is empty",
            "ask the user what to meter and pass at least one meter (see list_meter_presets)",
        )
        .into());
    }
    let meters = meter_args
        .iter()
        .enumerate()
        .map(|(i, m)| meter(i, m))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let answers = Answers {
        environment: environment(args.environment),
        server_url: args.server_url.clone(),
        package: args.package.clone().unwrap_or_else(|| ".".to_owned()),
        framework: args
            .framework
            .as_deref()
            .map(billing_plan::parse_framework)
            .transpose()
            .map_err(|d| Hinted::new(format!("`framework`: {}", d.message), d.fix))?,
        customer: customer_source(customer),
        call_site_customer: billing_plan::CallSiteCustomer {
            expression: args.customer_expression.clone(),
            job_field: args.customer_job_field.clone(),
        },
        meters,
        prices: args
            .prices
            .iter()
            .map(|p| MeteredPrice {
                meter: p.meter.clone(),
                product: ProductRef(p.product.clone()),
                unit_amount: p.unit_amount.clone(),
                cap_amount: p.cap_amount,
            })
            .collect(),
        credits: args
            .credits
            .iter()
            .map(|c| CreditGrant {
                meter: c.meter.clone(),
                product: ProductRef(c.product.clone()),
                units: c.units,
                rollover: c.rollover,
            })
            .collect(),
        webhooks: args.webhooks.as_ref().map(|w| Webhooks {
            events: w.events.clone(),
            url: w.url.clone(),
        }),
    };
    // The wizard's function too: the same answers make the same plan.
    billing_plan::answers::to_plan(answers).map_err(|err| {
        let hint = err.hint();
        match err {
            AnswersError::Invalid(plan_err) => Hinted::new(
                format!("the answers do not make a valid plan: {plan_err}"),
                hint,
            )
            .into(),
            other => Hinted::new(other.to_string(), hint).into(),
        }
    })
}

/// The plan, if it passes the same validator as `spaire-billing.toml` (names, module
/// specifier, URLs, amounts): everything an agent passes reaches generated code only this way.
fn validated(plan: BillingPlan) -> anyhow::Result<BillingPlan> {
    billing_plan::validate(&plan).map_err(|err| {
        let hint = err.hint();
        Hinted::new(format!("the answers do not make a valid plan: {err}"), hint)
    })?;
    Ok(plan)
}

fn from_plan_file(root: &Path, args: &ProposePlanArgs) -> anyhow::Result<BillingPlan> {
    let loaded = billing_plan::load(root).map_err(|err| match err {
        billing_plan::LoadError::Invalid(plan_err) => {
            let hint = plan_err.hint();
            anyhow::Error::new(Hinted::new(plan_err.to_string(), hint))
        }
        other => anyhow::Error::new(other),
    })?;
    let Some(mut plan) = loaded else {
        return Err(Hinted::new(
            format!("no `meters` given and no `{}` in the project", billing_plan::PLAN_FILE),
            "ask the user what to meter and how it is priced, then pass `meters`, `customer` and `prices`",
        )
        .into());
    };
    // Explicit choices in this call win over the file; everything else comes from the file.
    if let Some(env) = args.environment {
        plan.environment = environment(Some(env));
    }
    if args.server_url.is_some() {
        plan.server_url = args.server_url.clone();
    }
    if args.customer_expression.is_some() {
        plan.call_site_customer.expression = args.customer_expression.clone();
    }
    if args.customer_job_field.is_some() {
        plan.call_site_customer.job_field = args.customer_job_field.clone();
    }
    // The overrides are answers too: check them as strictly as the file.
    validated(plan)
}

fn environment(arg: Option<Environment>) -> Environment {
    arg.unwrap_or(Environment::Sandbox)
}

fn customer_source(arg: &CustomerArg) -> CustomerSource {
    match arg {
        CustomerArg::Header { header } => CustomerSource::Header {
            header: header.clone(),
        },
        CustomerArg::Body { field } => CustomerSource::Body {
            field: field.clone(),
        },
        CustomerArg::Session => CustomerSource::Session,
        CustomerArg::Function { function, module } => CustomerSource::Function {
            function: function.clone(),
            module: module.clone(),
        },
    }
}

/// The `llm-cost` preset's meter with the answer's markup (checked with the rest of the plan,
/// like the plan file's `markup`).
fn cost_meter(path: &str, id: &str, markup: &serde_json::Number) -> anyhow::Result<MeterChoice> {
    use billing_vocab::meter::LLM_COST_PRESET;
    let meter = (id == LLM_COST_PRESET)
        .then(|| billing_plan::preset(id))
        .flatten()
        .and_then(|p| p.meters.into_iter().find(Meter::bills_llm_cost));
    let Some(mut meter) = meter else {
        return Err(Hinted::new(
            format!("{path}: only the `{LLM_COST_PRESET}` preset takes a `markup`"),
            format!("remove `markup`, or pass it with `preset: \"{LLM_COST_PRESET}\"`"),
        )
        .into());
    };
    meter.markup = Some(markup.to_string());
    Ok(MeterChoice::Meter(meter))
}

/// One answer → a preset id or a custom meter (presets are expanded by `to_plan`).
fn meter(index: usize, arg: &MeterArg) -> anyhow::Result<MeterChoice> {
    let path = format!("meters[{index}]");
    match arg.preset.as_deref() {
        Some(id) if id != billing_plan::presets::CUSTOM => {
            if arg.name.is_some()
                || arg.event.is_some()
                || arg.aggregation.is_some()
                || arg.property.is_some()
            {
                return Err(Hinted::new(
                    format!("{path}: a preset meter takes no `name`, `event`, `aggregation` or `property`"),
                    "pass only `preset`, or use `preset: \"custom\"` (or no preset) with all four fields",
                )
                .into());
            }
            match &arg.markup {
                None => Ok(MeterChoice::Preset(id.to_owned())),
                Some(markup) => cost_meter(&path, id, markup),
            }
        }
        _ if arg.markup.is_some() => cost_meter(&path, billing_plan::presets::CUSTOM, &0.into()),
        _ => {
            let missing: Vec<&str> = [
                ("name", arg.name.is_none()),
                ("event", arg.event.is_none()),
                ("aggregation", arg.aggregation.is_none()),
            ]
            .into_iter()
            .filter_map(|(k, m)| m.then_some(k))
            .collect();
            if !missing.is_empty() {
                return Err(Hinted::new(
                    format!("{path}: a custom meter needs {}", missing.join(", ")),
                    "ask the user for the meter's name, the event name their code sends, and how to aggregate it",
                )
                .into());
            }
            let func = arg.aggregation.unwrap_or(AggregationFunc::Count);
            Ok(MeterChoice::Meter(Meter {
                name: arg.name.clone().unwrap_or_default(),
                event: arg.event.clone().unwrap_or_default(),
                aggregation: Aggregation {
                    func,
                    property: arg.property.clone(),
                },
                kind: MeterKind::Custom,
                preset: None,
                markup: None,
                paths: None,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::args::{PriceArg, ProposePlanArgs};

    fn args(meters: Vec<MeterArg>) -> ProposePlanArgs {
        ProposePlanArgs {
            environment: None,
            server_url: None,
            package: None,
            framework: None,
            customer: Some(CustomerArg::Header {
                header: "x-user-id".into(),
            }),
            customer_expression: None,
            customer_job_field: None,
            meters: Some(meters),
            prices: Vec::new(),
            credits: Vec::new(),
            webhooks: None,
        }
    }

    fn preset(id: &str) -> MeterArg {
        MeterArg {
            preset: Some(id.into()),
            name: None,
            event: None,
            aggregation: None,
            property: None,
            markup: None,
        }
    }

    fn error(a: &ProposePlanArgs) -> (String, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let err = to_plan(dir.path(), a).unwrap_err();
        (
            err.to_string(),
            billing_errors::hints_in_chain(err.as_ref()),
        )
    }

    #[test]
    fn presets_expand_and_sandbox_is_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let plan = to_plan(dir.path(), &args(vec![preset("llm-tokens-split")])).unwrap();
        assert_eq!(plan.environment, Environment::Sandbox);
        let names: Vec<&str> = plan.meters.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            ["llm-token-usage", "prompt-tokens", "completion-tokens"]
        );
        assert_eq!(plan.project.path, ".");
    }

    #[test]
    fn a_custom_meter_needs_its_fields_and_a_preset_takes_none() {
        let mut custom = preset("custom");
        custom.name = Some("images".into());
        let (message, hints) = error(&args(vec![custom.clone()]));
        assert_eq!(
            message,
            "meters[0]: a custom meter needs event, aggregation"
        );
        assert!(hints[0].contains("ask the user"));

        custom.event = Some("image-generated".into());
        custom.aggregation = Some(AggregationFunc::Count);
        let dir = tempfile::tempdir().unwrap();
        let plan = to_plan(dir.path(), &args(vec![custom])).unwrap();
        assert_eq!(plan.meters[0].kind, MeterKind::Custom);
        assert_eq!(plan.meters[0].event, "image-generated");

        let mut renamed = preset("api-calls");
        renamed.name = Some("calls".into());
        let (message, _) = error(&args(vec![renamed]));
        assert!(message.contains("a preset meter takes no"), "{message}");
    }

    #[test]
    fn prices_are_validated_like_the_plan_file() {
        let mut a = args(vec![preset("api-calls")]);
        a.prices.push(PriceArg {
            meter: "api-calls".into(),
            product: "Pro".into(),
            unit_amount: "a lot".into(),
            cap_amount: None,
        });
        let (message, hints) = error(&a);
        assert!(
            message.starts_with("the answers do not make a valid plan"),
            "{message}"
        );
        assert!(message.contains("unit_amount"), "{message}");
        assert!(!hints.is_empty());

        a.prices[0].unit_amount = "0.5".into();
        a.prices[0].meter = "no-such-meter".into();
        let (message, _) = error(&a);
        assert!(message.contains("no-such-meter"), "{message}");
    }

    #[test]
    fn hostile_answers_meet_the_plan_validator() {
        let mut a = args(vec![preset("api-calls")]);
        a.customer = Some(CustomerArg::Function {
            function: "getUser".into(),
            module: "data:text/javascript,process.exit(7)".into(),
        });
        let (message, _) = error(&a);
        assert!(message.contains("customer.module"), "{message}");

        let mut a = args(vec![preset("api-calls")]);
        let mut custom = preset("custom");
        custom.name = Some("evil\n*/ process.exit(7) /*".into());
        custom.event = Some("evil".into());
        custom.aggregation = Some(AggregationFunc::Count);
        a.meters = Some(vec![custom]);
        let (message, _) = error(&a);
        assert!(message.contains("meters[0].name"), "{message}");

        // The file path: an override is checked like an answer.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("spaire-billing.toml"),
            "[customer]\nfrom = \"header\"\nheader = \"x-user\"\n\n[[meters]]\npreset = \"api-calls\"\n",
        )
        .unwrap();
        let mut a = args(vec![]);
        a.meters = None;
        a.customer = None;
        a.server_url = Some("https://x.example/\";process.exit(7);//".into());
        let err = to_plan(dir.path(), &a).unwrap_err();
        assert!(err.to_string().contains("server_url"), "{err}");
    }

    #[test]
    fn answers_need_a_customer_and_at_least_one_meter() {
        let mut a = args(vec![]);
        assert_eq!(error(&a).0, "`meters` is empty");
        a.meters = Some(vec![preset("storage")]);
        a.customer = None;
        assert_eq!(error(&a).0, "`customer` is required with `meters`");
    }

    #[test]
    fn without_meters_the_plan_file_is_used_with_explicit_overrides() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("spaire-billing.toml"),
            "environment = \"sandbox\"\n\n[customer]\nfrom = \"header\"\nheader = \"x-user\"\n\n[[meters]]\npreset = \"api-calls\"\n",
        )
        .unwrap();
        let mut a = args(vec![]);
        a.meters = None;
        a.customer = None;
        a.environment = Some(Environment::Local);
        let plan = to_plan(dir.path(), &a).unwrap();
        assert_eq!(plan.environment, Environment::Local);
        assert_eq!(plan.meters[0].name, "api-calls");

        std::fs::write(
            dir.path().join("spaire-billing.toml"),
            "[[meters]]\npreset = \"nope\"\n",
        )
        .unwrap();
        let err = to_plan(dir.path(), &a).unwrap_err();
        assert!(err.to_string().contains("spaire-billing.toml:"), "{err}");
    }
}
