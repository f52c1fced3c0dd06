//! Asking the user, or explaining which flag answers the question when nobody can be asked.
//!
//! The conversation code calls [`Asker`] for every question; on a terminal that is an inquire
//! prompt, without one (CI, pipes, agents) every question becomes a usage error (exit 2) that
//! names the exact flag to pass, so a script can never hang on a prompt.

use billing_errors::UsageError;
use inquire::error::InquireError;
use inquire::ui::{Color, RenderConfig, StyleSheet, Styled};

/// One question and the flag that answers it non-interactively.
#[derive(Debug, Clone)]
pub struct Question {
    pub prompt: String,
    /// How to pass the answer as a flag, e.g. "--pricing unit|credits|both".
    pub flag: String,
    pub help: Option<String>,
}

impl Question {
    pub fn new(prompt: impl Into<String>, flag: impl Into<String>) -> Self {
        Self {
            prompt: prompt.into(),
            flag: flag.into(),
            help: None,
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// The user pressed Esc or said no: nothing has been written, and the command says so.
#[derive(Debug, thiserror::Error)]
#[error("setup cancelled; your code and your Spaire account were not changed")]
pub struct Cancelled;

/// The user pressed Ctrl-C at a question (exit 130, like any interrupted command).
#[derive(Debug, thiserror::Error)]
#[error("setup interrupted (Ctrl-C); your code and your Spaire account were not changed")]
pub struct Interrupted;

pub type Validator<'a> = &'a dyn Fn(&str) -> Result<(), String>;

pub trait Asker: Send {
    fn select(&mut self, q: &Question, options: &[String], default: usize)
    -> anyhow::Result<usize>;
    fn multi_select(
        &mut self,
        q: &Question,
        options: &[String],
        defaults: &[usize],
    ) -> anyhow::Result<Vec<usize>>;
    fn confirm(&mut self, q: &Question, default: bool) -> anyhow::Result<bool>;
    fn text(
        &mut self,
        q: &Question,
        default: Option<&str>,
        validate: Validator<'_>,
    ) -> anyhow::Result<String>;
    /// True when questions can actually be asked.
    fn interactive(&self) -> bool;
}

/// Asks on the terminal with arrow-key menus.
pub struct TerminalAsker {
    render: RenderConfig<'static>,
}

impl TerminalAsker {
    pub fn new(color: bool) -> Self {
        let render = if color {
            RenderConfig::default()
                .with_prompt_prefix(Styled::new("?").with_fg(Color::LightCyan))
                .with_answer(StyleSheet::new().with_fg(Color::LightGreen))
        } else {
            RenderConfig::empty()
        };
        Self { render }
    }
}

fn interrupted(err: InquireError) -> anyhow::Error {
    match err {
        InquireError::OperationCanceled => Cancelled.into(),
        InquireError::OperationInterrupted => Interrupted.into(),
        other => anyhow::Error::new(other).context("could not read the answer from the terminal"),
    }
}

impl Asker for TerminalAsker {
    fn select(
        &mut self,
        q: &Question,
        options: &[String],
        default: usize,
    ) -> anyhow::Result<usize> {
        let mut prompt = inquire::Select::new(&q.prompt, options.to_vec())
            .with_starting_cursor(default.min(options.len().saturating_sub(1)))
            .with_render_config(self.render)
            .without_filtering();
        if let Some(help) = &q.help {
            prompt = prompt.with_help_message(help);
        }
        prompt
            .raw_prompt()
            .map(|choice| choice.index)
            .map_err(interrupted)
    }

    fn multi_select(
        &mut self,
        q: &Question,
        options: &[String],
        defaults: &[usize],
    ) -> anyhow::Result<Vec<usize>> {
        let help = q
            .help
            .clone()
            .unwrap_or_else(|| "↑↓ to move, space to select, enter to confirm".to_owned());
        inquire::MultiSelect::new(&q.prompt, options.to_vec())
            .with_default(defaults)
            .with_render_config(self.render)
            .without_filtering()
            .with_help_message(&help)
            .with_validator(|chosen: &[inquire::list_option::ListOption<&String>]| {
                Ok(if chosen.is_empty() {
                    inquire::validator::Validation::Invalid("choose at least one".into())
                } else {
                    inquire::validator::Validation::Valid
                })
            })
            .raw_prompt()
            .map(|chosen| chosen.into_iter().map(|c| c.index).collect())
            .map_err(interrupted)
    }

    fn confirm(&mut self, q: &Question, default: bool) -> anyhow::Result<bool> {
        let mut prompt = inquire::Confirm::new(&q.prompt)
            .with_default(default)
            .with_render_config(self.render);
        if let Some(help) = &q.help {
            prompt = prompt.with_help_message(help);
        }
        prompt.prompt().map_err(interrupted)
    }

    fn text(
        &mut self,
        q: &Question,
        default: Option<&str>,
        validate: Validator<'_>,
    ) -> anyhow::Result<String> {
        loop {
            let mut prompt = inquire::Text::new(&q.prompt).with_render_config(self.render);
            if let Some(default) = default {
                prompt = prompt.with_default(default);
            }
            if let Some(help) = &q.help {
                prompt = prompt.with_help_message(help);
            }
            let answer = prompt.prompt().map_err(interrupted)?;
            // Validation happens here rather than in inquire so the same closure serves
            // flags and prompts, and errors read the same in both.
            match validate(answer.trim()) {
                Ok(()) => return Ok(answer.trim().to_owned()),
                Err(why) => {
                    let mut err = anstream::stderr().lock();
                    let _ = std::io::Write::write_fmt(&mut err, format_args!("  ✗ {why}\n"));
                }
            }
        }
    }

    fn interactive(&self) -> bool {
        true
    }
}

/// Used without a terminal: every question is a usage error naming its flag.
pub struct NoTerminal;

impl NoTerminal {
    fn missing(q: &Question) -> anyhow::Error {
        UsageError::new(format!(
            "`spaire-billing setup` needs an answer to \"{}\" and there is no terminal to ask",
            q.prompt.trim_end_matches(['?', ':', ' '])
        ))
        .with_hint(format!("pass `{}`", q.flag))
        .into()
    }
}

impl Asker for NoTerminal {
    fn select(&mut self, q: &Question, _: &[String], _: usize) -> anyhow::Result<usize> {
        Err(Self::missing(q))
    }

    fn multi_select(
        &mut self,
        q: &Question,
        _: &[String],
        _: &[usize],
    ) -> anyhow::Result<Vec<usize>> {
        Err(Self::missing(q))
    }

    fn confirm(&mut self, q: &Question, _: bool) -> anyhow::Result<bool> {
        Err(Self::missing(q))
    }

    fn text(&mut self, q: &Question, _: Option<&str>, _: Validator<'_>) -> anyhow::Result<String> {
        Err(Self::missing(q))
    }

    fn interactive(&self) -> bool {
        false
    }
}
