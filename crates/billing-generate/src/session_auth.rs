//! Which login the app already has, for `[customer] from = "session"`: the generated resolver
//! reads the signed-in user from it instead of guessing a session key the app may never
//! write (Flask-Login keeps `_user_id`, Devise a Warden key, Rails 8 a signed cookie). When no
//! known login is found the resolver is a stub carrying [`crate::feeds::SESSION_STUB_MARKER`],
//! which the metering account lists as a `customer-resolver` step with its `file:line`.

use serde::Serialize;

use crate::python::{join, read_optional};
use crate::{GenerateError, Target};

/// The login the generated session resolver reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionAuth {
    /// Flask-Login: `flask_login.current_user.get_id()`.
    FlaskLogin,
    /// Rails: the controller's `current_user` (Devise's helper or the app's own), Rails 8
    /// `Current.user` / `Current.session.user`, or Warden's user.
    Rails,
    /// No login this code knows: the resolver is a listed stub.
    Unknown,
}

impl SessionAuth {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionAuth::FlaskLogin => "flask-login",
            SessionAuth::Rails => "rails",
            SessionAuth::Unknown => "unknown",
        }
    }
}

/// Python manifests a dependency can be declared in (PEP 503 names compared).
const PYTHON_MANIFESTS: &[&str] = &[
    "requirements.txt",
    "requirements.in",
    "requirements/base.txt",
    "requirements/prod.txt",
    "requirements/production.txt",
    "pyproject.toml",
    "Pipfile",
    "setup.py",
    "setup.cfg",
];

/// Flask-Login when the package declares it (any PEP 503 spelling).
pub fn python(target: &Target<'_>) -> Result<SessionAuth, GenerateError> {
    let dir = &target.package.path;
    let mut files: Vec<String> = PYTHON_MANIFESTS.iter().map(|m| join(dir, m)).collect();
    files.extend(target.package.manifests.iter().cloned());
    for file in files {
        if let Some(text) = read_optional(target, &file)?
            && declares_python(&text, "flask-login")
        {
            return Ok(SessionAuth::FlaskLogin);
        }
    }
    Ok(SessionAuth::Unknown)
}

/// Whether a manifest's text names `package` as a dependency (`flask-login`, `Flask_Login`,
/// `flask-login==0.6.3`, `"flask-login>=0.6"`), not merely a longer name starting with it.
fn declares_python(text: &str, package: &str) -> bool {
    let normalized = text.to_ascii_lowercase().replace('_', "-");
    normalized.match_indices(package).any(|(at, _)| {
        let before = normalized[..at].chars().next_back();
        let after = normalized[at + package.len()..].chars().next();
        let boundary = |c: Option<char>| {
            c.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
        };
        boundary(before) && boundary(after)
    })
}

/// Rails: a login the middleware can read after the controller ran — Devise in the Gemfile,
/// a `current_user` in a controller or concern, or a `Current` model with a user / session.
pub fn rails(target: &Target<'_>) -> Result<SessionAuth, GenerateError> {
    let dir = &target.package.path;
    if let Some(gemfile) = read_optional(target, &join(dir, "Gemfile"))?
        && gemfile.lines().any(|line| {
            let line = line.trim_start();
            line.starts_with("gem ") && (line.contains("'devise'") || line.contains("\"devise\""))
        })
    {
        return Ok(SessionAuth::Rails);
    }
    if let Some(current) = read_optional(target, &join(dir, "app/models/current.rb"))?
        && current.lines().any(|line| {
            let line = line.trim_start();
            line.starts_with("attribute") && (line.contains(":user") || line.contains(":session"))
        })
    {
        return Ok(SessionAuth::Rails);
    }
    for file in [
        "app/controllers/application_controller.rb",
        "app/controllers/concerns/authentication.rb",
    ] {
        if let Some(text) = read_optional(target, &join(dir, file))?
            && text
                .lines()
                .any(|l| l.trim_start().starts_with("def current_user"))
        {
            return Ok(SessionAuth::Rails);
        }
    }
    Ok(SessionAuth::Unknown)
}

#[cfg(test)]
mod tests {
    use super::{declares_python, injected_user_dependencies, yields};

    /// What counts as injecting a user: a parameter or an `Annotated[...]` whose name or type
    /// says so, through a plain-name `Depends(f)`; a session, a settings object or a dotted
    /// `Depends(deps.f)` does not.
    #[test]
    fn user_dependencies_are_the_ones_injected_as_a_user() {
        let source = r#"
from typing import Annotated
from fastapi import Depends

CurrentUser = Annotated[User, Depends(get_current_user)]
SessionDep = Annotated[Session, Depends(get_db)]

@router.post("/{user_id}/chat")
async def chat(user: User = Depends(user_exists), db: Session = Depends(get_db)):
    ...

@router.get("/me")
def me(current: Annotated[Account, Depends(resolve_account)], admin_user=Depends(load_admin)):
    ...

@router.get("/x")
def x(settings: Settings = Depends(get_settings), owner: User = Depends(deps.get_owner)):
    ...
"#;
        assert_eq!(
            injected_user_dependencies(source),
            ["get_current_user", "user_exists", "load_admin"],
        );
    }

