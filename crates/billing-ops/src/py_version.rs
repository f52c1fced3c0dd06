//! Python version numbers and the highest version a requirement allows, for pins read from
//! `requirements.txt` (PEP 440), `pyproject.toml` (PEP 621 or Poetry's `^` / `~` / bare
//! versions) and `Pipfile`.

/// A release number compared component by component (`1.42` = `1.42.0`); pre-release and
/// local parts are ignored, which only matters at the boundary itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Version(Vec<u64>);

impl Version {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let parts: Option<Vec<u64>> = text
            .trim()
            .split('.')
            .map(|part| {
                let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
            .collect();
        parts.filter(|p| !p.is_empty()).map(Version)
    }

    pub(crate) fn below(&self, other: &Version) -> bool {
        let len = self.0.len().max(other.0.len());
        let at = |v: &Version, i: usize| v.0.get(i).copied().unwrap_or(0);
        (0..len)
            .map(|i| at(self, i).cmp(&at(other, i)))
            .find(|o| o.is_ne())
            .is_some_and(|o| o.is_lt())
    }
}

/// The upper bound a specifier set puts on the version an installer can select, when it has
/// one. PEP 440: `==X`, `===X` and `<=X` allow X itself, `<X` only what is below it, `~=1.42.0`
/// and `==1.42.*` what is below 1.43. Poetry: a bare `1.42.0` is `==`, `^1.2.3` is below 2,
/// `^0.26` below 0.27, `~1.2.3` below 1.3. `None` when there is no upper bound (the newest is
/// picked) or when it is not read (Poetry's `||` alternatives).
pub(crate) fn upper_bound(spec: &str) -> Option<Bound> {
    if spec.contains("||") {
        return None;
    }
    spec.split(',')
        .filter_map(|clause| {
            let clause = clause.trim();
            let (op, rest) = if clause.starts_with(|c: char| c.is_ascii_digit()) {
                ("==", clause)
            } else {
                ["===", "==", "<=", "~=", "<", "^", "~"]
                    .iter()
                    .find_map(|op| clause.strip_prefix(op).map(|rest| (*op, rest)))?
            };
            if let Some(stem) = rest.trim().strip_suffix(".*") {
                let stem = Version::parse(stem)?;
                return Some(Bound::below(next_release(&stem, stem.0.len())));
            }
            let version = Version::parse(rest)?;
            let len = version.0.len();
            Some(match op {
                "~=" if len >= 2 => Bound::below(next_release(&version, len - 1)),
                "<" => Bound::below(version),
                // The first non-zero component may not change (all zero: the last given).
                "^" => {
                    let fixed = version.0.iter().position(|&c| c != 0).unwrap_or(len - 1);
                    Bound::below(next_release(&version, fixed + 1))
                }
                "~" => Bound::below(next_release(&version, len.min(2))),
                _ => Bound::at(version),
            })
        })
        .reduce(|a, b| if b.tighter_than(&a) { b } else { a })
}

/// The highest version allowed: `version` itself (`inclusive`) or anything below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bound {
    version: Version,
    inclusive: bool,
}

impl Bound {
    fn at(version: Version) -> Self {
        Bound {
            version,
            inclusive: true,
        }
    }

    fn below(version: Version) -> Self {
        Bound {
            version,
            inclusive: false,
        }
    }

    /// Every allowed version is below `v`.
    pub(crate) fn all_below(&self, v: &Version) -> bool {
        if self.inclusive {
            self.version.below(v)
        } else {
            !v.below(&self.version)
        }
    }

    fn tighter_than(&self, other: &Bound) -> bool {
        self.version.below(&other.version)
            || (self.version == other.version && !self.inclusive && other.inclusive)
    }
}

/// The release after `v` at `depth` components (`1.42.0` at depth 2 → `1.43`); every version
/// allowed below it compares below it.
fn next_release(v: &Version, depth: usize) -> Version {
    let mut parts: Vec<u64> = v.0.iter().copied().take(depth.max(1)).collect();
    if let Some(last) = parts.last_mut() {
        *last += 1;
    }
    Version(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn below(spec: &str, version: &str) -> bool {
        upper_bound(spec)
            .unwrap_or_else(|| panic!("{spec} has an upper bound"))
            .all_below(&Version::parse(version).unwrap())
    }

    #[test]
    fn poetry_operators_bound_the_version_as_poetry_reads_them() {
        // Every version `spec` allows is below the second; and the first one it does not.
        for (spec, under, not_under) in [
            ("0.26.0", "0.26.1", "0.26.0"),
            ("^1.2.3", "2.0", "1.9.9"),
            ("^0.26", "0.27", "0.26.9"),
            ("^0.0.3", "0.0.4", "0.0.3"),
            ("^0", "1.0", "0.9"),
            ("~1.2.3", "1.3", "1.2.9"),
            ("~1.2", "1.3", "1.2.9"),
            ("~1", "2.0", "1.9"),
            (">=0.25,<0.27", "0.27", "0.26.9"),
            ("~=2.6.1", "2.7", "2.6.9"),
        ] {
            assert!(below(spec, under), "{spec} < {under}");
            assert!(!below(spec, not_under), "{spec} allows {not_under}");
        }
        for spec in ["*", ">=0.25", "", "^0.26 || ^0.28", "!=0.27.0"] {
            assert_eq!(upper_bound(spec), None, "{spec}");
        }
    }
}
