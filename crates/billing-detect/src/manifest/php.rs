//! `composer.json`.

use super::json::{self, Dialect};
use super::{Dependency, Problem};
use crate::text::Lines;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Composer {
    pub name: Option<String>,
    pub requires: Vec<Dependency>,
}

pub fn parse_composer(file: &str, text: &str) -> (Option<Composer>, Option<Problem>) {
    let (node, err) = json::parse(text, Dialect::Json);
    let problem = err.map(|e| Problem {
        file: file.to_owned(),
        line: e.line,
        column: e.column,
        message: e.message,
    });
    let lines = Lines::new(text);
    let composer = node.map(|root| {
        let mut c = Composer {
            name: root.get("name").and_then(|n| n.as_str()).map(str::to_owned),
            requires: Vec::new(),
        };
        for (section, dev) in [("require", false), ("require-dev", true)] {
            for (name, spec) in root.get(section).map(|s| s.members()).unwrap_or_default() {
                c.requires.push(Dependency {
                    name: name.to_ascii_lowercase(),
                    spec: spec.as_str().unwrap_or_default().to_owned(),
                    file: file.to_owned(),
                    line: spec.line,
                    text: lines.text(spec.line),
                    dev,
                });
            }
        }
        c
    });
    (composer, problem)
}
