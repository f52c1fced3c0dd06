//! Combining producers' edits of the same file.
//!
//! Code generation (registering middleware in `src/app.ts`) and call-site wiring (recording
//! usage after a `generateText` call in the same file) both read the file as it is on disk and
//! return its full new text. Applying one after the other would fail the second's "file
//! unchanged since the plan" check, so their edits are merged line-wise against the common
//! original (a 3-way merge). Overlapping edits are a real conflict: the first producer's edit
//! wins and the second becomes a manual step with its diff, never a silent loss.

use similar::{Algorithm, DiffOp, capture_diff_slices};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Edit<'a> {
    start: usize,
    end: usize,
    lines: Vec<&'a str>,
}

fn edits<'a>(base: &[&str], new: &[&'a str]) -> Vec<Edit<'a>> {
    capture_diff_slices(Algorithm::Myers, base, new)
        .into_iter()
        .filter_map(|op| match op {
            DiffOp::Equal { .. } => None,
            DiffOp::Delete {
                old_index, old_len, ..
            } => Some(Edit {
                start: old_index,
                end: old_index + old_len,
                lines: Vec::new(),
            }),
            DiffOp::Insert {
                old_index,
                new_index,
                new_len,
            } => Some(Edit {
                start: old_index,
                end: old_index,
                lines: new[new_index..new_index + new_len].to_vec(),
            }),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => Some(Edit {
                start: old_index,
                end: old_index + old_len,
                lines: new[new_index..new_index + new_len].to_vec(),
            }),
        })
        .collect()
}

fn conflicts(x: &Edit<'_>, y: &Edit<'_>) -> bool {
    if x == y {
        return false;
    }
    let both_insert_here = x.start == x.end && y.start == y.end && x.start == y.start;
    if both_insert_here && only_imports(&x.lines) && only_imports(&y.lines) {
        // Two producers each adding an import after the file's last import (API-call
        // wrapping and call-site wiring of one Next.js route): both belong there.
        return false;
    }
    both_insert_here || (x.start < y.end && y.start < x.end)
}

/// Inserted lines that are import statements (and blank lines), nothing else.
fn only_imports(lines: &[&str]) -> bool {
    lines.iter().any(|l| !l.trim().is_empty())
        && lines.iter().all(|l| {
            let l = l.trim();
            l.is_empty()
                || (l.starts_with("import ") && !l.starts_with("import("))
                // Python: `from x import y` (registration and wiring of one FastAPI file).
                || (l.starts_with("from ") && l.contains(" import ") && !l.ends_with('('))
        })
}

/// Merges `a` and `b`, both edits of `base`. `None` when their edits overlap.
pub fn merge3(base: &str, a: &str, b: &str) -> Option<String> {
    if a == base {
        return Some(b.to_owned());
    }
    if b == base || a == b {
        return Some(a.to_owned());
    }
    let base_lines: Vec<&str> = base.split_inclusive('\n').collect();
    let a_lines: Vec<&str> = a.split_inclusive('\n').collect();
    let b_lines: Vec<&str> = b.split_inclusive('\n').collect();
    let ea = edits(&base_lines, &a_lines);
    let eb = edits(&base_lines, &b_lines);
    for x in &ea {
        if eb.iter().any(|y| conflicts(x, y)) {
            return None;
        }
    }
    let mut all: Vec<Edit<'_>> = ea;
    for y in eb {
        if !all.contains(&y) {
            all.push(y);
        }
    }
    // Insertions before replacements starting at the same line.
    all.sort_by_key(|e| (e.start, e.end != e.start));
    let mut out = String::with_capacity(a.len() + b.len() - base.len().min(a.len() + b.len()));
    let mut at = 0;
    for edit in &all {
        for line in &base_lines[at..edit.start] {
            out.push_str(line);
        }
        for line in &edit.lines {
            out.push_str(line);
        }
        at = at.max(edit.end);
    }
    for line in &base_lines[at..] {
        out.push_str(line);
    }
    // A file whose last line lost or gained its newline: the merge keeps each side's line
    // endings because it copies whole lines, including the final one.
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "import x from 'x';\n\nconst app = express();\n\napp.get('/', h);\n\nconst r = await generateText(opts);\nres.send(r.text);\n";

    #[test]
    fn edits_in_different_places_both_survive() {
        let a = BASE.replace(
            "const app = express();\n",
            "const app = express();\napp.use(apiCalls);\n",
        );
        let b = BASE.replace(
            "const r = await generateText(opts);\n",
            "const r = await generateText(opts);\nrecordLlmUsage(id, r.totalUsage);\n",
        );
        let merged = merge3(BASE, &a, &b).unwrap();
        assert_eq!(
            merged,
            BASE.replace(
                "const app = express();\n",
                "const app = express();\napp.use(apiCalls);\n"
            )
            .replace(
                "const r = await generateText(opts);\n",
                "const r = await generateText(opts);\nrecordLlmUsage(id, r.totalUsage);\n"
            )
        );
    }

    #[test]
    fn identical_edits_are_applied_once() {
        let a = format!("import {{ u }} from './u';\n{BASE}");
        let b = a.replace("app.get", "app.post");
        let merged = merge3(BASE, &a, &b).unwrap();
        assert_eq!(merged.matches("import { u }").count(), 1);
        assert!(merged.contains("app.post"));
    }

    #[test]
    fn imports_added_at_the_same_place_are_both_kept() {
        let base = "import a from 'a';\n\nexport async function POST() {}\n";
        let wrapped = "import a from 'a';\nimport { withApiCalls } from './next';\n\nexport const POST = withApiCalls(async function POST() {});\n";
        let wired = "import a from 'a';\nimport { recordLlmUsage } from './usage';\n\nexport async function POST() {}\n";
        assert_eq!(
            merge3(base, wrapped, wired).as_deref(),
            Some(
                "import a from 'a';\nimport { withApiCalls } from './next';\nimport { recordLlmUsage } from './usage';\n\nexport const POST = withApiCalls(async function POST() {});\n"
            )
        );
        // Python: registering `install_billing` and wiring a call site of one FastAPI file.
        let base = "from fastapi import FastAPI\n\napp = FastAPI()\n";
        let registered = "from fastapi import FastAPI\nfrom .spaire_billing.integration import install_billing\n\napp = FastAPI()\ninstall_billing(app)\n";
        let wired = "from fastapi import FastAPI\nfrom app.spaire_billing.usage import record_agent_run\n\napp = FastAPI()\n";
        assert_eq!(
            merge3(base, registered, wired).as_deref(),
            Some(
                "from fastapi import FastAPI\nfrom .spaire_billing.integration import install_billing\nfrom app.spaire_billing.usage import record_agent_run\n\napp = FastAPI()\ninstall_billing(app)\n"
            )
        );
        // Anything else inserted at the same line still conflicts.
        let code = "import a from 'a';\nconst x = 1;\n\nexport async function POST() {}\n";
        assert_eq!(merge3(base, wrapped, code), None);
    }

    #[test]
    fn overlapping_edits_are_a_conflict() {
        let a = BASE.replace("app.get('/', h);", "app.get('/', a);");
        let b = BASE.replace("app.get('/', h);", "app.get('/', b);");
        assert_eq!(merge3(BASE, &a, &b), None);
        let a = format!("{BASE}// a\n");
        let b = format!("{BASE}// b\n");
        assert_eq!(merge3(BASE, &a, &b), None);
    }
}
