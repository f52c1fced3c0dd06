//! JSON and JSONC documents as a small owned tree that remembers the line of every value, so
//! evidence can say `package.json:14`. Built on dprint's `jsonc-parser`.

use jsonc_parser::ast;
use jsonc_parser::{CollectOptions, ParseOptions};

use crate::text::LineIndex;

#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

/// A value and the 1-based line where it (or, for object members, its key) starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: u32,
    pub value: Json,
}

/// A syntax error with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// How strictly to read the text. Manifests that npm/composer read must be strict JSON;
/// tsconfig/jsconfig are JSONC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Json,
    Jsonc,
}

/// Parses `text`. For [`Dialect::Json`], text that is only valid as JSONC (comments, trailing
/// commas) is still returned, together with the strict error, because the tools that read
/// the file will fail on it and the user should know.
pub fn parse(text: &str, dialect: Dialect) -> (Option<Node>, Option<SyntaxError>) {
    let index = LineIndex::new(text);
    let strict = match dialect {
        Dialect::Json => {
            let options = ParseOptions {
                allow_comments: false,
                allow_loose_object_property_names: false,
                allow_trailing_commas: false,
                allow_missing_commas: false,
                allow_single_quoted_strings: false,
                allow_hexadecimal_numbers: false,
                allow_unary_plus_numbers: false,
                ..ParseOptions::default()
            };
            match parse_with(text, &options, &index) {
                Ok(node) => return (Some(node), None),
                Err(e) => Some(e),
            }
        }
        Dialect::Jsonc => None,
    };
    match parse_with(text, &ParseOptions::default(), &index) {
        Ok(node) => (Some(node), strict),
        Err(lenient) => (None, Some(strict.unwrap_or(lenient))),
    }
}

fn parse_with(text: &str, options: &ParseOptions, index: &LineIndex) -> Result<Node, SyntaxError> {
    let result =
        jsonc_parser::parse_to_ast(text, &CollectOptions::default(), options).map_err(|e| {
            SyntaxError {
                line: u32::try_from(e.line_display()).unwrap_or(u32::MAX),
                column: u32::try_from(e.column_display()).unwrap_or(u32::MAX),
                message: e.kind().to_string(),
            }
        })?;
    match result.value {
        Some(value) => Ok(convert(&value, index, None)),
        None => Err(SyntaxError {
            line: 1,
            column: 1,
            message: "the file is empty".to_owned(),
        }),
    }
}

fn convert(value: &ast::Value<'_>, index: &LineIndex, key_start: Option<usize>) -> Node {
    use jsonc_parser::common::Ranged;
    let start = key_start.unwrap_or_else(|| value.start());
    let value = match value {
        ast::Value::NullKeyword(_) => Json::Null,
        ast::Value::BooleanLit(b) => Json::Bool(b.value),
        ast::Value::NumberLit(n) => Json::Number(n.value.to_owned()),
        ast::Value::StringLit(s) => Json::String(s.value.to_string()),
        ast::Value::Array(a) => {
            Json::Array(a.elements.iter().map(|v| convert(v, index, None)).collect())
        }
        ast::Value::Object(o) => Json::Object(
            o.properties
                .iter()
                .map(|p| {
                    (
                        p.name.as_str().to_owned(),
                        convert(&p.value, index, Some(p.range.start)),
                    )
                })
                .collect(),
        ),
    };
    Node {
        line: index.line(start),
        value,
    }
}

impl Node {
    /// Member `key` of an object (the first one, as JSON parsers keep the last — duplicates
    /// are rare enough in manifests not to matter here).
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn members(&self) -> &[(String, Node)] {
        match &self.value {
            Json::Object(members) => members,
            _ => &[],
        }
    }

    pub fn elements(&self) -> &[Node] {
        match &self.value {
            Json::Array(items) => items,
            _ => &[],
        }
    }

    /// Strings of an array, or the single string (for fields like `extends` that take both).
    pub fn strings(&self) -> Vec<&str> {
        match &self.value {
            Json::String(s) => vec![s.as_str()],
            Json::Array(items) => items.iter().filter_map(Node::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_json_keeps_lines() {
        let text = "{\n  \"name\": \"x\",\n  \"dependencies\": {\n    \"next\": \"15.1.0\"\n  }\n}";
        let (node, err) = parse(text, Dialect::Json);
        assert!(err.is_none());
        let node = node.unwrap();
        let next = node.get("dependencies").unwrap().get("next").unwrap();
        assert_eq!(next.as_str(), Some("15.1.0"));
        assert_eq!(next.line, 4);
    }

    #[test]
    fn trailing_comma_in_json_is_reported_but_read() {
        let text = "{\n  \"a\": 1,\n}";
        let (node, err) = parse(text, Dialect::Json);
        assert!(node.is_some());
        // The strict parser points at the offending comma.
        assert_eq!(err.unwrap().line, 2);
    }

    #[test]
    fn jsonc_accepts_comments_and_trailing_commas() {
        let text = "{\n // c\n \"compilerOptions\": { /* x */ \"baseUrl\": \".\", },\n}";
        let (node, err) = parse(text, Dialect::Jsonc);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(
            node.unwrap()
                .get("compilerOptions")
                .unwrap()
                .get("baseUrl")
                .unwrap()
                .as_str(),
            Some(".")
        );
    }

    #[test]
    fn broken_json_gives_position() {
        let (node, err) = parse("{\n  \"a\": [1, 2\n", Dialect::Json);
        assert!(node.is_none());
        let err = err.unwrap();
        assert!(err.line >= 2, "{err:?}");
    }
}
