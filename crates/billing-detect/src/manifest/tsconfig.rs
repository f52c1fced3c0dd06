//! `tsconfig.json` / `jsconfig.json` as JSONC, following `extends` (relative files, packages
//! in `node_modules`, or workspace packages when `node_modules` is not installed), the
//! `paths` aliases it ends up with, and which files its program surely contains
//! (`include` / `exclude` / `files`).

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use globset::GlobBuilder;

use super::Problem;
use super::json::{self, Dialect, Node};
use crate::text::read_text;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TsConfig {
    /// `paths` entries: alias, first target (relative to the package dir), and where declared.
    pub paths: Vec<PathAlias>,
    /// `compilerOptions.module`, lower-cased, from the nearest config that sets it.
    pub module: Option<String>,
    /// `compilerOptions.moduleResolution` as written, from the nearest config that sets it.
    pub module_resolution: Option<Setting>,
    /// Every config file read, nearest first (display paths).
    pub chain: Vec<String>,
    pub problems: Vec<Problem>,
    /// `extends` targets that could not be found (e.g. `node_modules` not installed).
    pub unresolved: Vec<String>,
    /// `include`, `exclude` and `files`: each from the nearest config in the chain that sets
    /// it, its patterns relative to that config's directory (as tsc resolves them).
    pub include: Option<FileSpecs>,
    pub exclude: Option<FileSpecs>,
    pub files: Option<FileSpecs>,
    /// `compilerOptions.outDir` (absolute), which tsc excludes when no config sets `exclude`.
    pub out_dir: Option<PathBuf>,
    /// Directory of the loaded config (absolute): the default `include` is everything below.
    pub dir: PathBuf,
}

/// A compiler option's value and where it is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Setting {
    pub value: String,
    /// The declaring config (display path: relative to the root, or absolute outside it).
    pub file: String,
    pub line: u32,
}

/// One of `include` / `exclude` / `files` as the config that declares it wrote it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSpecs {
    pub patterns: Vec<String>,
    /// Directory of the declaring config (absolute): the patterns are relative to it.
    pub dir: PathBuf,
    /// The declaring config (display path).
    pub file: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathAlias {
    pub prefix: String,
    pub target: String,
    pub file: String,
    pub line: u32,
    pub text: String,
}

/// Everything the resolver needs from the rest of the scan.
pub struct Resolver<'a> {
    /// Absolute scan root; display paths are made relative to it.
    pub root: &'a Path,
    /// Workspace package names → absolute directories.
    pub workspace_packages: &'a HashMap<String, PathBuf>,
    pub max_bytes: u64,
}

const MAX_EXTENDS_DEPTH: usize = 16;

struct Layer {
    display: String,
    dir: PathBuf,
    node: Node,
    text: String,
}

