//! Answers → a validated [`BillingPlan`]: the one function both the setup wizard and the MCP
//! server (`propose_plan`) use, so the same answers give the same plan whoever asked.
//!
//! Callers turn their own input (flags and prompts, or an agent's JSON) into [`Answers`];
//! presets are expanded, the plan assembled and checked by [`crate::validate()`] here.

use crate::{
    BillingPlan, CallSiteCustomer, CreditGrant, CustomerSource, Environment, Meter, MeteredPrice,
    PlanError, ProjectSection, Webhooks,
};

/// One answer to "what do you want to meter?".
#[derive(Debug, Clone, PartialEq)]
pub enum MeterChoice {
    /// A preset id (`api-calls`, `llm-tokens-split`, ...): stands for one or more meters.
    Preset(String),
    /// A meter given in full (a custom meter, or one kept from a saved plan).
    Meter(Meter),
}

/// Everything a user answered, before it is a plan.
#[derive(Debug, Clone)]
pub struct Answers {
    pub environment: Environment,
    pub server_url: Option<String>,
    /// Package directory relative to the project root (`.` for a single package).
    pub package: String,
    pub framework: Option<crate::FrameworkId>,
    pub customer: CustomerSource,
    /// `[customer] expression` / `job_field`: who a wired call site or job bills.
    pub call_site_customer: CallSiteCustomer,
    pub meters: Vec<MeterChoice>,
    pub prices: Vec<MeteredPrice>,
    pub credits: Vec<CreditGrant>,
    pub webhooks: Option<Webhooks>,
}

/// Why answers do not make a plan.
#[derive(Debug, thiserror::Error)]
pub enum AnswersError {
    #[error("no meters: at least one is needed")]
    NoMeters,
    #[error("meters[{index}]: unknown preset `{id}`")]
    UnknownPreset { index: usize, id: String },
    #[error("these answers do not make a valid billing plan")]
    Invalid(#[source] PlanError),
}

impl AnswersError {
    /// What to answer instead.
    pub fn hint(&self) -> String {
        match self {
            Self::NoMeters => {
                "choose at least one thing to meter (a preset or a custom meter)".to_owned()
            }
            Self::UnknownPreset { .. } => {
                format!("use one of: {}", crate::presets::preset_ids().join(", "))
            }
            Self::Invalid(err) => err.hint(),
        }
    }
}

/// Presets expanded to their meters, in answer order; a meter two presets share (e.g.
/// `llm-tokens` and `llm-tokens-split`) is kept once.
pub fn expand_meters(choices: &[MeterChoice]) -> Result<Vec<Meter>, AnswersError> {
    let mut meters: Vec<Meter> = Vec::new();
    for (index, choice) in choices.iter().enumerate() {
        let expanded = match choice {
            MeterChoice::Preset(id) => {
                crate::preset(id)
                    .ok_or_else(|| AnswersError::UnknownPreset {
                        index,
                        id: id.clone(),
                    })?
                    .meters
            }
            MeterChoice::Meter(meter) => vec![meter.clone()],
        };
        let preset = matches!(choice, MeterChoice::Preset(_));
        for meter in expanded {
            // Presets overlap by design; a meter given in full is kept, so a clash with
            // another meter's name is reported by validation instead of silently dropped.
            if !(preset && meters.iter().any(|m| m.name == meter.name)) {
                meters.push(meter);
            }
        }
    }
    Ok(meters)
}

/// The plan these answers describe, checked like `spaire-billing.toml`.
pub fn to_plan(answers: Answers) -> Result<BillingPlan, AnswersError> {
    let meters = expand_meters(&answers.meters)?;
    if meters.is_empty() {
        return Err(AnswersError::NoMeters);
    }
    let plan = BillingPlan {
        call_site_customer: answers.call_site_customer,
        environment: answers.environment,
        server_url: answers.server_url,
        project: ProjectSection {
            path: answers.package,
            framework: answers.framework,
        },
        customer: answers.customer,
        meters,
        prices: answers.prices,
        credits: answers.credits,
        webhooks: answers.webhooks,
    };
    crate::validate(&plan).map_err(AnswersError::Invalid)?;
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProductRef;

    fn answers(meters: Vec<MeterChoice>) -> Answers {
        Answers {
            environment: Environment::Sandbox,
            server_url: None,
            package: ".".to_owned(),
            framework: None,
            customer: CustomerSource::Session,
            call_site_customer: Default::default(),
            meters,
            prices: Vec::new(),
            credits: Vec::new(),
            webhooks: None,
        }
    }

    #[test]
    fn presets_expand_once_and_keep_answer_order() {
        let plan = to_plan(answers(vec![
            MeterChoice::Preset("llm-tokens".into()),
            MeterChoice::Preset("llm-tokens-split".into()),
            MeterChoice::Preset("api-calls".into()),
        ]))
        .unwrap();
        let names: Vec<&str> = plan.meters.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "llm-token-usage",
                "prompt-tokens",
                "completion-tokens",
                "api-calls"
            ]
        );
    }

    #[test]
    fn bad_answers_are_named() {
        let err = to_plan(answers(vec![MeterChoice::Preset("tokens".into())])).unwrap_err();
        assert_eq!(err.to_string(), "meters[0]: unknown preset `tokens`");
        assert!(err.hint().contains("api-calls"));
        assert!(matches!(
            to_plan(answers(Vec::new())),
            Err(AnswersError::NoMeters)
        ));
        let mut priced = answers(vec![MeterChoice::Preset("api-calls".into())]);
        priced.prices.push(MeteredPrice {
            meter: "api-calls".into(),
            product: ProductRef("Pro".into()),
            unit_amount: "a lot".into(),
            cap_amount: None,
        });
        let err = to_plan(priced).unwrap_err();
        assert!(matches!(err, AnswersError::Invalid(_)), "{err}");
        assert!(!err.hint().is_empty());
    }
}
