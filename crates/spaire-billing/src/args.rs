//! Flags shared by several commands, each defined once and used with `#[command(flatten)]`,
//! so one option has one name, one help text and one parser in every command.
//!
//! Adding a flag that more than one command takes: add a struct here, flatten it where it is
//! needed; renaming one keeps the old name as a hidden `alias` so scripts keep working.

use std::path::PathBuf;

use billing_plan::Environment;
use clap::Args;

/// The project directory, a positional `PATH` defaulting to the current directory.
#[derive(Debug, Clone, Args)]
pub struct ProjectArg {
    /// Project directory (where `spaire-billing.toml` is, or will be written).
    #[arg(value_name = "PATH", default_value = ".")]
    pub path: PathBuf,
}

/// The project directory for commands that used to take it as `--dir DIR` (`mcp`,
/// `agent install`): the same positional `PATH` as everywhere, with `--dir` kept hidden so
/// existing agent configs keep working.
#[derive(Debug, Clone, Args)]
pub struct ProjectDirArg {
    #[command(flatten)]
    pub project: ProjectArg,
    #[arg(long = "dir", value_name = "DIR", hide = true, conflicts_with = "path")]
    pub dir: Option<PathBuf>,
}

impl ProjectDirArg {
    pub fn path(&self) -> &std::path::Path {
        self.dir.as_deref().unwrap_or(&self.project.path)
    }
}

/// `--json`: machine-readable output on stdout.
#[derive(Debug, Clone, Copy, Args)]
pub struct JsonArg {
    /// Print the result as one JSON object on stdout, with a `schema_version` (docs/json.md).
    #[arg(long)]
    pub json: bool,
}

/// `--yes` / `-y`: confirm every question (for scripts and CI).
#[derive(Debug, Clone, Copy, Args)]
pub struct YesArg {
    /// Do not ask: answer yes to every confirmation (for scripts and CI).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// `--no-install`: print package installs instead of running them.
#[derive(Debug, Clone, Copy, Args)]
pub struct NoInstallArg {
    /// Do not run package installs; print their commands instead.
    #[arg(long = "no-install", alias = "skip-installs")]
    pub no_install: bool,
}

/// `--environment`: the Spaire environment for remote steps.
#[derive(Debug, Clone, Copy, Args)]
pub struct EnvironmentFlag {
    /// Spaire environment for remote steps, instead of the plan file's `environment`.
    #[arg(long, value_enum, value_name = "ENV")]
    pub environment: Option<Environment>,
}

/// `--server-url`: the API base URL (e.g. a running emulator's).
#[derive(Debug, Clone, Args)]
pub struct ServerUrlArg {
    /// API base URL (e.g. a running emulator's); overrides `SPAIRE_SERVER_URL` and the plan's
    /// `server_url`.
    #[arg(long, value_name = "URL", value_parser = crate::flag_values::server_url)]
    pub server_url: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use crate::cli::Cli;

    /// One option, one name: every long flag that two commands take has the same help text
    /// in both, so it comes from one shared struct (and cannot drift).
    #[test]
    fn a_flag_shared_by_commands_means_the_same_everywhere() {
        let cli = Cli::command();
        let mut seen: std::collections::BTreeMap<String, (String, String)> = Default::default();
        for command in cli.get_subcommands() {
            for arg in command.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                let name = command.get_name().to_owned();
                if let Some((first, first_help)) = seen.get(long) {
                    let shared = ["json", "yes", "environment", "server-url", "no-install"];
                    if shared.contains(&long) {
                        assert_eq!(
                            &help, first_help,
                            "`--{long}` of `{name}` differs from `{first}`'s"
                        );
                    }
                } else {
                    seen.insert(long.to_owned(), (name, help));
                }
            }
        }
        let apply = cli.find_subcommand("apply").unwrap();
        let no_install = apply
            .get_arguments()
            .find(|a| a.get_long() == Some("no-install"))
            .expect("apply takes --no-install");
        assert_eq!(
            no_install.get_all_aliases().unwrap_or_default(),
            ["skip-installs"],
            "the old name keeps working"
        );
    }
}