impl Resolver<'_> {
    /// Loads `config` (absolute) and its `extends` chain; aliases are made relative to
    /// `package_dir` (absolute).
    pub fn load(&self, config: &Path, package_dir: &Path) -> TsConfig {
        let mut out = TsConfig {
            dir: config.parent().map(Path::to_path_buf).unwrap_or_default(),
            ..TsConfig::default()
        };
        let mut layers: Vec<Layer> = Vec::new();
        let mut queue = vec![config.to_path_buf()];
        let mut seen: Vec<PathBuf> = Vec::new();
        while let Some(path) = queue.pop() {
            if seen.contains(&path) || seen.len() >= MAX_EXTENDS_DEPTH {
                continue;
            }
            seen.push(path.clone());
            let display = self.display(&path);
            let text = match read_text(&path, self.max_bytes) {
                Ok(t) => t,
                Err(skip) => {
                    out.unresolved.push(format!("{display} ({skip})"));
                    continue;
                }
            };
            let (node, err) = json::parse(&text, Dialect::Jsonc);
            if let Some(e) = err {
                out.problems.push(Problem {
                    file: display.clone(),
                    line: e.line,
                    column: e.column,
                    message: e.message,
                });
            }
            let Some(node) = node else { continue };
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            // `extends: [A, B]` means B (and B's own bases) override A. Reading nearest-first
            // from a stack: push A then B, so B and its chain are read before A.
            let extends: Vec<String> = node
                .get("extends")
                .map(|e| e.strings().into_iter().map(str::to_owned).collect())
                .unwrap_or_default();
            out.chain.push(display.clone());
            layers.push(Layer {
                display,
                dir: dir.clone(),
                node,
                text,
            });
            for spec in extends {
                match self.resolve_extends(&dir, &spec) {
                    Some(p) => queue.push(p),
                    None => out.unresolved.push(spec),
                }
            }
        }
        // Nearest config wins: the first layer that sets a key decides it.
        let options = |layer: &'_ Layer| layer.node.get("compilerOptions").cloned();
        let mut paths_layer: Option<(usize, Node)> = None;
        let mut base_url: Option<PathBuf> = None;
        for (i, layer) in layers.iter().enumerate() {
            for (key, slot) in [
                ("include", &mut out.include),
                ("exclude", &mut out.exclude),
                ("files", &mut out.files),
            ] {
                if slot.is_none()
                    && let Some(list) = layer.node.get(key)
                {
                    *slot = Some(FileSpecs {
                        patterns: list.strings().into_iter().map(str::to_owned).collect(),
                        dir: layer.dir.clone(),
                        file: layer.display.clone(),
                    });
                }
            }
            let Some(opts) = options(layer) else { continue };
            if out.out_dir.is_none()
                && let Some(o) = opts.get("outDir").and_then(Node::as_str)
            {
                out.out_dir = Some(normalize(&layer.dir.join(o)));
            }
            if out.module.is_none() {
                out.module = opts
                    .get("module")
                    .and_then(Node::as_str)
                    .map(str::to_ascii_lowercase);
            }
            if out.module_resolution.is_none()
                && let Some(node) = opts.get("moduleResolution")
                && let Some(value) = node.as_str()
            {
                out.module_resolution = Some(Setting {
                    value: value.to_owned(),
                    file: layer.display.clone(),
                    line: node.line,
                });
            }
            if base_url.is_none()
                && let Some(b) = opts.get("baseUrl").and_then(Node::as_str)
            {
                base_url = Some(layer.dir.join(b));
            }
            if paths_layer.is_none()
                && let Some(p) = opts.get("paths")
            {
                paths_layer = Some((i, p.clone()));
            }
        }
        if let Some((i, paths)) = paths_layer {
            let layer = &layers[i];
            let base = base_url.unwrap_or_else(|| layer.dir.clone());
            for (prefix, targets) in paths.members() {
                let Some(first) = targets.strings().first().copied() else {
                    continue;
                };
                let abs = normalize(&base.join(first));
                out.paths.push(PathAlias {
                    prefix: prefix.clone(),
                    target: relative(package_dir, &abs),
                    file: layer.display.clone(),
                    line: targets.line,
                    text: crate::text::line_text(&layer.text, targets.line),
                });
            }
        }
        out
    }

    fn resolve_extends(&self, dir: &Path, spec: &str) -> Option<PathBuf> {
        let with_json = |p: PathBuf| -> Option<PathBuf> {
            if p.is_file() {
                return Some(p);
            }
            let mut s = p.clone().into_os_string();
            s.push(".json");
            let j = PathBuf::from(s);
            if j.is_file() {
                return Some(j);
            }
            let t = p.join("tsconfig.json");
            t.is_file().then_some(t)
        };
        if spec.starts_with('.') || Path::new(spec).is_absolute() {
            return with_json(normalize(&dir.join(spec)));
        }
        // A package: node_modules in this directory or any parent, then workspace packages.
        for ancestor in dir.ancestors() {
            let candidate = ancestor.join("node_modules").join(spec);
            if let Some(found) = with_json(candidate) {
                return Some(found);
            }
        }
        let (name, sub) = split_package_spec(spec);
        let pkg_dir = self.workspace_packages.get(name)?;
        if sub.is_empty() {
            with_json(pkg_dir.join("tsconfig.json"))
        } else {
            with_json(pkg_dir.join(sub))
        }
    }

    fn display(&self, path: &Path) -> String {
        match path.strip_prefix(self.root) {
            Ok(rel) => rel.to_string_lossy().replace('\\', "/"),
            Err(_) => path.display().to_string(),
        }
    }
}

/// Folders tsc never enters through a wildcard, and excludes by default.
const PACKAGE_FOLDERS: &[&str] = &["node_modules", "bower_components", "jspm_packages"];

