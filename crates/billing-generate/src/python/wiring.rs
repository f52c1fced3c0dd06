//! Registers the generated glue in the user's app with the smallest possible edit:
//! one import and one `install_billing(app)` call (FastAPI, Flask), or a settings / URLconf
//! entry (Django). Shapes this code does not recognise are left untouched and become a
//! [`ManualStep`] with the exact lines to add.

use billing_changeset::{ChangeSet, FileChange, ManualStep};

use super::layout::{PythonFramework, PythonLayout};
use super::{PACKAGE, read_optional};
use crate::{GenerateError, Target};

pub fn register(
    target: &Target<'_>,
    layout: &PythonLayout,
    webhooks: bool,
) -> Result<ChangeSet, GenerateError> {
    let mut changes = ChangeSet::default();
    // Always registered: besides API calls, the middleware names each request's customer for
    // call sites that have no user id of their own (`current_customer_id()`).
    match layout.framework {
        PythonFramework::FastApi | PythonFramework::Flask => {
            register_install_call(target, layout, &mut changes)?;
            register_other_apps(target, layout, &mut changes)?;
        }
        PythonFramework::Django => {
            register_django_middleware(target, layout, &mut changes)?;
            if webhooks {
                register_django_urls(target, layout, &mut changes)?;
            }
        }
        _ => {}
    }
    Ok(changes)
}

