//! `SPAIRE_*` variable NAMES in `.env*` files. Values are never kept: each line is cut at
//! `=` before anything else looks at it.

use crate::profile::EnvVar;
use crate::scan::Scan;
use crate::text::join_rel;

/// `.env`, `.env.local`, `.env.production`, `.env.example`, ... directly in `dir`.
/// Listed with `read_dir` because `.env` files are usually git-ignored (and the walk honours
/// `.gitignore`).
pub fn spaire_vars(scan: &mut Scan<'_>, dir: &str) -> Vec<EnvVar> {
    let Ok(entries) = std::fs::read_dir(scan.abs(dir)) else {
        return Vec::new();
    };
    let mut files: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n == ".env" || n.starts_with(".env."))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for name in files {
        let rel = join_rel(dir, &name);
        let Some(text) = scan.read(&rel) else {
            continue;
        };
        for line in text.lines() {
            let Some((key, _value)) = line.split_once('=') else {
                continue;
            };
            let key = key.trim().trim_start_matches("export ").trim();
            if key.starts_with("SPAIRE_")
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !out.iter().any(|v: &EnvVar| v.name == key && v.file == rel)
            {
                out.push(EnvVar {
                    name: key.to_owned(),
                    file: rel.clone(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".env.local"),
            "SPAIRE_ACCESS_TOKEN=polar_oat_secret\nexport SPAIRE_SERVER_URL = http://x\nOTHER=1\n# SPAIRE_COMMENTED=1\n",
        )
        .unwrap();
        let inv = crate::walk::Inventory::default();
        let options = crate::DetectOptions::default();
        let mut scan = crate::scan::Scan::new(dir.path().to_path_buf(), &inv, &options);
        let vars = super::spaire_vars(&mut scan, ".");
        let names: Vec<_> = vars.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["SPAIRE_ACCESS_TOKEN", "SPAIRE_SERVER_URL"]);
        let json = serde_json::to_string(&vars).unwrap();
        assert!(!json.contains("secret"));
    }
}