impl TsConfig {
    /// Whether the program of this config surely contains `file` (absolute) on its own, not
    /// only through an import, as tsc decides it: listed in `files`, or matched by `include`
    /// (default: everything below the config when neither is set) and by no `exclude`
    /// (default: the package folders and `outDir`). Conservative: a config with a syntax
    /// error, or an `extends` that could not be read while one of the three is unset (the
    /// missing base might set it), answers "no". An ambient declaration file is seen only
    /// this way.
    pub fn surely_includes(&self, file: &Path) -> bool {
        let all_set = self.include.is_some() && self.exclude.is_some() && self.files.is_some();
        if !self.problems.is_empty() || (!self.unresolved.is_empty() && !all_set) {
            return false;
        }
        let file = normalize(file);
        if let Some(files) = &self.files
            && files
                .patterns
                .iter()
                .any(|f| normalize(&files.dir.join(f)) == file)
        {
            return true;
        }
        let default_include;
        let include = match (&self.include, &self.files) {
            (Some(include), _) => include,
            // `files` without `include`: only the listed files.
            (None, Some(_)) => return false,
            (None, None) => {
                default_include = FileSpecs {
                    patterns: vec!["**/*".to_owned()],
                    dir: self.dir.clone(),
                    file: String::new(),
                };
                &default_include
            }
        };
        if !include
            .patterns
            .iter()
            .any(|p| include_matches(&include.dir, p, &file))
        {
            return false;
        }
        match &self.exclude {
            Some(exclude) => !exclude
                .patterns
                .iter()
                .any(|p| exclude_matches(&exclude.dir, p, &file)),
            None => {
                let defaults = PACKAGE_FOLDERS.iter().map(|d| self.dir.join(d));
                !defaults
                    .chain(self.out_dir.clone())
                    .any(|dir| file.starts_with(dir))
            }
        }
    }
}

/// A tsconfig pattern, made relative (lexically normalised, `/`-separated) and split into
/// its components.
fn pattern_components(pattern: &str) -> Vec<String> {
    normalize(Path::new(pattern))
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect()
}

fn has_wildcard(component: &str) -> bool {
    component.contains(['*', '?'])
}

/// A glob of tsc's pattern language (`*`, `?`, `**/`; nothing else is special) for globset.
fn tsc_glob(components: &[String]) -> Option<globset::GlobMatcher> {
    let mut text = String::new();
    for (i, c) in components.iter().enumerate() {
        if i > 0 {
            text.push('/');
        }
        for ch in c.chars() {
            if matches!(ch, '[' | ']' | '{' | '}' | '\\') {
                text.push('\\');
            }
            text.push(ch);
        }
    }
    GlobBuilder::new(&text)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .ok()
        .map(|g| g.compile_matcher())
}

/// `file` relative to `dir`, as components (`..` where it lies outside).
fn relative_components(dir: &Path, file: &Path) -> Vec<String> {
    relative(dir, file).split('/').map(str::to_owned).collect()
}

/// tsc's `include`: a last component without `.`, `*` or `?` is a directory (all below it),
/// a last `**` matches nothing; a wildcard never enters a folder or file whose name starts
/// with `.`, nor a package folder.
fn include_matches(dir: &Path, pattern: &str, file: &Path) -> bool {
    let mut components = pattern_components(pattern);
    if components.last().is_some_and(|last| last == "**") {
        return false;
    }
    if components
        .last()
        .is_some_and(|last| !has_wildcard(last) && !last.contains('.'))
    {
        components.extend(["**".to_owned(), "*".to_owned()]);
    }
    let rel = relative_components(dir, file);
    let literal = components.iter().take_while(|c| !has_wildcard(c)).count();
    let wild_parts_ok = rel
        .iter()
        .skip(literal)
        .all(|c| !c.starts_with('.') && !PACKAGE_FOLDERS.contains(&c.as_str()));
    wild_parts_ok && tsc_glob(&components).is_some_and(|g| g.is_match(rel.join("/")))
}

/// tsc's `exclude`: a pattern matches the path or any folder above it.
fn exclude_matches(dir: &Path, pattern: &str, file: &Path) -> bool {
    let components = pattern_components(pattern);
    let rel = relative_components(dir, file);
    let Some(glob) = tsc_glob(&components) else {
        return false;
    };
    (1..=rel.len()).any(|n| glob.is_match(rel[..n].join("/")))
}

/// "@scope/name/sub/path.json" → ("@scope/name", "sub/path.json").
fn split_package_spec(spec: &str) -> (&str, &str) {
    let parts = if spec.starts_with('@') { 2 } else { 1 };
    let mut idx = 0;
    for _ in 0..parts {
        match spec[idx..].find('/') {
            Some(i) => idx += i + 1,
            None => return (spec, ""),
        }
    }
    (&spec[..idx - 1], &spec[idx..])
}