fn register_install_call(
    target: &Target<'_>,
    layout: &PythonLayout,
    changes: &mut ChangeSet,
) -> Result<(), GenerateError> {
    let app = &layout.app_variable;
    let constructor = if layout.framework == PythonFramework::FastApi {
        "FastAPI"
    } else {
        "Flask"
    };
    let import = if layout.entry_in_package {
        format!("from .{PACKAGE}.integration import install_billing")
    } else {
        format!("from {}.integration import install_billing", layout.module)
    };
    let manual = |file: &str, line: Option<u32>| ManualStep {
        file: file.to_owned(),
        line,
        instructions: format!(
            "Import `install_billing` and call it once right after `{app} = {constructor}(...)`"
        ),
        snippet: Some(format!("{import}\n\ninstall_billing({app})")),
    };
    let Some(entry) = &layout.entry_file else {
        changes
            .manual_steps
            .push(match sample_apps(target).as_slice() {
                [] => manual("the file that creates your app", None),
                // openai-quickstart-flask: each sample is its own app, run from its own folder,
                // which cannot import a package generated here; the sample-app steps say how to
                // choose one, and setting that one up registers billing in its own file.
                samples => ManualStep {
                    file: target.package.path.clone(),
                    line: None,
                    instructions: format!(
                        "No app is created outside the sample apps ({}), so billing was registered \
                     on none: choose the app you run with `spaire-billing setup --package <its \
                     folder>`, which generates the package beside that app and adds \
                     `install_billing({app})` after its `{app} = {constructor}(...)`",
                        samples
                            .iter()
                            .map(|s| format!("`{s}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    snippet: None,
                },
            });
        return Ok(());
    };
    let Some(source) = read_optional(target, entry)? else {
        changes.manual_steps.push(manual(entry, None));
        return Ok(());
    };
    if source.contains("install_billing(") {
        return Ok(());
    }
    match insert_install_call(&source, app, constructor, &import) {
        Some(after) => changes.files.push(FileChange::wired_edit(
            entry.clone(),
            source,
            after,
            format!("registers billing on `{app}` (one import, one call)"),
        )),
        None => changes.manual_steps.push(manual(entry, None)),
    }
    Ok(())
}

fn constructor(layout: &PythonLayout) -> &'static str {
    if layout.framework == PythonFramework::FastApi {
        "FastAPI"
    } else {
        "Flask"
    }
}

/// Files other than the entry that build an app of their own at module level
/// (`app = FastAPI(...)`, pydantic-ai's `chat_app.py` beside the entry `realtime_camera/app.py`)
/// and hold a call site: each gets `install_billing` too, so the middleware names the customer
/// of the requests that app serves. Each with its app variable and text. Wiring uses
/// current_customer_id() in exactly these files ([`other_app_files`]).
fn other_apps(
    target: &Target<'_>,
    layout: &PythonLayout,
) -> Result<Vec<(String, String, String)>, GenerateError> {
    if !matches!(
        layout.framework,
        PythonFramework::FastApi | PythonFramework::Flask
    ) {
        return Ok(Vec::new());
    }
    let mut files: Vec<&str> = target
        .package
        .call_sites
        .iter()
        .filter(|s| s.kind != billing_detect::CallSiteKind::RouteHandler)
        .map(|s| s.file.as_str())
        .filter(|f| Some(*f) != layout.entry_file.as_deref())
        .collect();
    files.sort_unstable();
    files.dedup();
    let mut out = Vec::new();
    for file in files {
        let Some(source) = read_optional(target, file)? else {
            continue;
        };
        if let Some(app) = module_level_app(&source, constructor(layout)) {
            out.push((file.to_owned(), app, source));
        }
    }
    Ok(out)
}

/// The files [`other_apps`] registers billing on (paths relative to the project root).
pub fn other_app_files(
    target: &Target<'_>,
    layout: &PythonLayout,
) -> Result<Vec<String>, GenerateError> {
    Ok(other_apps(target, layout)?
        .into_iter()
        .map(|(file, _, _)| file)
        .collect())
}

/// The variable of a module-level `name = Constructor(...)` / `name = module.Constructor(...)`
/// that [`insert_install_call`] can register on.
fn module_level_app(source: &str, constructor: &str) -> Option<String> {
    source
        .lines()
        .find_map(|line| {
            let (name, rest) = line.split_once('=')?;
            let name = name.split(':').next()?.trim_end();
            let valid = !name.is_empty()
                && !line.starts_with(char::is_whitespace)
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            let rest = rest.trim_start();
            let call = rest.strip_prefix(constructor).or_else(|| {
                rest.strip_prefix(&format!("{}.{constructor}", constructor.to_lowercase()))
            })?;
            (valid && call.starts_with('(')).then(|| name.to_owned())
        })
        .filter(|app| insert_install_call(source, app, constructor, "import x").is_some())
}

fn register_other_apps(
    target: &Target<'_>,
    layout: &PythonLayout,
    changes: &mut ChangeSet,
) -> Result<(), GenerateError> {
    let import = format!("from {}.integration import install_billing", layout.module);
    for (file, app, source) in other_apps(target, layout)? {
        if source.contains("install_billing(") {
            continue;
        }
        if let Some(after) = insert_install_call(&source, &app, constructor(layout), &import) {
            changes.files.push(FileChange::wired_edit(
                file,
                source,
                after,
                format!(
                    "registers billing on `{app}` too (it serves a call site that is wired \
                     with the request's customer)"
                ),
            ));
        }
    }
    Ok(())
}

/// The folders of the package's sample apps (`examples/<name>/`), which detection reports as
/// packages of their own when there is no app outside them.
fn sample_apps(target: &Target<'_>) -> Vec<String> {
    target
        .profile
        .packages
        .iter()
        .filter(|p| p.sample_of.as_deref() == Some(target.package.path.as_str()))
        .map(|p| p.path.clone())
        .collect()
}

/// Adds `import` after the top-level imports and `install_billing(app)` after the statement
/// `app = Constructor(...)` (same indentation, so app factories work too).
pub(crate) fn insert_install_call(
    source: &str,
    app: &str,
    constructor: &str,
    import: &str,
) -> Option<String> {
    let lines: Vec<&str> = source.split_inclusive('\n').collect();
    let (start, end) = find_assignment(&lines, app, constructor)?;
    let indent: String = lines[start]
        .chars()
        .take_while(|c| c.is_whitespace())
        .collect();
    let newline = billing_detect::text::newline(source);
    let import_after = last_top_level_import(&lines[..start]);

    let mut out = String::with_capacity(source.len() + 120);
    for (i, line) in lines.iter().enumerate() {
        out.push_str(line);
        if !line.ends_with('\n') {
            out.push_str(newline);
        }
        if Some(i) == import_after {
            out.push_str(import);
            out.push_str(newline);
        }
        if i == end {
            if import_after.is_none() {
                out.push_str(&indent);
                out.push_str(import);
                out.push_str(newline);
            }
            out.push_str(&indent);
            out.push_str(&format!("install_billing({app})"));
            out.push_str(newline);
        }
    }
    Some(out)
}

/// First and last line of `app = Constructor(...)`, following the call's parentheses.
fn find_assignment(lines: &[&str], app: &str, constructor: &str) -> Option<(usize, usize)> {
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let Some(rest) = trimmed.strip_prefix(app) else {
            continue;
        };
        let rest = rest.trim_start();
        let rest = match rest.strip_prefix(':') {
            // `app: FastAPI = FastAPI(...)`
            Some(annotated) => annotated.split_once('=').map(|(_, r)| r)?,
            None => rest.strip_prefix('=')?,
        };
        let rest = rest.trim_start();
        let call = rest.strip_prefix(constructor).or_else(|| {
            rest.strip_prefix(&format!("{}.{constructor}", constructor.to_lowercase()))
        })?;
        if !call.trim_start().starts_with('(') {
            continue;
        }
        let mut depth = 0i32;
        for (j, text) in lines.iter().enumerate().skip(i) {
            let code = if j == i {
                &text[text.find(constructor)?..]
            } else {
                text
            };
            depth += paren_delta(code);
            if depth <= 0 {
                return Some((i, j));
            }
        }
        return None;
    }
    None
}

/// Net parentheses opened on a line, ignoring string literals and comments.
fn paren_delta(code: &str) -> i32 {
    let mut delta = 0;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in code.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '#' => break,
            '"' | '\'' => quote = Some(c),
            '(' | '[' | '{' => delta += 1,
            ')' | ']' | '}' => delta -= 1,
            _ => {}
        }
    }
    delta
}

