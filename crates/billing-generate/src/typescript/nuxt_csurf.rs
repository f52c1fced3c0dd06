//! `nuxt-csurf` answers 403 to every POST without its CSRF token, Spaire's signed webhook
//! deliveries included. The webhook path goes into the module's `excludedUrls` in
//! `nuxt.config`, editing only that key; anything else is a manual step at its line.

use super::context::WEBHOOK_PATH;

#[derive(Debug, PartialEq, Eq)]
pub enum CsrfEdit {
    Edited(String),
    /// No `nuxt-csurf`, or the webhook path is excluded already.
    Unaffected,
    /// `csurf` options this does not rewrite: their line.
    Unsafe(u32),
}

pub fn exclude_webhook(config: &str) -> CsrfEdit {
    if !config.contains("nuxt-csurf") || config.contains(WEBHOOK_PATH) {
        return CsrfEdit::Unaffected;
    }
    let quote = if config.matches('\'').count() > config.matches('"').count() {
        '\''
    } else {
        '"'
    };
    let path = format!("{quote}{WEBHOOK_PATH}{quote}");
    if let Some(key) = find_key(config, "csurf") {
        let line = line_of(config, key);
        let after = &config[key + "csurf".len()..];
        let Some(open) = after.trim_start().strip_prefix(':').map(str::trim_start) else {
            return CsrfEdit::Unsafe(line);
        };
        if !open.starts_with('{') {
            return CsrfEdit::Unsafe(line);
        }
        let brace = config.len() - open.len();
        if let Some(urls) = find_key(&config[brace..], "excludedUrls").map(|i| brace + i) {
            let value = config[urls + "excludedUrls".len()..].trim_start();
            let Some(array) = value.strip_prefix(':').map(str::trim_start) else {
                return CsrfEdit::Unsafe(line_of(config, urls));
            };
            if !array.starts_with('[') {
                return CsrfEdit::Unsafe(line_of(config, urls));
            }
            let at = config.len() - array.len() + 1;
            let empty = array[1..].trim_start().starts_with(']');
            let insert = if empty { path } else { format!("{path}, ") };
            let mut out = config.to_owned();
            out.insert_str(at, &insert);
            return CsrfEdit::Edited(out);
        }
        let indent = indent_after(config, brace + 1).unwrap_or_else(|| "    ".to_owned());
        let mut out = config.to_owned();
        out.insert_str(brace + 1, &format!("\n{indent}excludedUrls: [{path}],"));
        return CsrfEdit::Edited(out);
    }
    let Some(define) = config.find("defineNuxtConfig({") else {
        let line = config
            .find("nuxt-csurf")
            .map_or(1, |at| line_of(config, at));
        return CsrfEdit::Unsafe(line);
    };
    let brace = define + "defineNuxtConfig({".len();
    let indent = indent_after(config, brace).unwrap_or_else(|| "  ".to_owned());
    let block = format!(
        "\n{indent}// Spaire's webhook deliveries are signed and carry no CSRF token.\n{indent}csurf: {{\n{indent}{indent}excludedUrls: [{path}]\n{indent}}},\n"
    );
    let mut out = config.to_owned();
    out.insert_str(brace, &block);
    CsrfEdit::Edited(out)
}

/// `key:` as an object key (`csurf: {`), outside strings.
fn find_key(source: &str, key: &str) -> Option<usize> {
    source.match_indices(key).map(|(i, _)| i).find(|&i| {
        let before = source[..i].chars().next_back();
        let ident = |c: char| {
            c.is_alphanumeric() || c == '_' || c == '$' || c == '\'' || c == '"' || c == '-'
        };
        !before.is_some_and(ident) && source[i + key.len()..].trim_start().starts_with(':')
    })
}

/// Indentation of the first non-blank line after byte `at`.
fn indent_after(source: &str, at: usize) -> Option<String> {
    source[at..]
        .lines()
        .skip(1)
        .find(|l| !l.trim().is_empty())
        .map(|l| l.chars().take_while(|c| *c == ' ' || *c == '\t').collect())
}

fn line_of(source: &str, at: usize) -> u32 {
    u32::try_from(source[..at].matches('\n').count() + 1).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_without_csurf_options_gets_them() {
        let config = "export default defineNuxtConfig({\n  modules: [\n    'nuxt-auth-utils',\n    'nuxt-csurf'\n  ],\n\n  devtools: {\n    enabled: true\n  }\n})\n";
        let CsrfEdit::Edited(out) = exclude_webhook(config) else {
            panic!("not edited")
        };
        assert_eq!(
            out,
            "export default defineNuxtConfig({\n  // Spaire's webhook deliveries are signed and carry no CSRF token.\n  csurf: {\n    excludedUrls: ['/api/webhooks/spaire']\n  },\n\n  modules: [\n    'nuxt-auth-utils',\n    'nuxt-csurf'\n  ],\n\n  devtools: {\n    enabled: true\n  }\n})\n"
        );
        assert_eq!(exclude_webhook(&out), CsrfEdit::Unaffected);
    }

    #[test]
    fn existing_options_and_exclusions_are_extended() {
        let config = "export default defineNuxtConfig({\n  modules: [\"nuxt-csurf\"],\n  csurf: {\n    https: false,\n  },\n});\n";
        let CsrfEdit::Edited(out) = exclude_webhook(config) else {
            panic!("not edited")
        };
        assert!(
            out.contains(
                "  csurf: {\n    excludedUrls: [\"/api/webhooks/spaire\"],\n    https: false,\n"
            ),
            "{out}"
        );
        let config = "export default defineNuxtConfig({\n  modules: ['nuxt-csurf'],\n  csurf: { excludedUrls: ['/nocsrf', ['/hooks/.*', 'i']] },\n})\n";
        let CsrfEdit::Edited(out) = exclude_webhook(config) else {
            panic!("not edited")
        };
        assert!(
            out.contains("excludedUrls: ['/api/webhooks/spaire', '/nocsrf', ["),
            "{out}"
        );
    }

    #[test]
    fn no_csurf_or_unknown_shapes() {
        assert_eq!(
            exclude_webhook("export default defineNuxtConfig({})\n"),
            CsrfEdit::Unaffected
        );
        let config = "export default defineNuxtConfig({\n  modules: ['nuxt-csurf'],\n  csurf: csurfOptions,\n})\n";
        assert_eq!(exclude_webhook(config), CsrfEdit::Unsafe(3));
    }
}