/// Lexical normalisation (no filesystem access): removes `.` and resolves `..`.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `to` relative to `from` (both absolute), with `/` separators, "." for the same dir.
pub fn relative(from: &Path, to: &Path) -> String {
    let from: Vec<_> = from.components().collect();
    let to_c: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to_c).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = Vec::new();
    for _ in common..from.len() {
        parts.push("..".to_owned());
    }
    for c in &to_c[common..] {
        parts.push(c.as_os_str().to_string_lossy().into_owned());
    }
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_specs() {
        assert_eq!(
            split_package_spec("@repo/ts/nextjs.json"),
            ("@repo/ts", "nextjs.json")
        );
        assert_eq!(
            split_package_spec("@tsconfig/node20"),
            ("@tsconfig/node20", "")
        );
        assert_eq!(split_package_spec("base/tsconfig"), ("base", "tsconfig"));
    }

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative(Path::new("/a/b"), Path::new("/a/b/src/*")),
            "src/*"
        );
        assert_eq!(relative(Path::new("/a/b"), Path::new("/a/c")), "../c");
        assert_eq!(relative(Path::new("/a/b"), Path::new("/a/b")), ".");
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
    }

    #[test]
    fn follows_extends_and_keeps_nearest_paths() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("apps/web")).unwrap();
        std::fs::create_dir_all(root.join("packages/tsconfig")).unwrap();
        std::fs::write(
            root.join("packages/tsconfig/nextjs.json"),
            "{ // base\n \"compilerOptions\": { \"module\": \"ESNext\", \"moduleResolution\": \"Node\", \"paths\": { \"x/*\": [\"./x/*\"] }, },\n}",
        )
        .unwrap();
        std::fs::write(
            root.join("apps/web/tsconfig.json"),
            "{\n  \"extends\": [\"@repo/tsconfig/nextjs.json\", \"@tsconfig/missing\"],\n  \"compilerOptions\": {\n    /* aliases */\n    \"paths\": { \"@/*\": [\"./src/*\"], },\n  },\n}\n",
        )
        .unwrap();
        let mut ws = HashMap::new();
        ws.insert("@repo/tsconfig".to_owned(), root.join("packages/tsconfig"));
        let r = Resolver {
            root,
            workspace_packages: &ws,
            max_bytes: 1 << 20,
        };
        let cfg = r.load(&root.join("apps/web/tsconfig.json"), &root.join("apps/web"));
        assert!(cfg.problems.is_empty(), "{:?}", cfg.problems);
        assert_eq!(
            cfg.chain,
            ["apps/web/tsconfig.json", "packages/tsconfig/nextjs.json"]
        );
        assert_eq!(cfg.module.as_deref(), Some("esnext"));
        // Inherited, with where it is set (a step can point there).
        assert_eq!(
            cfg.module_resolution,
            Some(Setting {
                value: "Node".to_owned(),
                file: "packages/tsconfig/nextjs.json".to_owned(),
                line: 2,
            })
        );
        assert_eq!(cfg.unresolved, ["@tsconfig/missing"]);
        assert_eq!(cfg.paths.len(), 1);
        assert_eq!(cfg.paths[0].prefix, "@/*");
        assert_eq!(cfg.paths[0].target, "src/*");
        assert_eq!(cfg.paths[0].line, 5);
    }

    #[test]
    fn extends_cycles_terminate() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("a.json"), "{\"extends\": \"./b.json\"}").unwrap();
        std::fs::write(root.join("b.json"), "{\"extends\": \"./a\"}").unwrap();
        let ws = HashMap::new();
        let r = Resolver {
            root,
            workspace_packages: &ws,
            max_bytes: 1 << 20,
        };
        let cfg = r.load(&root.join("a.json"), root);
        assert_eq!(cfg.chain, ["a.json", "b.json"]);
    }

    #[test]
    fn file_lists_come_from_the_nearest_config_that_sets_each() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("web")).unwrap();
        std::fs::create_dir_all(root.join("base")).unwrap();
        std::fs::write(
            root.join("web/tsconfig.json"),
            "{\"extends\": \"../base/tsconfig.json\", \"exclude\": [\"dist\"]}",
        )
        .unwrap();
        std::fs::write(
            root.join("base/tsconfig.json"),
            "{\"include\": [\"src\"], \"exclude\": [\"x\"], \"compilerOptions\": {\"outDir\": \"./out\"}}",
        )
        .unwrap();
        let ws = HashMap::new();
        let r = Resolver {
            root,
            workspace_packages: &ws,
            max_bytes: 1 << 20,
        };
        let cfg = r.load(&root.join("web/tsconfig.json"), &root.join("web"));
        let include = cfg.include.as_ref().unwrap();
        assert_eq!(
            (include.patterns.as_slice(), include.file.as_str()),
            (["src".to_owned()].as_slice(), "base/tsconfig.json")
        );
        assert_eq!(include.dir, root.join("base"));
        let exclude = cfg.exclude.as_ref().unwrap();
        assert_eq!(
            (exclude.patterns.as_slice(), exclude.dir.as_path()),
            (["dist".to_owned()].as_slice(), root.join("web").as_path())
        );
        assert_eq!(cfg.files, None);
        assert_eq!(cfg.out_dir, Some(root.join("base/out")));
        assert_eq!(cfg.dir, root.join("web"));
        assert!(cfg.surely_includes(&root.join("base/src/a.ts")));
        assert!(!cfg.surely_includes(&root.join("web/src/a.ts")));
    }
}