/// Index of the last line of the last top-level `import` / `from` statement.
fn last_top_level_import(lines: &[&str]) -> Option<usize> {
    let mut last = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.starts_with("import ") || line.starts_with("from ") {
            let mut depth = paren_delta(line);
            let mut j = i;
            while (depth > 0 || lines[j].trim_end().ends_with('\\')) && j + 1 < lines.len() {
                j += 1;
                depth += paren_delta(lines[j]);
            }
            last = Some(j);
            i = j + 1;
        } else {
            i += 1;
        }
    }
    last
}

const MIDDLEWARE_MARKER: &str = "spaire_billing.middleware.ApiCallMiddleware";

fn register_django_middleware(
    target: &Target<'_>,
    layout: &PythonLayout,
    changes: &mut ChangeSet,
) -> Result<(), GenerateError> {
    let snippet = format!(
        "# Added by spaire-billing: names each request's customer for usage billing.\n\
         MIDDLEWARE = [*MIDDLEWARE, \"{MIDDLEWARE_MARKER}\"]\n"
    );
    let manual = |file: &str| ManualStep {
        file: file.to_owned(),
        line: None,
        instructions: "Add the billing middleware at the end of `MIDDLEWARE` in your settings"
            .to_owned(),
        snippet: Some(snippet.clone()),
    };
    let Some(settings) = &layout.settings_file else {
        changes
            .manual_steps
            .push(manual("your Django settings module"));
        return Ok(());
    };
    let chain = settings_chain(target, layout, settings)?;
    if chain.is_empty() {
        changes.manual_steps.push(manual(settings));
        return Ok(());
    }
    if chain
        .iter()
        .any(|(_, text)| text.contains(MIDDLEWARE_MARKER))
    {
        return Ok(());
    }
    // Split settings (base / dev / production): the module every environment star-imports
    // is the one that defines MIDDLEWARE first; appending to the development module the app
    // happens to name would leave production unmetered.
    let Some((settings, source)) = chain
        .iter()
        .rev()
        .find(|(_, text)| text.lines().any(|l| l.starts_with("MIDDLEWARE")))
        .cloned()
    else {
        changes.manual_steps.push(manual(settings));
        return Ok(());
    };
    let settings = &settings;
    let mut after = source.clone();
    if !after.ends_with('\n') {
        after.push('\n');
    }
    after.push('\n');
    after.push_str(&snippet);
    changes.files.push(FileChange::wired_edit(
        settings.clone(),
        source,
        after,
        "adds the billing middleware at the end of MIDDLEWARE".to_owned(),
    ));
    Ok(())
}

