//! The layout of the tool's own JSON files under `.spaire-billing/` (the lock, the journal).
//!
//! Projects that check every file's format (`prettier --check .`, `biome check .`) check these
//! too, and serde's pretty printer puts every array element on its own line where Prettier and
//! Biome keep a short array on one line. So the files are written the way both format JSON by
//! default (Biome with space indentation): two-space indent, every non-empty object expanded
//! (both keep an object expanded when its first key is on its own line), an array of scalars on
//! one line when it fits in 80 columns (with the key before it and the comma after it), and
//! otherwise one element per line. The bytes then pass the project's check as written, with no
//! formatter run (the journal is rewritten several times during one apply).

use serde::Serialize;
use serde_json::Value;

/// Prettier's and Biome's default line width.
const WIDTH: usize = 80;

/// `value` as formatted JSON text with a final newline.
pub fn render<T: Serialize>(value: &T) -> String {
    let value = serde_json::to_value(value).unwrap_or(Value::Null);
    let mut out = String::new();
    write_value(&mut out, &value, 0, 0, 0);
    out.push('\n');
    out
}

/// Writes `value` at `indent` levels; `lead` is the width already on its line (indent, key),
/// `tail` what follows it there (the comma).
fn write_value(out: &mut String, value: &Value, indent: usize, lead: usize, tail: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            let last = map.len() - 1;
            for (i, (key, item)) in map.iter().enumerate() {
                let key = scalar(&Value::String(key.clone()));
                push_indent(out, indent + 1);
                out.push_str(&key);
                out.push_str(": ");
                let comma = usize::from(i != last);
                write_value(
                    out,
                    item,
                    indent + 1,
                    (indent + 1) * 2 + width(&key) + 2,
                    comma,
                );
                if comma == 1 {
                    out.push(',');
                }
                out.push('\n');
            }
            push_indent(out, indent);
            out.push('}');
        }
        Value::Array(items) if !items.is_empty() => {
            if let Some(flat) = flat(value)
                && !breaks(items)
                && lead + width(&flat) + tail <= WIDTH
            {
                out.push_str(&flat);
                return;
            }
            out.push_str("[\n");
            let last = items.len() - 1;
            for (i, item) in items.iter().enumerate() {
                push_indent(out, indent + 1);
                let comma = usize::from(i != last);
                write_value(out, item, indent + 1, (indent + 1) * 2, comma);
                if comma == 1 {
                    out.push(',');
                }
                out.push('\n');
            }
            push_indent(out, indent);
            out.push(']');
        }
        _ => out.push_str(&scalar(value)),
    }
}

/// The one-line form of a value without a non-empty object (`None` with one: an object keeps
/// its keys on their own lines, so an array holding one breaks too).
fn flat(value: &Value) -> Option<String> {
    match value {
        Value::Object(map) if !map.is_empty() => None,
        Value::Array(items) if !items.is_empty() => {
            let parts: Option<Vec<String>> = items.iter().map(flat).collect();
            Some(format!("[{}]", parts?.join(", ")))
        }
        _ => Some(scalar(value)),
    }
}

/// Prettier breaks an array of several arrays (or objects) that each hold more than one
/// element, however short: a matrix reads better one row per line. (Biome keeps a short
/// matrix on one line; the state files hold none, and apply lays the lock out with the
/// project's own formatter anyway.)
fn breaks(items: &[Value]) -> bool {
    items.len() > 1
        && items.iter().all(|item| match item {
            Value::Array(inner) => inner.len() > 1,
            Value::Object(map) => map.len() > 1,
            _ => false,
        })
}

fn scalar(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Columns as the formatters count them: one per character (the files hold ASCII paths,
/// hashes and ids).
fn width(text: &str) -> usize {
    text.chars().count()
}

fn push_indent(out: &mut String, levels: usize) {
    for _ in 0..levels {
        out.push_str("  ");
    }
}

#[cfg(test)]
mod tests {
    use super::render;
    use serde_json::json;

    #[test]
    fn short_arrays_stay_on_one_line_and_objects_expand() {
        let value = json!({
            "version": 1,
            "empty": {},
            "none": [],
            "dirs": ["lib", "lib/spaire"],
            "nested": { "ids": [1, 2], "matrix": [[1, 2], [3, 4]] },
            "records": [{ "a": 1 }],
        });
        assert_eq!(
            render(&value),
            r#"{
  "version": 1,
  "empty": {},
  "none": [],
  "dirs": ["lib", "lib/spaire"],
  "nested": {
    "ids": [1, 2],
    "matrix": [
      [1, 2],
      [3, 4]
    ]
  },
  "records": [
    {
      "a": 1
    }
  ]
}
"#
        );
    }

    #[test]
    fn an_array_breaks_when_its_line_would_pass_80_columns() {
        // `  "k": [` + three quoted 20-character strings + `],`: 80 columns fits, 81 does not.
        let fits = json!({ "k": ["a".repeat(20), "b".repeat(20), "c".repeat(20)], "z": 0 });
        let text = render(&fits);
        let line = text.lines().nth(1).unwrap();
        assert_eq!(line.len(), 80, "{text}");
        assert!(line.ends_with("],"), "{text}");
        let over = json!({ "k": ["a".repeat(20), "b".repeat(20), "c".repeat(21)], "z": 0 });
        assert!(
            render(&over).contains("\"k\": [\n    \""),
            "{}",
            render(&over)
        );
    }

    #[test]
    fn the_text_reads_back_as_the_same_value() {
        let value = json!({ "s": "quote \" and \\ and \u{1}", "n": null, "f": 1.5, "t": true });
        let back: serde_json::Value = serde_json::from_str(&render(&value)).unwrap();
        assert_eq!(back, value);
    }
}
