//! `status`: what is still missing after (or before) an apply — pending dashboard steps, the
//! access token (presence only, never its value), the SDK, edited generated files.

use std::path::PathBuf;

use billing_apply::{Lock, Project, sha256_hex};
use billing_changeset::{RemoteAction, RemoteStep};
use billing_plan::{BillingPlan, Environment};
use serde::Serialize;

use crate::Engine;
use crate::metering::{
    MeterAccount, Metering, MeteringStep, UnmeteredCalls, UnmeteredSite, metering_on_disk,
};
use crate::plan::select_package;
use crate::produce::{ProduceContext, hinted_apply, produce_all};
use crate::remote::RemotePlanRequest;

/// The variable holding the organization access token.
pub const TOKEN_VAR: &str = "SPAIRE_ACCESS_TOKEN";

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum PlanFileStatus {
    Missing,
    Invalid { error: String },
    Valid { environment: Environment },
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenStatus {
    pub present: bool,
    /// Where it was found: "environment", a `.env*` file name, or [`LOCAL_TOKEN_SOURCE`] for
    /// a local plan (the emulator's built-in token is used). Never the value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SdkStatus {
    pub package: String,
    pub sdk: String,
    pub installed: bool,
    /// The command that installs it with the project's package manager, when missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub install_command: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LastApply {
    pub id: String,
    pub plan_hash: String,
    pub environment: String,
    pub complete: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub root: String,
    pub plan_file: PlanFileStatus,
    pub token: TokenStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sdk: Option<SdkStatus>,
    /// Remote steps not done yet (dashboard steps without a token), each naming its
    /// environment.
    pub pending_remote: Vec<RemoteStep>,
    /// Why the remote steps could not be checked (API unreachable, token rejected), when so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_error: Option<String>,
    /// Generated files changed since spaire-billing wrote them.
    pub edited_files: Vec<String>,
    /// Generated files that no longer exist.
    pub missing_files: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_apply: Option<LastApply>,
    /// Per meter, what in the project's files feeds it now (re-read on every run).
    pub meters: Vec<MeterAccount>,
    /// Steps for the user's hand, each `done` or not as the files are now.
    pub manual_steps: Vec<MeteringStep>,
    /// Billable calls no meter of the plan bills (information; `complete` ignores them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unmetered_calls: Vec<UnmeteredCalls>,
    /// Billable calls marked `spaire-billing: not billed` (information).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_billed: Vec<UnmeteredSite>,
    /// Why the metering account could not be computed (e.g. an unsupported framework).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metering_error: Option<String>,
    /// Nothing is left: every meter fed, every manual step done, token, SDK and remote setup in
    /// place. `status` exits 0 exactly when this is true.
    pub complete: bool,
}

impl Status {
    /// True when nothing is left to do.
    pub fn is_complete(&self) -> bool {
        matches!(self.plan_file, PlanFileStatus::Valid { .. })
            && self.token.present
            && self.sdk.as_ref().is_none_or(|s| s.installed)
            && self.pending_remote.is_empty()
            && self.remote_error.is_none()
            && self.missing_files.is_empty()
            && self.metering_error.is_none()
            && !self.meters.is_empty()
            && self.meters.iter().all(|m| !m.feeders.is_empty())
            && self.manual_steps.iter().all(|s| s.done)
    }
}

impl Engine {
    pub async fn status(&self, root: &std::path::Path) -> anyhow::Result<Status> {
        let project = Project::open(root).map_err(hinted_apply)?;
        let root: PathBuf = project.root().to_path_buf();
        let profile = billing_detect::detect(&root, &billing_detect::DetectOptions::default())?;

        let (plan_file, plan) = match billing_plan::load(&root) {
            Ok(Some(plan)) => (
                PlanFileStatus::Valid {
                    environment: plan.environment,
                },
                Some(plan),
            ),
            Ok(None) => (PlanFileStatus::Missing, None),
            Err(err) => (
                PlanFileStatus::Invalid {
                    error: err.to_string(),
                },
                None,
            ),
        };

        let local = plan
            .as_ref()
            .is_some_and(|p| p.environment == Environment::Local);
        let token = token_status(&profile, local);
        let sdk = plan
            .as_ref()
            .and_then(|plan| sdk_status(&project, &profile, plan));
        let lock = Lock::read(&project).map_err(hinted_apply)?;
        let mut edited_files = Vec::new();
        let mut missing_files = Vec::new();
        for (path, locked) in &lock.files {
            match project.read(path).map_err(hinted_apply)? {
                Some(bytes) if sha256_hex(&bytes) != locked.sha256 => {
                    edited_files.push(path.clone())
                }
                Some(_) => {}
                None => missing_files.push(path.clone()),
            }
        }
        let mut remote_error = None;
        let mut remote_steps: Vec<RemoteStep> = Vec::new();
        let pending_remote = match &plan {
            Some(plan) => {
                let state = lock
                    .environments
                    .get(plan.environment.as_str())
                    .cloned()
                    .unwrap_or(serde_json::Value::Null);
                match self
                    .remote
                    .plan(RemotePlanRequest {
                        root: &root,
                        plan,
                        environment: plan.environment,
                        server_url: self.server_url.as_deref(),
                        state: &state,
                    })
                    .await
                {
                    Ok(planned) => {
                        remote_steps = planned.steps;
                        remote_steps
                            .iter()
                            .filter(|s| s.action != RemoteAction::Reuse)
                            .cloned()
                            .collect()
                    }
                    Err(err) => {
                        // Status reports what it can; an unreachable API is one of the things.
                        remote_error = Some(format!("{err:#}"));
                        Vec::new()
                    }
                }
            }
            None => Vec::new(),
        };
        let last_apply = billing_apply::journal::latest(&project)
            .map_err(hinted_apply)?
            .map(|e| LastApply {
                id: e.id,
                plan_hash: e.plan_hash,
                environment: e.environment,
                complete: e.complete,
            });
        let (metering, metering_error) = match &plan {
            Some(plan) => match self.metering_now(&project, &profile, plan, remote_steps) {
                Ok(metering) => (Some(metering), None),
                Err(err) => (None, Some(format!("{err:#}"))),
            },
            None => (None, None),
        };
        let (meters, manual_steps, unmetered_calls, not_billed) = metering
            .map(|m| (m.meters, m.manual_steps, m.unmetered_calls, m.not_billed))
            .unwrap_or_default();
        let mut status = Status {
            root: root.display().to_string(),
            plan_file,
            token,
            sdk,
            pending_remote,
            remote_error,
            edited_files,
            missing_files,
            last_apply,
            meters,
            manual_steps,
            unmetered_calls,
            not_billed,
            metering_error,
            complete: false,
        };
        status.complete = status.is_complete();
        Ok(status)
    }

    /// Re-reads the project: the producers run against the files as they are (a call site the
    /// user wired by hand is now "already wired", a registered middleware asks for nothing),
    /// and the account is taken from the disk, without the changes not applied yet.
    fn metering_now(
        &self,
        project: &Project,
        profile: &billing_detect::ProjectProfile,
        plan: &BillingPlan,
        remote_steps: Vec<RemoteStep>,
    ) -> anyhow::Result<Metering> {
        let package = select_package(profile, plan, &mut Vec::new())?;
        let cx = ProduceContext::new(project.root(), project, profile, package, plan)?;
        let mut changes = produce_all(&self.producers, &cx, None)?;
        changes.remote = remote_steps;
        Ok(metering_on_disk(&cx, &changes))
    }
}

/// [`TokenStatus::source`] of a local plan with no token set: none is needed, the built-in
/// emulator token is used (`billing_remote::EMULATOR_DEFAULT_TOKEN`).
pub const LOCAL_TOKEN_SOURCE: &str = "the local emulator's built-in token";

fn token_status(profile: &billing_detect::ProjectProfile, local: bool) -> TokenStatus {
    if std::env::var_os(TOKEN_VAR).is_some_and(|v| !v.is_empty()) {
        return TokenStatus {
            present: true,
            source: Some("environment".to_owned()),
        };
    }
    let file = profile
        .packages
        .iter()
        .flat_map(|p| &p.env_vars)
        .find(|v| v.name == TOKEN_VAR && !v.file.ends_with(".example"))
        .map(|v| v.file.clone());
    if file.is_none() && local {
        return TokenStatus {
            present: true,
            source: Some(LOCAL_TOKEN_SOURCE.to_owned()),
        };
    }
    TokenStatus {
        present: file.is_some(),
        source: file,
    }
}

/// Whether the packages the generated code imports are there (the SDK, or `standardwebhooks`
/// where the project's pins block the SDK); `None` when it imports none.
pub(crate) fn sdk_status(
    project: &Project,
    profile: &billing_detect::ProjectProfile,
    plan: &BillingPlan,
) -> Option<SdkStatus> {
    let package = select_package(profile, plan, &mut Vec::new()).ok()?;
    let cx = ProduceContext::new(project.root(), project, profile, package, plan).ok()?;
    let imported = billing_generate::imports::imported_by(&crate::produce::target(&cx));
    let sdk = imported.first()?;
    let missing = crate::produce::missing_imports(&cx).ok()?;
    Some(SdkStatus {
        package: package.path.clone(),
        sdk: sdk.name.to_owned(),
        installed: missing.is_empty(),
        install_command: missing
            .first()
            .map(|sdk| billing_generate::imports::install_argv(package, sdk))
            .map(|argv| billing_changeset::preview::shell_words(&argv)),
    })
}