const URLS_ENTRY: &str = "path(\"\", include(\"spaire_billing.urls\")),";

fn register_django_urls(
    target: &Target<'_>,
    layout: &PythonLayout,
    changes: &mut ChangeSet,
) -> Result<(), GenerateError> {
    let chain = match &layout.settings_file {
        Some(settings) => settings_chain(target, layout, settings)?,
        None => Vec::new(),
    };
    let urlconf = {
        // The nearest module of the chain that sets it (a dev module may override the base).
        let module = chain.iter().find_map(|(_, text)| {
            text.lines().find_map(|line| {
                let rest = line
                    .strip_prefix("ROOT_URLCONF")?
                    .trim_start()
                    .strip_prefix('=')?;
                Some(rest.trim().trim_matches(['"', '\'']).to_owned())
            })
        });
        let root = settings_root(layout);
        module.map(|module| super::join(&root, &format!("{}.py", module.replace('.', "/"))))
    };
    let manual = |file: &str| ManualStep {
        file: file.to_owned(),
        line: None,
        instructions: "Add the Spaire webhook URLs to `urlpatterns` in your root URLconf"
            .to_owned(),
        snippet: Some(format!(
            "from django.urls import include, path\n\n    {URLS_ENTRY}"
        )),
    };
    let Some(urlconf) = urlconf else {
        changes
            .manual_steps
            .push(manual("your root URLconf (ROOT_URLCONF)"));
        return Ok(());
    };
    let Some(source) = read_optional(target, &urlconf)? else {
        changes.manual_steps.push(manual(&urlconf));
        return Ok(());
    };
    if source.contains("spaire_billing.urls") {
        return Ok(());
    }
    match insert_url_entry(&source) {
        Some(after) => changes.files.push(FileChange::wired_edit(
            urlconf,
            source,
            after,
            "routes the Spaire webhook endpoint".to_owned(),
        )),
        None => changes.manual_steps.push(manual(&urlconf)),
    }
    Ok(())
}

