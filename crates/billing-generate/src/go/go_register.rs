//! Registers the generated gin / echo middleware and webhook route in the app's own code, on
//! the router the app really serves: the variable whose `Run` / `Start` /
//! `http.ListenAndServe(addr, router)` call serves requests, right after the statement that
//! builds it. When the app has no shutdown path, `spairebilling.FlushOnSignal` goes first in
//! `main`, so usage queued when SIGTERM arrives is still delivered.
//!
//! Why right after construction: gin copies the engine's middleware into each route when the
//! route is added, so only a `Use` before every route reaches them all; the generated
//! middleware reads the customer the app's auth middleware `c.Set`s after `c.Next()`, so it
//! does not have to come after that middleware. Echo applies `e.Use` to every route at
//! request time, so any statement that builds the served `*echo.Echo` will do.
//!
//! Every edit only inserts whole lines, indented like their neighbours, and imports in a
//! group of their own (or in sorted position in the standard-library group), so a
//! gofmt-clean file stays gofmt-clean. A shape this does not recognise returns `None` and the
//! caller lists the manual step instead.

use billing_detect::FrameworkId;

use super::go_scan;
use crate::Target;

/// The edits, as whole new file texts (root-relative path, text).
#[derive(Debug, Default)]
pub struct Registered {
    pub files: Vec<(String, String)>,
    /// The app's own shutdown path (file, line), where the user still adds the flush.
    pub shutdown: Option<(String, u32)>,
}

/// What the registration inserts for one framework.
struct Names {
    /// Serve methods called on the router (`r.Run(":8080")`).
    serve_methods: &'static [&'static str],
    /// Expressions that build the router; `None`: any call (echo applies `Use` at request
    /// time, so `r := router.New()` is as good as `echo.New()`).
    constructors: Option<&'static [&'static str]>,
    middleware: &'static str,
    webhook: &'static str,
}

fn names(framework: FrameworkId) -> Option<Names> {
    match framework {
        FrameworkId::Gin => Some(Names {
            serve_methods: &["Run", "RunTLS"],
            constructors: Some(&["gin.Default(", "gin.New("]),
            middleware: "{v}.Use(spairebilling.GinAPICallMiddleware())",
            webhook: "{v}.POST(spairebilling.WebhookPath, spairebilling.GinWebhookHandler())",
        }),
        FrameworkId::Echo => Some(Names {
            serve_methods: &["Start", "StartTLS", "StartAutoTLS"],
            constructors: None,
            middleware: "{v}.Use(spairebilling.EchoAPICallMiddleware())",
            webhook: "{v}.POST(spairebilling.WebhookPath, spairebilling.EchoWebhookHandler())",
        }),
        _ => None,
    }
}

/// The identifiers the registration puts in the app's code; any of them already there means
/// the app is registered (a previous apply, or by hand).
pub const REGISTERED_MARKERS: &[&str] = &[
    "spairebilling.GinAPICallMiddleware(",
    "spairebilling.GinWebhookHandler(",
    "spairebilling.EchoAPICallMiddleware(",
    "spairebilling.EchoWebhookHandler(",
];

/// The edits that register the middleware (and webhook route) on the served router of a gin
/// or echo app, or `None` when the app's shape is not one this can edit safely.
pub fn register(
    target: &Target<'_>,
    framework: FrameworkId,
    import: &str,
    api_calls: bool,
    webhooks: bool,
) -> Option<Registered> {
    let names = names(framework)?;
    let files = go_scan::app_files(target);
    if files
        .iter()
        .any(|f| REGISTERED_MARKERS.iter().any(|m| f.text.contains(m)))
    {
        // Nothing left to do; the flush is the user's when the app has its own shutdown.
        return Some(Registered::default());
    }
    // The first serve call whose router is built in the serving function: `server.Run(addr)`
    // in main.go may call the app's own package, whose `engine.Run(addr)` is the real one.
    let (file, def_line, variable) = files.iter().find_map(|f| {
        serve_calls(&f.text, names.serve_methods)
            .into_iter()
            .find_map(|(line, var)| {
                definition_line(&f.text, line, &var, names.constructors).map(|d| (f, d, var))
            })
    })?;
    let lines: Vec<&str> = file.text.split_inclusive('\n').collect();
    let indent: String = lines[def_line]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    let mut statements = Vec::new();
    if api_calls {
        statements.push(names.middleware.replace("{v}", &variable));
    }
    if webhooks {
        statements.push(names.webhook.replace("{v}", &variable));
    }
    if statements.is_empty() {
        return Some(Registered::default());
    }
    let mut edited: Vec<(String, String)> = Vec::new();
    let registered = insert_lines_after(&file.text, def_line, &indent, &statements);
    edited.push((file.path.clone(), registered));

    let shutdown = go_scan::find_shutdown(target);
    if shutdown.is_none() {
        // `main` may live in another file than the router (echo-realworld: router/router.go).
        let (main_index, main_line) = files
            .iter()
            .enumerate()
            .find_map(|(i, f)| main_body_start(&f.text).map(|l| (i, l)))?;
        let main_path = &files[main_index].path;
        let current = edited
            .iter()
            .find(|(p, _)| p == main_path)
            .map_or_else(|| files[main_index].text.clone(), |(_, t)| t.clone());
        let with_flush = insert_lines_after(
            &current,
            main_line,
            "\t",
            &["spairebilling.FlushOnSignal(10 * time.Second)".to_owned()],
        );
        let with_time = add_import(&with_flush, None, "time")?;
        match edited.iter_mut().find(|(p, _)| p == main_path) {
            Some(entry) => entry.1 = with_time,
            None => edited.push((main_path.clone(), with_time)),
        }
    }
    for (_, text) in &mut edited {
        *text = add_import(text, Some("spairebilling"), import)?;
    }
    Some(Registered {
        files: edited,
        shutdown,
    })
}

