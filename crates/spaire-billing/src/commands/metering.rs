//! The **Metering** section `setup`, `apply` and `status` end with: per meter what feeds it
//! (`file:line`), a meter nothing feeds flagged loudly, and every step still needing the
//! user's hand with its file, place and exact snippet. Without colour it reads the same.

use std::fmt::Write as _;

use billing_ops::{FeederKind, Metering, MeteringStep, StepKind, UnmeteredCalls, UnmeteredSite};

use crate::printer::{BOLD, GREEN, RED};

fn step_kind(kind: StepKind) -> &'static str {
    match kind {
        StepKind::CallSite => "wire a call site",
        StepKind::RegisterMiddleware => "register middleware",
        StepKind::CallHelper => "call a usage helper",
        StepKind::CustomerResolver => "fill in the customer resolver",
        StepKind::WebhookRoute => "serve the webhook route",
        StepKind::WebhookEndpoint => "register the webhook endpoint",
        StepKind::Other => "manual edit",
    }
}

fn location(step: &MeteringStep) -> String {
    match step.line {
        Some(line) => format!("{}:{line}", step.file),
        None => step.file.clone(),
    }
}

/// The section, without a trailing newline.
pub fn render(metering: &Metering) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{BOLD}Metering{BOLD:#}");
    if metering.meters.is_empty() {
        let _ = writeln!(out, "  (no meters in the plan)");
    }
    for meter in &metering.meters {
        if meter.feeders.is_empty() {
            let _ = writeln!(
                out,
                "  {RED}NOT FED{RED:#}  {} (event `{}`): {}",
                meter.name,
                meter.event,
                meter.unfed_reason.as_deref().unwrap_or("nothing feeds it")
            );
            continue;
        }
        let _ = writeln!(
            out,
            "  {GREEN}fed{GREEN:#}      {} (event `{}`) by:",
            meter.name, meter.event
        );
        for feeder in &meter.feeders {
            let kind = match feeder.kind {
                FeederKind::CallSite => "call site",
                FeederKind::Middleware => "middleware",
            };
            let _ = writeln!(
                out,
                "             {kind:<10} {}:{}",
                feeder.file, feeder.line
            );
        }
    }
    let pending: Vec<&MeteringStep> = metering.manual_steps.iter().filter(|s| !s.done).collect();
    let done: Vec<&MeteringStep> = metering.manual_steps.iter().filter(|s| s.done).collect();
    if !pending.is_empty() {
        let _ = writeln!(
            out,
            "\n{BOLD}Still needs your hand{BOLD:#} ({})",
            pending.len()
        );
        for (i, step) in pending.iter().enumerate() {
            let meter = step
                .meter
                .as_deref()
                .map(|m| format!(" (meter {m})"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {}. {}{meter}: {}",
                i + 1,
                step_kind(step.kind),
                location(step)
            );
            let _ = writeln!(out, "     {}", step.instructions);
            if let Some(snippet) = &step.snippet {
                for line in snippet.lines() {
                    let _ = writeln!(out, "       {line}");
                }
            }
        }
    }
    if !done.is_empty() {
        let _ = writeln!(out, "\nDone ({})", done.len());
        for step in done {
            let _ = writeln!(out, "  done: {}: {}", step_kind(step.kind), location(step));
        }
    }
    out.push_str(&render_unmetered(&metering.unmetered_calls));
    out.push_str(&render_not_billed(&metering.not_billed));
    let unfed = metering
        .meters
        .iter()
        .filter(|m| m.feeders.is_empty())
        .count();
    out.push('\n');
    if metering.complete {
        let _ = write!(
            out,
            "Every meter is fed by the app's code and no step is left."
        );
    } else {
        let _ = write!(
            out,
            "{RED}Metering is not complete{RED:#}: {unfed} meter{} record{} nothing and {} step{} \
             {} pending. `spaire-billing status` exits 1 until they are done.",
            if unfed == 1 { "" } else { "s" },
            if unfed == 1 { "s" } else { "" },
            pending.len(),
            if pending.len() == 1 { "" } else { "s" },
            if pending.len() == 1 { "is" } else { "are" },
        );
    }
    out
}

/// Billable calls the user marked as billing no customer; empty when there are none. Starts
/// with a blank line. Information only: it changes no exit code.
pub fn render_not_billed(sites: &[UnmeteredSite]) -> String {
    let mut out = String::new();
    if sites.is_empty() {
        return out;
    }
    let n = sites.len();
    let _ = writeln!(
        out,
        "\n{BOLD}Not billed{BOLD:#} ({n} call{} marked `{}`)",
        if n == 1 { "" } else { "s" },
        billing_vocab::NOT_BILLED_MARKER
    );
    for site in sites {
        let _ = writeln!(out, "  {}:{} {}", site.file, site.line, site.callee);
    }
    out
}

/// Billable calls no planned meter bills, each group with the meter that would; empty when
/// there are none. Starts with a blank line. Information only: it changes no exit code.
pub fn render_unmetered(groups: &[UnmeteredCalls]) -> String {
    let mut out = String::new();
    for group in groups {
        let n = group.sites.len();
        let _ = writeln!(
            out,
            "\n{BOLD}Not metered{BOLD:#} ({n} call{} the plan bills nothing for)",
            if n == 1 { "" } else { "s" }
        );
        for site in &group.sites {
            let _ = writeln!(out, "  {}:{} {}", site.file, site.line, site.callee);
            for note in &site.notes {
                let _ = writeln!(out, "     {note}");
            }
        }
        let _ = writeln!(out, "  To bill them: {}", group.fix);
    }
    out
}