/// The settings module and the modules it star-imports, in that order (`from .base import *`,
/// `from config.settings.base import *`), each with its text; at most 8, no cycles.
fn settings_chain(
    target: &Target<'_>,
    layout: &PythonLayout,
    settings: &str,
) -> Result<Vec<(String, String)>, GenerateError> {
    let root = settings_root(layout);
    let mut chain: Vec<(String, String)> = Vec::new();
    let mut next = Some(settings.to_owned());
    while let Some(path) = next.take() {
        if chain.len() >= 8 || chain.iter().any(|(p, _)| *p == path) {
            break;
        }
        let Some(text) = read_optional(target, &path)? else {
            break;
        };
        next = star_import(&text).map(|module| {
            let dots = module.chars().take_while(|c| *c == '.').count();
            if dots == 0 {
                super::join(&root, &format!("{}.py", module.replace('.', "/")))
            } else {
                let mut dir: Vec<&str> = path.split('/').collect();
                dir.pop();
                for _ in 1..dots {
                    dir.pop();
                }
                let rest = module[dots..].replace('.', "/");
                super::join(&dir.join("/"), &format!("{rest}.py"))
            }
        });
        let included = split_settings_includes(&text);
        let dir = path.rsplit_once('/').map_or(".", |(d, _)| d).to_owned();
        chain.push((path, text));
        // django-split-settings: `include('base.py', 'custom.py', ...)` runs the files in one
        // namespace, later ones overriding earlier ones; nearest (last) first, like the chain.
        for file in included.iter().rev() {
            let file = super::join(&dir, file);
            if chain.len() < 24
                && !chain.iter().any(|(p, _)| *p == file)
                && let Some(text) = read_optional(target, &file)?
            {
                chain.push((file, text));
            }
        }
    }
    Ok(chain)
}

/// The files a django-split-settings `include(...)` names directly (`'base.py'`), in order;
/// `optional(...)` entries and glob patterns are left out (they may not exist).
fn split_settings_includes(text: &str) -> Vec<String> {
    if !text.contains("split_settings") {
        return Vec::new();
    }
    let Some(start) = text
        .match_indices("include(")
        .map(|(i, _)| i)
        .find(|&i| i == 0 || text[..i].ends_with('\n'))
    else {
        return Vec::new();
    };
    let mut files = Vec::new();
    let mut depth = 0;
    let mut chars = text[start + "include".len()..].chars();
    while let Some(c) = chars.next() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '"' | '\'' => {
                let literal: String = chars.by_ref().take_while(|x| *x != c).collect();
                if depth == 1 && literal.ends_with(".py") && !literal.contains('*') {
                    files.push(literal);
                }
            }
            _ => {}
        }
    }
    files
}

/// The module of the first top-level `from X import *` (the settings a split module extends).
fn star_import(text: &str) -> Option<&str> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix("from ")?;
        let (module, names) = rest.split_once(" import ")?;
        let names = names.split('#').next()?.trim();
        (names == "*" && !module.trim().is_empty()).then(|| module.trim())
    })
}

/// Directory that dotted Django module paths are relative to (where manage.py lives).
fn settings_root(layout: &PythonLayout) -> String {
    layout
        .package_dir
        .strip_suffix(PACKAGE)
        .map(|dir| dir.trim_end_matches('/').to_owned())
        .filter(|dir| !dir.is_empty())
        .unwrap_or_else(|| ".".to_owned())
}

