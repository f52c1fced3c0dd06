//! Embeds every template under `templates/` in the binary, so a new template file needs no
//! list edited by hand: each generator takes its family's directory from the generated
//! `EMBEDDED` table (`src/render.rs`), and the framework registry (`billing-vocab`) names the
//! templates that belong to each framework.
//!
//! The table is a list of `include_str!` calls, so rustc still tracks each file for
//! rebuilds; `rerun-if-changed` on the directory catches files being added or removed.

use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let root = manifest_dir.join("templates");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();

    let mut table = String::from("pub const EMBEDDED: &[(&str, &str)] = &[\n");
    for file in &files {
        let relative = file
            .strip_prefix(&root)
            .expect("collected under templates/")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let absolute = file
            .to_str()
            .unwrap_or_else(|| panic!("template path {} is not UTF-8; rename it", file.display()));
        table.push_str(&format!(
            "    ({relative:?}, include_str!({absolute:?})),\n"
        ));
    }
    table.push_str("];\n");

    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out_dir.join("templates.rs"), table).expect("OUT_DIR is writable");
    // Cargo reads build-script instructions from stdout.
    #[allow(clippy::print_stdout)]
    {
        println!("cargo::rerun-if-changed=templates");
    }
}

/// Every `*.j2` file under `dir`, recursively.
fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read template directory {}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "j2") {
            out.push(path);
        }
    }
}