/// The calls serving a router in `text`: `<var>.Run(` (gin), `<var>.Start(` (echo), also
/// inside another call (`e.Logger.Fatal(e.Start(":1323"))`), or
/// `http.ListenAndServe(addr, <var>)`, or the `Handler: <var>` of an `http.Server` literal;
/// each as its 0-based line and the variable.
fn serve_calls(text: &str, methods: &[&str]) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let code = code_part(line);
        for method in methods {
            let needle = format!(".{method}(");
            let mut from = 0;
            while let Some(at) = code[from..].find(&needle).map(|i| from + i) {
                from = at + needle.len();
                let receiver = identifier_before(code, at);
                // `e.Logger.Start(` or `pkg.Run(` of another package are not the router.
                if let Some(receiver) = receiver
                    && code[..at - receiver.len()]
                        .chars()
                        .last()
                        .is_none_or(|c| c != '.')
                {
                    found.push((index, receiver.to_owned()));
                }
            }
        }
        // `srv := &http.Server{Addr: addr, Handler: router}` then `srv.ListenAndServe()`.
        if text.contains("http.Server{")
            && let Some(at) = code.find("Handler:")
        {
            let handler = code[at + "Handler:".len()..]
                .trim_start()
                .split([',', '}', ' '])
                .next()
                .unwrap_or_default();
            if is_identifier(handler) {
                found.push((index, handler.to_owned()));
            }
        }
        if let Some(at) = code.find("http.ListenAndServe(") {
            let args = &code[at + "http.ListenAndServe(".len()..];
            let args = args.find(')').map_or("", |end| &args[..end]);
            if let Some((_, handler)) = args.rsplit_once(',') {
                let handler = handler.trim();
                if is_identifier(handler) && handler != "nil" {
                    found.push((index, handler.to_owned()));
                }
            }
        }
    }
    found
}

/// The 0-based line of the statement that builds `variable` before `serve_line` in the same
/// function (`r := gin.Default()`), when it is one whole line.
fn definition_line(
    text: &str,
    serve_line: usize,
    variable: &str,
    constructors: Option<&[&str]>,
) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    for index in (0..serve_line).rev() {
        let line = lines[index];
        if line.starts_with("func ") {
            // The router comes from outside the serving function (a parameter, a global).
            return None;
        }
        let code = code_part(line).trim();
        let code = code.strip_prefix("var ").unwrap_or(code);
        let Some((left, right)) = code.split_once(":=").or_else(|| code.split_once(" = ")) else {
            continue;
        };
        if left.trim() != variable {
            continue;
        }
        let right = right.trim();
        let built_here = match constructors {
            Some(list) => list.iter().any(|c| right.starts_with(c)),
            None => is_call(right),
        };
        // The right side must be one call that ends on this line (`gin.New()`), not the
        // start of a multi-line expression, nor `r := &http.Server{...}`.
        return (built_here && balanced_call(right)).then_some(index);
    }
    None
}

/// `pkg.Func(...)` / `Func(...)`.
fn is_call(expr: &str) -> bool {
    let Some(open) = expr.find('(') else {
        return false;
    };
    let callee = &expr[..open];
    !callee.is_empty() && callee.split('.').all(is_identifier)
}

