//! Where the generated `spaire_billing` package goes and how the app imports it.

use billing_detect::FrameworkId;

use super::{PACKAGE, join};
use crate::Target;

/// The web framework the generated glue targets (`None`: a script or a PydanticAI agent
/// without a web framework, which gets the usage and balance helpers only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PythonFramework {
    FastApi,
    Flask,
    Django,
    None,
}

impl PythonFramework {
    pub fn as_str(self) -> &'static str {
        match self {
            PythonFramework::FastApi => "fastapi",
            PythonFramework::Flask => "flask",
            PythonFramework::Django => "django",
            PythonFramework::None => "none",
        }
    }

    fn from_id(id: FrameworkId) -> Option<Self> {
        match id {
            FrameworkId::Fastapi => Some(PythonFramework::FastApi),
            FrameworkId::Flask => Some(PythonFramework::Flask),
            FrameworkId::Django => Some(PythonFramework::Django),
            FrameworkId::PydanticAi => Some(PythonFramework::None),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonLayout {
    pub framework: PythonFramework,
    /// Directory of the generated package, relative to the project root.
    pub package_dir: String,
    /// Dotted import path of the generated package, e.g. `app.spaire_billing`.
    pub module: String,
    /// The file that creates the app object (FastAPI / Flask), relative to the project root.
    pub entry_file: Option<String>,
    /// Variable holding the app object in `entry_file`.
    pub app_variable: String,
    /// Whether `entry_file` sits inside a Python package (then it imports us relatively).
    pub entry_in_package: bool,
    /// Django settings file, relative to the project root.
    pub settings_file: Option<String>,
}

impl PythonLayout {
    pub fn resolve(target: &Target<'_>) -> Self {
        let package = target.package;
        let framework = target
            .plan
            .project
            .framework
            .and_then(PythonFramework::from_id)
            .unwrap_or_else(|| {
                // A project using several is usually one web framework plus PydanticAI; the
                // web framework decides where requests are handled.
                [
                    (FrameworkId::Django, PythonFramework::Django),
                    (FrameworkId::Fastapi, PythonFramework::FastApi),
                    (FrameworkId::Flask, PythonFramework::Flask),
                ]
                .into_iter()
                .find(|(id, _)| package.has_framework(*id))
                .map_or(PythonFramework::None, |(_, f)| f)
            });
        let details = package
            .frameworks
            .iter()
            .find(|f| {
                matches!(
                    (f.id, framework),
                    (FrameworkId::Django, PythonFramework::Django)
                        | (FrameworkId::Fastapi, PythonFramework::FastApi)
                        | (FrameworkId::Flask, PythonFramework::Flask)
                )
            })
            .map(|f| f.details.clone())
            .unwrap_or_default();
        let app_variable = details
            .app_variable
            .clone()
            .unwrap_or_else(|| "app".to_owned());
        let exists = |rel: &str| target.root.join(rel).is_file();

        if framework == PythonFramework::Django {
            let settings_file = details.settings_module.as_deref().and_then(|module| {
                let rel = module.replace('.', "/");
                [format!("{rel}.py"), format!("{rel}/__init__.py")]
                    .into_iter()
                    .map(|f| join(&package.path, &f))
                    .find(|f| exists(f))
            });
            // Django imports apps and middleware by dotted path from the directory of
            // manage.py, which is on sys.path: the package goes there.
            return PythonLayout {
                framework,
                package_dir: join(&package.path, PACKAGE),
                module: PACKAGE.to_owned(),
                entry_file: None,
                app_variable,
                entry_in_package: false,
                settings_file,
            };
        }

        let entry_file = details.entry_file.as_deref().and_then(|entry| {
            [entry.to_owned(), join(&package.path, entry)]
                .into_iter()
                .find(|f| exists(f))
        });
        if let Some(entry) = &entry_file {
            let dir = parent(entry);
            // The dotted path of the entry file's package: walk up while `__init__.py` exists.
            let mut parts: Vec<&str> = Vec::new();
            let mut current = dir.as_str();
            while !current.is_empty() && exists(&join(current, "__init__.py")) {
                let (up, name) = current.rsplit_once('/').unwrap_or(("", current));
                parts.insert(0, name);
                current = up;
            }
            // A namespace package the project declares for its wheel (no `__init__.py`, as
            // pydantic-ai's `pydantic_ai_examples`) is imported by its full path all the same.
            let declared = declared_packages(target, &package.path);
            while !current.is_empty() && declared.iter().any(|d| *d == current) {
                let (up, name) = current.rsplit_once('/').unwrap_or(("", current));
                parts.insert(0, name);
                current = up;
                while !current.is_empty() && exists(&join(current, "__init__.py")) {
                    let (up, name) = current.rsplit_once('/').unwrap_or(("", current));
                    parts.insert(0, name);
                    current = up;
                }
            }
            let in_package = !parts.is_empty();
            parts.push(PACKAGE);
            return PythonLayout {
                framework,
                package_dir: join(if dir.is_empty() { "." } else { &dir }, PACKAGE),
                module: parts.join("."),
                entry_file: entry_file.clone(),
                app_variable,
                entry_in_package: in_package,
                settings_file: None,
            };
        }

        let base = if package.src_dir {
            join(&package.path, "src")
        } else {
            package.path.clone()
        };
        PythonLayout {
            framework,
            package_dir: join(&base, PACKAGE),
            module: PACKAGE.to_owned(),
            entry_file: None,
            app_variable,
            entry_in_package: false,
            settings_file: None,
        }
    }
}

/// The package directories `<package>/pyproject.toml` declares, relative to the project root.
fn declared_packages(target: &Target<'_>, package_path: &str) -> Vec<String> {
    let pyproject = join(package_path, "pyproject.toml");
    let Ok(text) = std::fs::read_to_string(target.root.join(&pyproject)) else {
        return Vec::new();
    };
    billing_detect::manifest::python::declared_packages(&text)
        .into_iter()
        .map(|d| join(package_path, &d))
        .collect()
}

fn parent(path: &str) -> String {
    path.rsplit_once('/')
        .map(|(dir, _)| dir.to_owned())
        .unwrap_or_default()
}
