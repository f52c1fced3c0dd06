//! ProjectProfile + BillingPlan ─▶ **ChangeSet** ─▶ preview ─▶ apply.
//!
//! Producers (code generation, call-site wiring, remote setup) each contribute parts; the
//! preview renders it and hashes it; `apply` performs exactly what was hashed.

pub mod encoding;
pub mod preview;

pub use encoding::TextEncoding;
pub use preview::{file_diff, plan_hash, render_text, unified_diff};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChangeSet {
    pub files: Vec<FileChange>,
    pub installs: Vec<PackageInstall>,
    /// Environment variable NAMES the project needs (never values).
    pub env_vars: Vec<EnvVarName>,
    pub remote: Vec<RemoteStep>,
    /// Edits that could not be made automatically: exactly what to change, where.
    pub manual_steps: Vec<ManualStep>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileAction {
    Create,
    Modify,
}

/// Who produced a file change; shown in the preview and kept in the lock file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileOrigin {
    /// A whole file rendered from a template (owned by spaire-billing, has a header line).
    Generated,
    /// A surgical edit of a user's file (call-site wiring, middleware registration).
    Wired,
    /// `.env.example`, `.gitignore` and similar small appends.
    Config,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    /// Path relative to the project root, `/`-separated, never absolute or containing `..`.
    pub path: String,
    pub action: FileAction,
    pub origin: FileOrigin,
    /// Current content (for `Modify`); `None` for `Create`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    pub after: String,
    /// One line on why this file changes (e.g. "usage recorder: batches events").
    pub summary: String,
}

impl FileChange {
    /// An edit of one of the user's own files that wires billing in (registration, a route
    /// wrapper, a settings entry): `before` is the file as read, `after` as it will be.
    pub fn wired_edit(
        path: impl Into<String>,
        before: String,
        after: String,
        summary: impl Into<String>,
    ) -> Self {
        Self {
            path: path.into(),
            action: FileAction::Modify,
            origin: FileOrigin::Wired,
            before: Some(before),
            after,
            summary: summary.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageInstall {
    /// Directory to run the command in, relative to the project root.
    pub cwd: String,
    /// The full command, e.g. ["pnpm", "add", "@spaire/sdk"].
    pub argv: Vec<String>,
    /// Packages this installs (for display and for "already installed?" checks).
    pub packages: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvVarName {
    pub name: String,
    pub purpose: String,
    pub required: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RemoteAction {
    Create,
    /// An identical object exists already and is reused (no write call).
    Reuse,
    Update,
    /// No token: the user has to do this in the dashboard (see `dashboard_steps`).
    Pending,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteStep {
    /// Stable key across runs, e.g. "meter:llm-token-usage", "price:Pro:llm-token-usage".
    pub key: String,
    /// "meter" | "metered-price" | "meter-credit-benefit" | "product-benefits" | "webhook-endpoint"
    pub object: String,
    pub action: RemoteAction,
    /// "sandbox" | "production" | "local": named in every line of the preview.
    pub environment: String,
    pub summary: String,
    /// The request body that will be sent (or the dashboard values to enter).
    pub request: serde_json::Value,
    /// Exact dashboard instructions, used when there is no token.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dashboard_steps: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualStep {
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// What to add or change, in words.
    pub instructions: String,
    /// The code to paste, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
}

impl ChangeSet {
    /// Adds `other`'s parts after this one's.
    pub fn extend(&mut self, other: ChangeSet) {
        self.files.extend(other.files);
        self.installs.extend(other.installs);
        for var in other.env_vars {
            if !self.env_vars.iter().any(|v| v.name == var.name) {
                self.env_vars.push(var);
            }
        }
        self.remote.extend(other.remote);
        self.manual_steps.extend(other.manual_steps);
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
            && self.installs.is_empty()
            && self.remote.iter().all(|r| r.action == RemoteAction::Reuse)
    }
}
