//! Answers typed so far, kept in `.spaire-billing/answers.toml` (ignored by git) after every
//! answer, so Ctrl-C, a failed product lookup or a crash never throws a conversation away:
//! the next `setup` offers each earlier answer as the question's default (enter keeps it).
//! The file is removed once the answers are applied (they live in `spaire-billing.toml`
//! from then on).
//!
//! [`Recording`] wraps any [`Asker`]; answers are keyed by the question's text, which names
//! the meter it is about, so a changed earlier answer never fills in an unrelated question.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::ask::{Asker, Question, Validator};

/// Where the answers are kept, relative to the project root.
pub const DRAFT_PATH: &str = ".spaire-billing/answers.toml";
/// Keeps the draft (and other machine-local files) of `.spaire-billing/` out of git; the
/// lock file next to them is meant to be committed.
const IGNORE_PATH: &str = ".spaire-billing/.gitignore";

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
enum Answer {
    Yes(bool),
    Text(String),
    Choices(Vec<String>),
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct DraftFile {
    #[serde(default)]
    answers: BTreeMap<String, Answer>,
}

/// The answers of an unfinished conversation.
#[derive(Debug)]
pub struct Draft {
    /// `None` when nothing is kept (no terminal: every answer is a flag already).
    root: Option<PathBuf>,
    file: DraftFile,
    /// How many answers the previous run left (what the resume message counts).
    pub offered: usize,
    /// Set aside while apply writes: answers are only remembered in memory.
    paused: bool,
}

impl Draft {
    /// The draft a previous run left, or an empty one. An unreadable draft is not worth
    /// stopping for: it is started afresh (and overwritten by the first answer).
    pub fn load(root: &Path) -> Self {
        let file = std::fs::read_to_string(root.join(DRAFT_PATH))
            .ok()
            .and_then(|text| toml_edit::de::from_str::<DraftFile>(&text).ok())
            .unwrap_or_default();
        Self {
            root: Some(root.to_path_buf()),
            offered: file.answers.len(),
            file,
            paused: false,
        }
    }

    /// A draft that offers and keeps nothing.
    pub fn disabled() -> Self {
        Self {
            root: None,
            file: DraftFile::default(),
            offered: 0,
            paused: false,
        }
    }

    fn get(&self, q: &Question) -> Option<&Answer> {
        self.file.answers.get(&q.prompt)
    }

    fn record(&mut self, q: &Question, answer: Answer) -> anyhow::Result<()> {
        self.file.answers.insert(q.prompt.clone(), answer);
        self.save()
    }

    fn save(&self) -> anyhow::Result<()> {
        let Some(root) = self.root.as_ref().filter(|_| !self.paused) else {
            return Ok(());
        };
        let path = root.join(DRAFT_PATH);
        let dir = path.parent().unwrap_or(root);
        std::fs::create_dir_all(dir)
            .and_then(|()| ensure_ignored(root))
            .map_err(|err| {
                anyhow::anyhow!("could not keep the answers in `{DRAFT_PATH}`: {err}")
            })?;
        let mut text = String::from(
            "# spaire-billing setup: answers given so far, offered again by the next `setup`.\n\
             # Removed once the answers are applied; delete it to start over.\n",
        );
        text.push_str(&toml_edit::ser::to_string_pretty(&self.file)?);
        // Written whole through a temporary file: a crash never leaves half a draft.
        let tmp = dir.join(".answers.toml.tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|err| anyhow::anyhow!("could not keep the answers in `{DRAFT_PATH}`: {err}"))
    }

    /// Takes the draft off the disk (kept in memory) while something else writes to the
    /// project; [`Draft::keep`] puts it back.
    pub fn set_aside(&mut self) {
        self.paused = true;
        self.finish();
    }

    /// Writes the draft again (after [`Draft::set_aside`]), if there is anything to keep.
    pub fn keep(&mut self) -> anyhow::Result<()> {
        self.paused = false;
        if self.file.answers.is_empty() {
            return Ok(());
        }
        self.save()
    }

    /// The answers were applied: the draft (and the ignore file only it needed) go.
    pub fn finish(&self) {
        let Some(root) = &self.root else {
            return;
        };
        let _ = std::fs::remove_file(root.join(DRAFT_PATH));
        let ignore = root.join(IGNORE_PATH);
        if std::fs::read_to_string(&ignore).is_ok_and(|text| text == IGNORE_CONTENT) {
            let _ = std::fs::remove_file(&ignore);
        }
        // Only removes the directory when nothing else (the lock, the journal) is in it.
        let _ = std::fs::remove_dir(root.join(".spaire-billing"));
    }

    /// Whether answers are kept on disk (by this run or an earlier one).
    pub fn is_kept(&self) -> bool {
        self.root.is_some() && !self.file.answers.is_empty()
    }
}

const IGNORE_CONTENT: &str =
    "# machine-local files of spaire-billing (lock.json is committed)\nanswers.toml\n";

/// Writes `.spaire-billing/.gitignore` naming the draft, unless one exists already.
fn ensure_ignored(root: &Path) -> std::io::Result<()> {
    let ignore = root.join(IGNORE_PATH);
    match std::fs::read_to_string(&ignore) {
        Ok(text) if text.lines().any(|l| l.trim() == "answers.toml") => Ok(()),
        Ok(mut text) => {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str("answers.toml\n");
            std::fs::write(&ignore, text)?;
            Ok(())
        }
        Err(_) => {
            std::fs::write(&ignore, IGNORE_CONTENT)?;
            Ok(())
        }
    }
}

/// An [`Asker`] that offers the draft's answers as defaults and records every new answer.
pub struct Recording<'a> {
    pub inner: &'a mut dyn Asker,
    pub draft: Draft,
}

impl Asker for Recording<'_> {
    fn select(
        &mut self,
        q: &Question,
        options: &[String],
        default: usize,
    ) -> anyhow::Result<usize> {
        let default = match self.draft.get(q) {
            Some(Answer::Text(label)) => options.iter().position(|o| o == label),
            _ => None,
        }
        .unwrap_or(default);
        let index = self.inner.select(q, options, default)?;
        if let Some(label) = options.get(index) {
            self.draft.record(q, Answer::Text(label.clone()))?;
        }
        Ok(index)
    }