    #[test]
    fn a_generator_dependency_is_a_resource_not_a_user() {
        let source = "def get_users():\n    db = Session()\n    try:\n        yield db\n    finally:\n        db.close()\n\n\ndef user_exists(user_id: str):\n    return lookup(user_id)\n";
        assert!(yields(source, "get_users"));
        assert!(!yields(source, "user_exists"));
    }

    #[test]
    fn python_dependency_names_are_compared_per_pep_503() {
        assert!(declares_python("Flask-Login==0.6.3\n", "flask-login"));
        assert!(declares_python(
            "dependencies = [\"flask_login>=0.6\"]",
            "flask-login"
        ));
        assert!(!declares_python("flask-login-extra==1\n", "flask-login"));
        assert!(!declares_python("flask==3\n", "flask-login"));
    }
}

/// A FastAPI dependency that returns the signed-in user (`get_current_user`, used as
/// `Depends(get_current_user)` or through a `CurrentUser = Annotated[User, Depends(...)]`
/// alias): its dotted module and function name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserDependency {
    pub module: String,
    pub function: String,
}

/// Names apps give the dependency that resolves the signed-in user, most common first.
const USER_DEPENDENCIES: &[&str] = &["get_current_user", "get_current_active_user"];

/// Names that count only when the `def` itself takes a `Depends(...)` parameter (the token,
/// the database session): `get_user` is as often a plain lookup by id.
const USER_DEPENDENCIES_WITH_DEPENDS: &[&str] = &["get_user"];

/// Directories never searched for the dependency (virtualenvs, caches, tests).
const SKIPPED_DIRS: &[&str] = &[
    "node_modules",
    "venv",
    "env",
    "site-packages",
    "__pycache__",
    "tests",
    "test",
    "migrations",
    "alembic",
];

/// Every app dependency that resolves the signed-in user, each wrapped so the user it returns
/// is the customer: the conventionally named one (`get_current_user`, ...), then each one the
/// app's own code injects a user with (`user: User = Depends(user_exists)`,
/// `current_user: Annotated[User, Depends(f)]`, `CurrentUser = Annotated[User, Depends(f)]`),
/// whatever its name: routes that take their user from `user_exists` would otherwise run with
/// no customer, and their usage would be dropped.
pub fn fastapi_user_dependencies(
    target: &Target<'_>,
) -> Result<Vec<UserDependency>, GenerateError> {
    let base = if target.package.path.is_empty() || target.package.path == "." {
        String::new()
    } else {
        target.package.path.trim_end_matches('/').to_owned()
    };
    let files = billing_detect::source_walk::files(
        &target.root.join(&base),
        "",
        4,
        &|dir| !SKIPPED_DIRS.contains(&dir) && dir != crate::python::PACKAGE,
        &|name, kind| {
            kind.is_file()
                && name.ends_with(".py")
                && !name.starts_with("test_")
                && !name.ends_with("_test.py")
        },
    );
    let mut found: Vec<UserDependency> = named_user_dependency(&files, &base, target)?
        .into_iter()
        .collect();
    let mut sources = Vec::with_capacity(files.len());
    for relative in &files {
        if let Some(text) = read_optional(target, &join(&base, relative))? {
            sources.push((relative, text));
        }
    }
    let mut injected: Vec<String> = Vec::new();
    for (_, text) in &sources {
        for name in injected_user_dependencies(text) {
            if !injected.contains(&name) {
                injected.push(name);
            }
        }
    }
    for function in injected {
        let defined_in = sources.iter().find(|(_, text)| {
            text.lines().any(|line| {
                line.strip_prefix("async ")
                    .unwrap_or(line)
                    .strip_prefix("def ")
                    .and_then(|rest| rest.strip_prefix(function.as_str()))
                    .is_some_and(|rest| rest.starts_with('('))
            })
        });
        // A generator (`yield`) is a resource such as a session, never the user lookup.
        if let Some((relative, text)) = defined_in
            && !yields(text, &function)
        {
            let dependency = UserDependency {
                module: module_of(relative),
                function,
            };
            if !found.contains(&dependency) {
                found.push(dependency);
            }
        }
    }
    Ok(found)
}