/// The expression is a call whose parentheses close at its end.
fn balanced_call(expr: &str) -> bool {
    let mut depth = 0i32;
    let mut in_string = None;
    for (i, c) in expr.char_indices() {
        match in_string {
            Some(q) => {
                if c == q {
                    in_string = None;
                }
            }
            None => match c {
                '"' | '`' | '\'' => in_string = Some(c),
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        return expr[i + 1..].trim().is_empty();
                    }
                }
                _ => {}
            },
        }
    }
    false
}

/// The 0-based line of `func main() {`, whose body starts on the next line.
fn main_body_start(text: &str) -> Option<usize> {
    if !text.lines().any(|l| l.trim() == "package main") {
        return None;
    }
    text.lines().position(|l| l.trim_end() == "func main() {")
}

/// The line without a trailing `//` comment (outside string literals).
fn code_part(line: &str) -> &str {
    let mut in_string = None;
    let bytes = line.as_bytes();
    for (i, c) in line.char_indices() {
        match in_string {
            Some(q) => {
                if c == q {
                    in_string = None;
                }
            }
            None => match c {
                '"' | '`' | '\'' => in_string = Some(c),
                '/' if bytes.get(i + 1) == Some(&b'/') => return &line[..i],
                _ => {}
            },
        }
    }
    line
}