/// Adds the include as the first entry of `urlpatterns = [` and makes sure `include` is
/// imported from `django.urls`.
pub(crate) fn insert_url_entry(source: &str) -> Option<String> {
    let lines: Vec<&str> = source.split_inclusive('\n').collect();
    let list = lines.iter().position(|l| {
        let t = l.trim_end();
        t.starts_with("urlpatterns") && t.ends_with('[')
    })?;
    let import = lines
        .iter()
        .position(|l| l.starts_with("from django.urls import "))?;
    let import_line = lines[import].trim_end();
    let names = import_line.strip_prefix("from django.urls import ")?;
    if names.contains('(') {
        return None;
    }
    let mut names: Vec<&str> = names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    // The user's line stays as written unless a name is missing; a missing one goes where
    // isort would put it when the names are sorted, else at the end.
    let sorted = names.windows(2).all(|pair| pair[0] <= pair[1]);
    let missing: Vec<&str> = ["include", "path"]
        .into_iter()
        .filter(|name| !names.contains(name))
        .collect();
    for name in &missing {
        let at = if sorted {
            names.partition_point(|existing| existing < name)
        } else {
            names.len()
        };
        names.insert(at, name);
    }
    let newline = billing_detect::text::newline(source);
    let mut out = String::with_capacity(source.len() + 80);
    for (i, line) in lines.iter().enumerate() {
        if i == import && !missing.is_empty() {
            out.push_str(&format!(
                "from django.urls import {}{newline}",
                names.join(", ")
            ));
            continue;
        }
        out.push_str(line);
        if i == list {
            out.push_str(&format!("    {URLS_ENTRY}{newline}"));
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_call_follows_a_multiline_constructor_and_the_imports() {
        let source = "\"\"\"App.\"\"\"\nfrom fastapi import FastAPI\nimport os\n\napp = FastAPI(\n    title=\"x (y)\",  # (\n)\n\n@app.get(\"/\")\ndef root() -> str:\n    return os.getcwd()\n";
        let out = insert_install_call(
            source,
            "app",
            "FastAPI",
            "from .spaire_billing.integration import install_billing",
        )
        .unwrap();
        assert_eq!(
            out,
            "\"\"\"App.\"\"\"\nfrom fastapi import FastAPI\nimport os\nfrom .spaire_billing.integration import install_billing\n\napp = FastAPI(\n    title=\"x (y)\",  # (\n)\ninstall_billing(app)\n\n@app.get(\"/\")\ndef root() -> str:\n    return os.getcwd()\n"
        );
    }

    #[test]
    fn install_call_works_inside_an_app_factory() {
        let source = "from flask import Flask\n\ndef create_app() -> Flask:\n    app = Flask(__name__)\n    return app\n";
        let out = insert_install_call(
            source,
            "app",
            "Flask",
            "from .spaire_billing.integration import install_billing",
        )
        .unwrap();
        assert_eq!(
            out,
            "from flask import Flask\nfrom .spaire_billing.integration import install_billing\n\ndef create_app() -> Flask:\n    app = Flask(__name__)\n    install_billing(app)\n    return app\n"
        );
    }

    #[test]
    fn unknown_app_shape_is_not_edited() {
        assert!(insert_install_call("application = make()\n", "app", "Flask", "x").is_none());
        assert!(insert_install_call("app = Flask(\n", "app", "Flask", "x").is_none());
    }

    #[test]
    fn star_import_names_the_module_a_split_settings_file_extends() {
        assert_eq!(
            star_import("\"\"\"Prod.\"\"\"\nfrom .base import *  # noqa\nDEBUG = False\n"),
            Some(".base")
        );
        assert_eq!(
            star_import("from config.settings.base import *\n"),
            Some("config.settings.base")
        );
        assert_eq!(star_import("from .base import DEBUG\n"), None);
    }

    #[test]
    fn url_entry_goes_into_the_list_and_include_is_imported() {
        let source = "from django.contrib import admin\nfrom django.urls import path\n\nurlpatterns = [\n    path(\"admin/\", admin.site.urls),\n]\n";
        assert_eq!(
            insert_url_entry(source).unwrap(),
            "from django.contrib import admin\nfrom django.urls import include, path\n\nurlpatterns = [\n    path(\"\", include(\"spaire_billing.urls\")),\n    path(\"admin/\", admin.site.urls),\n]\n"
        );
        assert!(insert_url_entry("urlpatterns = [p]\n").is_none());
    }

    /// IntelliChat writes `from django.urls import path, include`: it already has both, so
    /// the line is left exactly as written; an unsorted line missing `include` gets it last.
    #[test]
    fn a_django_urls_import_that_has_the_names_is_left_as_written() {
        let source = "from django.urls import path, include\n\nurlpatterns = [\n    path(\"\", include(\"chatbot.urls\")),\n]\n";
        let out = insert_url_entry(source).unwrap();
        assert!(
            out.starts_with("from django.urls import path, include\n"),
            "{out}"
        );
        let out = insert_url_entry("from django.urls import re_path, path\n\nurlpatterns = [\n]\n")
            .unwrap();
        assert!(
            out.starts_with("from django.urls import re_path, path, include\n"),
            "{out}"
        );
    }
}
