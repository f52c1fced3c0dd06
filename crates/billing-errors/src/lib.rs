//! Error types shared by every crate so the binary can render one consistent report:
//!
//! ```text
//! error: <what went wrong>
//!   Caused by: <why, one line per cause>
//!
//! hint: <what to do about it>
//! ```
//!
//! Library crates keep their own `thiserror` enums. When they know what the user should do,
//! they wrap the error in [`Hinted`] (or return a [`UsageError`] when the fix is a flag), and
//! the renderer in the binary walks the cause chain to collect every hint.

use std::error::Error as StdError;
use std::fmt;

/// A typed error that knows the user's next step for each of its causes (uv's `Hint`).
///
/// Library enums implement it per variant; [`Hinted::from_error`] turns one into the error
/// the renderer shows as `error:` / `Caused by:` / `hint:`.
pub trait Hint: StdError + Send + Sync + 'static {
    fn hint(&self) -> String;
}

/// An error with a concrete next step for the user.
#[derive(Debug)]
pub struct Hinted {
    message: String,
    hint: String,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
    /// `source` is the error this one stands for (same message): the chain continues with
    /// that error's own cause, so the message is not printed twice.
    transparent: bool,
}

impl Hinted {
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: hint.into(),
            source: None,
            transparent: false,
        }
    }

    /// The typed error with its own hint. The error stays reachable by downcasting
    /// (`Hinted::inner`), and `Caused by:` continues with its cause.
    pub fn from_error<E: Hint>(err: E) -> Self {
        Self {
            message: err.to_string(),
            hint: err.hint(),
            source: Some(Box::new(err)),
            transparent: true,
        }
    }

    /// The typed error this was made from with [`Hinted::from_error`], if it is an `E`.
    pub fn inner<E: StdError + 'static>(&self) -> Option<&E> {
        if !self.transparent {
            return None;
        }
        self.source.as_deref().and_then(|e| e.downcast_ref::<E>())
    }

    /// Keeps `source` in the chain so `Caused by:` still shows the underlying failure.
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub fn hint(&self) -> &str {
        &self.hint
    }
}

impl fmt::Display for Hinted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for Hinted {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        let source = self.source.as_deref()?;
        if self.transparent {
            source.source()
        } else {
            Some(source as &(dyn StdError + 'static))
        }
    }
}

/// The invocation itself is wrong or incomplete (a missing flag, a bad value, a question that
/// cannot be asked without a terminal). Rendered like any error, but exits with code 2.
#[derive(Debug)]
pub struct UsageError {
    message: String,
    hint: Option<String>,
}

impl UsageError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for UsageError {}

/// The one rendering of a failed command, used by the binary and by tests that check error
/// text without running it:
///
/// ```text
/// error: <message>
///   Caused by: <cause>
///
/// hint: <hint>
/// ```
///
/// `error_label` / `hint_label` are the words `error` / `hint`, coloured or not by the caller
/// (this crate knows nothing of terminals).
pub fn render_report(
    err: &(dyn StdError + 'static),
    error_label: &str,
    hint_label: &str,
) -> String {
    let mut out = format!("{error_label}: {err}\n");
    let mut cause = err.source();
    while let Some(e) = cause {
        out.push_str(&format!("  Caused by: {e}\n"));
        cause = e.source();
    }
    for hint in hints_in_chain(err) {
        out.push_str(&format!("\n{hint_label}: {hint}\n"));
    }
    out
}

/// Collects the hints found anywhere in an error's cause chain, outermost first.
pub fn hints_in_chain(err: &(dyn StdError + 'static)) -> Vec<String> {
    let mut hints = Vec::new();
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(h) = e.downcast_ref::<Hinted>() {
            hints.push(h.hint().to_owned());
        } else if let Some(u) = e.downcast_ref::<UsageError>()
            && let Some(h) = u.hint()
        {
            hints.push(h.to_owned());
        }
        current = e.source();
    }
    hints
}

/// True when any error in the chain is a [`UsageError`]: the process should exit with 2.
pub fn is_usage_error(err: &(dyn StdError + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(e) = current {
        if e.is::<UsageError>() {
            return true;
        }
        current = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_collected_through_sources() {
        let inner = Hinted::new("inner", "do the inner thing");
        let outer = Hinted::new("outer", "do the outer thing").with_source(inner);
        assert_eq!(
            hints_in_chain(&outer),
            vec!["do the outer thing", "do the inner thing"]
        );
    }

    #[derive(Debug)]
    struct Typed(std::io::Error);

    impl fmt::Display for Typed {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("typed failure")
        }
    }

    impl StdError for Typed {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    impl Hint for Typed {
        fn hint(&self) -> String {
            "do the typed thing".to_owned()
        }
    }

    #[test]
    fn a_typed_error_brings_its_hint_and_is_not_printed_twice() {
        let hinted = Hinted::from_error(Typed(std::io::Error::other("disk on fire")));
        assert_eq!(hinted.to_string(), "typed failure");
        assert_eq!(hints_in_chain(&hinted), vec!["do the typed thing"]);
        let causes: Vec<String> = std::iter::successors(hinted.source(), |e| (*e).source())
            .map(ToString::to_string)
            .collect();
        assert_eq!(causes, vec!["disk on fire"]);
        assert!(hinted.inner::<Typed>().is_some());
        assert!(Hinted::new("x", "y").inner::<Typed>().is_none());
    }

    #[test]
    fn usage_errors_are_recognised_in_a_chain() {
        let usage = UsageError::new("missing --meter").with_hint("pass `--meter api-calls`");
        let wrapped = Hinted::new("cannot plan", "answer the question").with_source(usage);
        assert!(is_usage_error(&wrapped));
        assert!(!is_usage_error(&Hinted::new("x", "y")));
        assert_eq!(hints_in_chain(&wrapped).len(), 2);
    }
}