    fn multi_select(
        &mut self,
        q: &Question,
        options: &[String],
        defaults: &[usize],
    ) -> anyhow::Result<Vec<usize>> {
        let earlier: Option<Vec<usize>> = match self.draft.get(q) {
            Some(Answer::Choices(labels)) => Some(
                options
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| labels.contains(o))
                    .map(|(i, _)| i)
                    .collect(),
            ),
            _ => None,
        };
        let chosen = self
            .inner
            .multi_select(q, options, earlier.as_deref().unwrap_or(defaults))?;
        let labels = chosen
            .iter()
            .filter_map(|i| options.get(*i).cloned())
            .collect();
        self.draft.record(q, Answer::Choices(labels))?;
        Ok(chosen)
    }

    fn confirm(&mut self, q: &Question, default: bool) -> anyhow::Result<bool> {
        // Consent (apply, a dirty tree, production: the `--yes` questions) is asked afresh
        // every time, never remembered.
        if q.flag.starts_with("--yes") {
            return self.inner.confirm(q, default);
        }
        let default = match self.draft.get(q) {
            Some(Answer::Yes(earlier)) => *earlier,
            _ => default,
        };
        let yes = self.inner.confirm(q, default)?;
        self.draft.record(q, Answer::Yes(yes))?;
        Ok(yes)
    }

    fn text(
        &mut self,
        q: &Question,
        default: Option<&str>,
        validate: Validator<'_>,
    ) -> anyhow::Result<String> {
        // An earlier answer is offered only if it is still valid (the meters chosen before
        // it may have changed).
        let earlier = match self.draft.get(q) {
            Some(Answer::Text(text)) if validate(text).is_ok() => Some(text.clone()),
            _ => None,
        };
        let answer = self
            .inner
            .text(q, earlier.as_deref().or(default), validate)?;
        self.draft.record(q, Answer::Text(answer.clone()))?;
        Ok(answer)
    }

    fn interactive(&self) -> bool {
        self.inner.interactive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers every question with its default, recording what it was offered.
    struct Defaults(Vec<String>);

    impl Asker for Defaults {
        fn select(&mut self, _: &Question, o: &[String], d: usize) -> anyhow::Result<usize> {
            self.0.push(o[d].clone());
            Ok(d)
        }
        fn multi_select(
            &mut self,
            _: &Question,
            _: &[String],
            d: &[usize],
        ) -> anyhow::Result<Vec<usize>> {
            Ok(d.to_vec())
        }
        fn confirm(&mut self, _: &Question, d: bool) -> anyhow::Result<bool> {
            Ok(d)
        }
        fn text(
            &mut self,
            _: &Question,
            d: Option<&str>,
            _: Validator<'_>,
        ) -> anyhow::Result<String> {
            Ok(d.unwrap_or("typed").to_owned())
        }
        fn interactive(&self) -> bool {
            true
        }
    }

    #[test]
    fn answers_survive_into_the_next_run_as_defaults_and_go_once_applied() {
        let dir = tempfile::tempdir().unwrap();
        let options = vec!["unit".to_owned(), "credits".to_owned()];
        let ok: Validator<'_> = &|_| Ok(());
        {
            let mut inner = Defaults(Vec::new());
            let mut asker = Recording {
                inner: &mut inner,
                draft: Draft::load(dir.path()),
            };
            assert_eq!(asker.draft.offered, 0);
            asker
                .draft
                .record(
                    &Question::new("Pricing?", "--pricing"),
                    Answer::Text("credits".into()),
                )
                .unwrap();
            assert_eq!(
                asker
                    .text(&Question::new("Name:", "--x"), None, ok)
                    .unwrap(),
                "typed"
            );
            assert!(
                !asker
                    .confirm(&Question::new("Roll?", "--r"), false)
                    .unwrap()
            );
        }
        let text = std::fs::read_to_string(dir.path().join(DRAFT_PATH)).unwrap();
        assert!(text.contains("\"Name:\" = \"typed\""), "{text}");
        let ignore = std::fs::read_to_string(dir.path().join(IGNORE_PATH)).unwrap();
        assert!(ignore.lines().any(|l| l == "answers.toml"));

        let mut inner = Defaults(Vec::new());
        let mut asker = Recording {
            inner: &mut inner,
            draft: Draft::load(dir.path()),
        };
        assert_eq!(asker.draft.offered, 3);
        assert_eq!(
            asker
                .select(&Question::new("Pricing?", "--pricing"), &options, 0)
                .unwrap(),
            1
        );
        // An earlier answer the rules now refuse is not offered.
        let refuse: Validator<'_> = &|_| Err("no".to_owned());
        assert_eq!(
            asker
                .text(&Question::new("Name:", "--x"), Some("fresh"), refuse)
                .unwrap(),
            "fresh"
        );
        asker.draft.finish();
        assert!(!dir.path().join(".spaire-billing").exists());
    }
}
