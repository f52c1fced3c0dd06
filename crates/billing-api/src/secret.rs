//! The access token, kept out of every `Debug`, `Display`, log line and error message.

use std::fmt;

/// A secret string (an access token or a webhook signing secret).
///
/// Formatting it in any way prints `[redacted]`; the only way to read the value is
/// [`Secret::expose`], which the client calls when it builds the `Authorization` header.
/// It deliberately implements neither `Serialize` nor `Deref<Target = str>`, so it cannot end
/// up in a JSON report or a `format!` by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw value. Call sites should be few and obvious (`grep expose`).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let token = Secret::new("spaire_oat_supersecret");
        assert_eq!(format!("{token}"), "[redacted]");
        assert_eq!(format!("{token:?}"), "Secret([redacted])");
        assert_eq!(
            format!("{:#?}", Some(&token)),
            "Some(\n    Secret([redacted]),\n)"
        );
        assert_eq!(token.expose(), "spaire_oat_supersecret");
    }
}