fn identifier_before(code: &str, at: usize) -> Option<&str> {
    let start = code[..at]
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
        .last()
        .map(|(i, _)| i)?;
    let ident = &code[start..at];
    is_identifier(ident).then_some(ident)
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// `text` with `statements` inserted (indented) after its 0-based line `after`.
fn insert_lines_after(text: &str, after: usize, indent: &str, statements: &[String]) -> String {
    let nl = billing_detect::text::newline(text);
    let mut out = String::with_capacity(text.len() + 128);
    for (index, line) in text.split_inclusive('\n').enumerate() {
        out.push_str(line);
        if index == after {
            if !line.ends_with('\n') {
                out.push_str(nl);
            }
            for statement in statements {
                out.push_str(indent);
                out.push_str(statement);
                out.push_str(nl);
            }
        }
    }
    out
}

/// The import path a spec line imports (`\tfoo "a/b" // c` → `a/b`).
fn spec_path(line: &str) -> Option<&str> {
    let start = line.find('"')? + 1;
    let end = start + line[start..].find('"')?;
    Some(&line[start..end])
}

/// `text` importing `path` (as `alias`): unchanged when it already does; a standard-library
/// path goes in sorted position into the first group when that group is the standard
/// library's, else in a group of its own first; any other path in a group of its own last.
/// A single `import "x"` becomes a block. `None` when the file's imports are not one block or
/// line at the top level.
fn add_import(text: &str, alias: Option<&str>, path: &str) -> Option<String> {
    let nl = billing_detect::text::newline(text);
    let quoted = format!("\"{path}\"");
    let spec = match alias {
        Some(a) => format!("{a} {quoted}"),
        None => quoted.clone(),
    };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let bare = |l: &str| l.trim_end_matches(['\n', '\r']).to_owned();
    let block = lines.iter().position(|l| bare(l).trim_end() == "import (");
    let single = lines.iter().position(|l| {
        let b = bare(l);
        b.starts_with("import ") && b.trim_end().ends_with('"') && !b.contains('(')
    });
    let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    match (block, single) {
        (Some(start), _) => {
            let end = start + lines[start..].iter().position(|l| bare(l) == ")")?;
            let specs = &lines[start + 1..end];
            if specs.iter().any(|l| spec_path(l) == Some(path)) {
                return Some(text.to_owned());
            }
            let standard = !path.split('/').next().unwrap_or(path).contains('.');
            if standard {
                let first_group_end = specs
                    .iter()
                    .position(|l| bare(l).trim().is_empty())
                    .unwrap_or(specs.len());
                let group = &specs[..first_group_end];
                let all_standard = !group.is_empty()
                    && group.iter().all(|l| {
                        spec_path(l)
                            .is_some_and(|p| !p.split('/').next().unwrap_or(p).contains('.'))
                    });
                if all_standard {
                    let at = group
                        .iter()
                        .position(|l| spec_path(l).is_some_and(|p| p > path))
                        .unwrap_or(group.len());
                    out.insert(start + 1 + at, format!("\t{spec}{nl}"));
                } else {
                    out.insert(start + 1, format!("\t{spec}{nl}{nl}"));
                }
            } else {
                out.insert(end, format!("{nl}\t{spec}{nl}"));
            }
        }
        (None, Some(at)) => {
            if lines.iter().filter(|l| l.starts_with("import ")).count() > 1 {
                return None;
            }
            let existing = bare(lines[at]);
            let existing = existing["import ".len()..].trim();
            if spec_path(existing) == Some(path) {
                return Some(text.to_owned());
            }
            let existing_path = spec_path(existing).unwrap_or_default();
            let existing_std = !existing_path
                .split('/')
                .next()
                .unwrap_or(existing_path)
                .contains('.');
            let standard = !path.split('/').next().unwrap_or(path).contains('.');
            let body = if standard == existing_std {
                // One group, sorted by path as gofmt sorts it.
                if path < existing_path {
                    format!("\t{spec}{nl}\t{existing}{nl}")
                } else {
                    format!("\t{existing}{nl}\t{spec}{nl}")
                }
            } else if standard {
                format!("\t{spec}{nl}{nl}\t{existing}{nl}")
            } else {
                format!("\t{existing}{nl}{nl}\t{spec}{nl}")
            };
            out[at] = format!("import ({nl}{body}){nl}");
        }
        (None, None) => return None,
    }
    Some(out.concat())
}

#[cfg(test)]
mod tests {
    use super::{add_import, definition_line, serve_calls};

    fn serve_call(text: &str, methods: &[&str]) -> Option<(usize, String)> {
        serve_calls(text, methods).into_iter().next()
    }

    #[test]
    fn serve_calls_name_the_served_router() {
        let gin = &["Run", "RunTLS"][..];
        let echo = &["Start", "StartTLS"][..];
        assert_eq!(
            serve_call("\tr.Run() // listen", gin),
            Some((0, "r".into()))
        );
        assert_eq!(
            serve_call("\tr.Logger.Fatal(r.Start(\"127.0.0.1:8585\"))", echo),
            Some((0, "r".into()))
        );
        assert_eq!(
            serve_call("\tlog.Fatal(http.ListenAndServe(\":8080\", engine))", gin),
            Some((0, "engine".into()))
        );
        assert_eq!(
            serve_call("srv := &http.Server{Addr: \":80\", Handler: router}", gin),
            Some((0, "router".into()))
        );
        assert_eq!(serve_call("\t// r.Run()", gin), None);
        assert_eq!(serve_call("\tcmd.Run()\n", echo), None);
    }

    #[test]
    fn definitions_are_whole_line_calls_in_the_serving_function() {
        let src = "func main() {\n\tr := gin.Default()\n\tr.Run()\n}\n";
        assert_eq!(
            definition_line(src, 2, "r", Some(&["gin.Default("])),
            Some(1)
        );
        let built_elsewhere = "func main() {\n\tr := setup()\n\tr.Run()\n}\n";
        assert_eq!(
            definition_line(built_elsewhere, 2, "r", Some(&["gin.Default("])),
            None
        );
        assert_eq!(definition_line(built_elsewhere, 2, "r", None), Some(1));
        let multiline = "func main() {\n\te := newServer(\n\t\tcfg,\n\t)\n\te.Start()\n}\n";
        assert_eq!(definition_line(multiline, 4, "e", None), None);
        let parameter = "func serve(r *gin.Engine) {\n\tr.Run()\n}\n";
        assert_eq!(definition_line(parameter, 1, "r", None), None);
    }

    #[test]
    fn imports_keep_gofmt_order() {
        let src =
            "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\n\t\"github.com/gin-gonic/gin\"\n)\n";
        let with_time = add_import(src, None, "time").unwrap();
        assert!(with_time.contains("\t\"os\"\n\t\"time\"\n\n\t\"github.com/gin-gonic/gin\"\n)"));
        let with_pkg = add_import(
            &with_time,
            Some("spairebilling"),
            "example.com/x/internal/spairebilling",
        )
        .unwrap();
        assert!(with_pkg.ends_with("\t\"github.com/gin-gonic/gin\"\n\n\tspairebilling \"example.com/x/internal/spairebilling\"\n)\n"));
        assert_eq!(add_import(&with_pkg, None, "time").unwrap(), with_pkg);
        let single = "package main\n\nimport \"example.com/app/server\"\n\nfunc main() {}\n";
        let with_time = add_import(single, None, "time").unwrap();
        assert!(
            with_time.contains("import (\n\t\"time\"\n\n\t\"example.com/app/server\"\n)\n"),
            "{with_time}"
        );
        let no_std_group = "package main\n\nimport (\n\t\"github.com/labstack/echo/v4\"\n)\n";
        assert!(
            add_import(no_std_group, None, "time")
                .unwrap()
                .contains("import (\n\t\"time\"\n\n\t\"github.com/labstack/echo/v4\"\n)")
        );
    }
}
