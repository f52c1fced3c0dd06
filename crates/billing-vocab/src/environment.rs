//! Where remote objects live.

use serde::{Deserialize, Serialize};

/// A Spaire environment: the value of `environment = "..."` in `spaire-billing.toml`, of
/// `--environment` (clap `ValueEnum`) and of the MCP tools' `environment` argument (JSON
/// Schema). The variant doc comments are what `--help` and the agent read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Spaire's sandbox (test mode): test money, safe to try things. The default.
    Sandbox,
    /// The live account: real money. Only when the user explicitly asks for it.
    Production,
    /// The built-in emulator (`spaire-billing emulator`).
    Local,
}

impl Environment {
    /// Every environment, in the order help texts list them.
    pub const ALL: [Environment; 3] = [
        Environment::Sandbox,
        Environment::Production,
        Environment::Local,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Sandbox => "sandbox",
            Environment::Production => "production",
            Environment::Local => "local",
        }
    }

    /// The environment spelled `name` (exactly as in the plan file).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == name)
    }

    /// Default API base URL for the environment (the emulator's default port for `local`).
    pub fn default_server_url(self) -> &'static str {
        match self {
            Environment::Sandbox => "https://sandbox-api.spairehq.com",
            Environment::Production => "https://api.spairehq.com",
            Environment::Local => "http://127.0.0.1:8787",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_from_name() {
        for env in Environment::ALL {
            let json = serde_json::to_value(env).unwrap();
            assert_eq!(json, env.as_str());
            assert_eq!(Environment::from_name(env.as_str()), Some(env));
        }
        assert_eq!(Environment::from_name("staging"), None);
    }
}