/// Whether the top-level `def function(` in `source` has a `yield` in its body (the lines
/// indented under it).
fn yields(source: &str, function: &str) -> bool {
    let mut lines = source.lines().skip_while(|line| {
        !line
            .strip_prefix("async ")
            .unwrap_or(line)
            .strip_prefix("def ")
            .and_then(|rest| rest.strip_prefix(function))
            .is_some_and(|rest| rest.starts_with('('))
    });
    lines.next();
    lines
        .take_while(|line| line.trim().is_empty() || line.starts_with([' ', '\t', ')']))
        .any(|line| {
            let code = line.trim_start();
            code.starts_with("yield ")
                || code == "yield"
                || code.contains(" yield ")
                || code.contains("= yield")
        })
}

/// `app/api/deps.py` → `app.api.deps` (a package's `__init__.py` is the package).
fn module_of(relative: &str) -> String {
    relative
        .trim_end_matches(".py")
        .trim_end_matches("/__init__")
        .replace('/', ".")
}

/// The functions `source` injects a user with through `Depends(f)`: a parameter or an
/// `Annotated[...]` alias whose name or type says "user" (`db: Session = Depends(get_db)` does
/// not). Only plain names: `Depends(deps.get_user)` is found by its conventional name, if at all.
fn injected_user_dependencies(source: &str) -> Vec<String> {
    let mut parser = tree_sitter::Parser::new();
    if parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .is_err()
    {
        return Vec::new();
    }
    let Some(tree) = parser.parse(source, None) else {
        return Vec::new();
    };
    let text = |node: tree_sitter::Node<'_>| source.get(node.byte_range()).unwrap_or("");
    let says_user = |t: &str| t.to_ascii_lowercase().contains("user");
    let mut out = Vec::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        let mut cursor = node.walk();
        // Reversed, so the stack yields nodes in source order (stable generated imports).
        let children: Vec<_> = node.children(&mut cursor).collect();
        stack.extend(children.into_iter().rev());
        if node.kind() != "call"
            || node.child_by_field_name("function").map(text) != Some("Depends")
        {
            continue;
        }
        let Some(dependency) = node
            .child_by_field_name("arguments")
            .and_then(|args| args.named_child(0))
            .filter(|arg| arg.kind() == "identifier")
            .map(text)
        else {
            continue;
        };
        // Up to the parameter or assignment that names what the call injects.
        let mut owner = node.parent();
        let mut is_user = false;
        while let Some(n) = owner {
            match n.kind() {
                "typed_default_parameter" | "typed_parameter" | "default_parameter" => {
                    is_user = says_user(text(n).split(['=', ',']).next().unwrap_or(""));
                    break;
                }
                "assignment" => {
                    is_user = n
                        .child_by_field_name("left")
                        .is_some_and(|l| says_user(text(l)))
                        || says_user(text(n).split(',').next().unwrap_or(""));
                    break;
                }
                "subscript" => {
                    // `Annotated[User, Depends(f)]`: the first element is the injected type.
                    is_user = n.named_child(1).is_some_and(|t| says_user(text(t)));
                    if is_user {
                        break;
                    }
                }
                "function_definition" | "module" => break,
                _ => {}
            }
            owner = n.parent();
        }
        if is_user && !out.iter().any(|o| o == dependency) {
            out.push(dependency.to_owned());
        }
    }
    out
}

/// The app's user dependency, from a top-level `def` / `async def` in the package's own
/// modules (at most 4 directories deep, sorted, so the answer is stable).
fn named_user_dependency(
    files: &[String],
    base: &str,
    target: &Target<'_>,
) -> Result<Option<UserDependency>, GenerateError> {
    let names = USER_DEPENDENCIES
        .iter()
        .map(|f| (*f, false))
        .chain(USER_DEPENDENCIES_WITH_DEPENDS.iter().map(|f| (*f, true)));
    for (function, needs_depends) in names {
        for relative in files {
            let path = join(base, relative);
            let Some(text) = read_optional(target, &path)? else {
                continue;
            };
            let defines = text.lines().enumerate().any(|(i, line)| {
                let line = line.strip_prefix("async ").unwrap_or(line);
                let named = line
                    .strip_prefix("def ")
                    .and_then(|rest| rest.strip_prefix(function))
                    .is_some_and(|rest| rest.starts_with('('));
                if !named || !needs_depends {
                    return named;
                }
                // The signature: from the `def` line to the one ending with `:` (8 at most).
                let mut signature = String::new();
                for l in text.lines().skip(i).take(8) {
                    signature.push_str(l);
                    if l.trim_end().ends_with(':') {
                        break;
                    }
                }
                signature.contains("Depends(")
            });
            if defines {
                return Ok(Some(UserDependency {
                    module: module_of(relative),
                    function: (*function).to_owned(),
                }));
            }
        }
    }
    Ok(None)
}
