//! Which `after()` the installed Next.js exports, so the recorder can keep a serverless
//! function alive until usage recorded during a request is sent: `after` from 15.1,
//! `unstable_after` in 15.0 (its release candidates and canaries too), none before 15.
//!
//! Read from the installed or locked `next` (a `^15.0.0` requirement may resolve to 15.5,
//! which no longer exports `unstable_after`), else the requirement.

use std::path::Path;

use super::toolchain::installed_version;

/// The `next/server` export to import, or `None` when the installed Next.js has none.
pub(crate) fn export(root: &Path, package_dir: &str) -> Option<&'static str> {
    let (version, major, source) = installed_version(root, package_dir, "next")?;
    // Only a requirement was found: `^15.0.0` installs the newest 15.x, which has `after`.
    let open_range = !source.contains("node_modules/")
        && source.ends_with("package.json")
        && version.starts_with(['^', '>']);
    if open_range && major == 15 {
        return Some("after");
    }
    for_version(&version, major)
}

fn for_version(version: &str, major: u64) -> Option<&'static str> {
    match major {
        0..=14 => None,
        15 => {
            let minor = version
                .trim_start_matches(|c: char| !c.is_ascii_digit())
                .split('.')
                .nth(1)
                .and_then(|m| {
                    m.chars()
                        .take_while(char::is_ascii_digit)
                        .collect::<String>()
                        .parse::<u64>()
                        .ok()
                });
            match minor {
                Some(0) => Some("unstable_after"),
                _ => Some("after"),
            }
        }
        _ => Some("after"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_export_follows_the_installed_version() {
        assert_eq!(for_version("14.2.3", 14), None);
        assert_eq!(for_version("15.0.0-canary.152", 15), Some("unstable_after"));
        assert_eq!(for_version("15.0.3", 15), Some("unstable_after"));
        assert_eq!(for_version("15.1.0", 15), Some("after"));
        assert_eq!(for_version("15.5.7", 15), Some("after"));
        assert_eq!(for_version("16.0.10", 16), Some("after"));
    }

    #[test]
    fn a_lockfile_wins_over_the_requirement() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("package.json"),
            "{\"dependencies\": {\"next\": \"~15.0.0\"}}",
        )
        .unwrap();
        assert_eq!(export(dir.path(), ""), Some("unstable_after"));
        std::fs::write(
            dir.path().join("package.json"),
            "{\"dependencies\": {\"next\": \"^15.0.0\"}}",
        )
        .unwrap();
        assert_eq!(export(dir.path(), ""), Some("after"));
        std::fs::write(
            dir.path().join("pnpm-lock.yaml"),
            "packages:\n\n  next-auth@5.0.0-beta.25:\n    resolution: {}\n\n  next@15.5.7(react@19.0.0):\n    resolution: {}\n",
        )
        .unwrap();
        assert_eq!(export(dir.path(), ""), Some("after"));
    }
}
