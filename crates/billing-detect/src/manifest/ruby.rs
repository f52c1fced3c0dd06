//! `Gemfile` (declared gems) and `Gemfile.lock` (resolved versions).

use super::Dependency;
use crate::text::shorten;

/// `gem "name", "~> 7.1"` lines. Gems inside `group :development, :test do` are dev.
pub fn parse_gemfile(file: &str, text: &str) -> Vec<Dependency> {
    let mut out = Vec::new();
    let mut dev_depth: Vec<bool> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.starts_with("group ") && line.ends_with(" do") {
            dev_depth.push(!line.contains(":production") && !line.contains(":default"));
            continue;
        }
        if line.ends_with(" do") {
            dev_depth.push(dev_depth.last().copied().unwrap_or(false));
            continue;
        }
        if line == "end" {
            dev_depth.pop();
            continue;
        }
        let Some(rest) = line.strip_prefix("gem ") else {
            continue;
        };
        let mut args = rest.split(',').map(|a| a.trim().trim_matches(['"', '\'']));
        let Some(name) = args.next().filter(|n| !n.is_empty()) else {
            continue;
        };
        let spec = args
            .next()
            .filter(|a| {
                a.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit() || "~<>=!".contains(c))
            })
            .unwrap_or_default();
        out.push(Dependency {
            name: name.to_owned(),
            spec: spec.to_owned(),
            file: file.to_owned(),
            line: line_no,
            text: shorten(raw.trim(), 100),
            dev: dev_depth.last().copied().unwrap_or(false),
        });
    }
    out
}

/// Resolved version of `gem` from the `specs:` section of a Gemfile.lock ("rails (7.1.3)").
pub fn locked_version(text: &str, gem: &str) -> Option<String> {
    let needle = format!("    {gem} (");
    text.lines()
        .find_map(|l| l.strip_prefix(&needle))
        .map(|rest| rest.trim_end_matches(')').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gems_and_groups() {
        let text = "source \"https://rubygems.org\"\ngem \"rails\", \"~> 7.1.3\"\ngem 'pg'\ngroup :development, :test do\n  gem \"rspec-rails\"\nend\n";
        let g = parse_gemfile("Gemfile", text);
        let d: Vec<_> = g
            .iter()
            .map(|d| (d.name.as_str(), d.spec.as_str(), d.line, d.dev))
            .collect();
        assert_eq!(
            d,
            [
                ("rails", "~> 7.1.3", 2, false),
                ("pg", "", 3, false),
                ("rspec-rails", "", 5, true)
            ]
        );
        assert_eq!(
            locked_version(
                "GEM\n  specs:\n    rails (7.1.3)\n      actioncable (= 7.1.3)\n",
                "rails"
            ),
            Some("7.1.3".into())
        );
    }
}
