//! `[customer] from = "session"` in a Next.js app-router package: the auth library the app
//! already uses, so the generated `customerIdFromSession()` reads the signed-in user instead
//! of being a stub. Each library's call reads the request from Next.js's request scope
//! (`auth()`, `headers()`), so the resolver needs no request object and can be awaited
//! anywhere a request is being handled (route handlers, server actions, server components).
//!
//! - Auth.js v5: the app's `export const { auth } = NextAuth(..)` → `(await auth())?.user?.id`;
//!   in an app whose schema keys its users by email (`detect`'s `user_key`: no user id exists
//!   to put on the session) → `(await auth())?.user?.email`, stated in the plan preview and the
//!   generated comment, since the email then becomes each Spaire customer's external id.
//! - Clerk 5+: `auth` of `@clerk/nextjs/server` → `(await auth()).userId`.
//! - Better Auth: the app's `export const auth = betterAuth(..)` (or `= itsOwnFactory(..)` in a
//!   file that calls `auth.api.getSession`) →
//!   `(await auth.api.getSession({ headers: await headers() }))?.user.id`.
//!
//! Anything else (NextAuth 4's `getServerSession(authOptions)`, Lucia, Supabase) keeps the
//! listed stub: their session shapes are the app's own.

use serde::Serialize;

use super::layout::Layout;
use super::toolchain::installed_version;
use crate::Target;

/// A request-free session lookup, as the generated customer module writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionResolver {
    /// The library, for the generated comment ("Auth.js", "Clerk", "Better Auth").
    pub library: &'static str,
    /// `import` lines (ESM; Next.js always bundles) the expression needs.
    pub imports: Vec<(String, String)>,
    /// The user id (or `undefined`) as an expression to `await`-free return.
    pub expr: String,
    /// Where the app's auth object was found (package-relative), for the comment.
    pub source: Option<String>,
    /// When the customer id is not a user id: what it is and the schema line that makes it
    /// the user's stable key ("the user's email (`schema.ts:13` …)"), for the comment and the
    /// plan preview.
    pub keyed_by: Option<String>,
}

const SKIPPED_DIRS: &[&str] = &["node_modules", "public", "dist", "build", "out", "coverage"];

/// The resolver for `target`'s package, when it is a Next.js app-router app with a known auth
/// library. `None` keeps the stub.
pub(crate) fn detect(target: &Target<'_>, layout: &Layout) -> Option<SessionResolver> {
    if layout.framework != Some(billing_detect::FrameworkId::Nextjs)
        || (layout.details.app_dir.is_none() && layout.details.pages_dir.is_some())
    {
        return None;
    }
    let package_dir = layout.to_root("");
    let package_dir = package_dir.trim_end_matches('/');
    let major = |name: &str| installed_version(target.root, package_dir, name).map(|v| v.1);
    let module_file = layout.module_file("customer");
    // Auth.js puts no id on `session.user` unless the app's session callback does: without
    // one the resolver would find no customer for any request, so it stays a listed stub.
    // An app whose schema keys users by email has no id to put there: the email is the key.
    if major("next-auth").is_some_and(|m| m >= 5)
        && let Some(file) = find_export(target, package_dir, is_authjs_export)
    {
        let (expr, keyed_by) = if find_export(target, package_dir, sets_session_user_id).is_some() {
            ("(await auth())?.user?.id".to_owned(), None)
        } else if let Some(key) = target
            .package
            .user_key
            .as_ref()
            .filter(|k| k.field == "email")
        {
            (
                "(await auth())?.user?.email".to_owned(),
                Some(email_key_statement(key)),
            )
        } else {
            return None;
        };
        return Some(SessionResolver {
            library: "Auth.js",
            imports: vec![(
                "{ auth }".to_owned(),
                layout.specifier_to(&module_file, &file),
            )],
            expr,
            source: Some(file),
            keyed_by,
        });
    }
    if major("@clerk/nextjs").is_some_and(|m| m >= 5) {
        return Some(SessionResolver {
            library: "Clerk",
            imports: vec![("{ auth }".to_owned(), "@clerk/nextjs/server".to_owned())],
            expr: "(await auth()).userId".to_owned(),
            source: None,
            keyed_by: None,
        });
    }
    // Any version (monorepos link it: `"better-auth": "link:../../packages/better-auth"`).
    let declares = |name: &str| {
        std::fs::read_to_string(target.root.join(package_dir).join("package.json"))
            .is_ok_and(|text| text.contains(&format!("\"{name}\":")))
    };
    if declares("better-auth")
        && let Some(file) = find_export(target, package_dir, is_better_auth_export)
    {
        return Some(SessionResolver {
            library: "Better Auth",
            imports: vec![
                ("{ headers }".to_owned(), "next/headers".to_owned()),
                (
                    "{ auth }".to_owned(),
                    layout.specifier_to(&module_file, &file),
                ),
            ],
            // `{ session, user } | null`: `user` is there whenever a session is
            // (`no-unnecessary-condition` reports `?.user?.id`: create-t3-turbo).
            expr: "(await auth.api.getSession({ headers: await headers() }))?.user.id".to_owned(),
            source: Some(file),
            keyed_by: None,
        });
    }
    None
}

/// What the customer id is when the app keys users by email, with the schema line that says so.
pub(crate) fn email_key_statement(key: &billing_detect::profile::UserKey) -> String {
    let at = match key.evidence.line {
        Some(line) => format!("{}:{line}", key.evidence.file),
        None => key.evidence.file.clone(),
    };
    format!(
        "the user's email, which keys the app's users (`{at}`: `{}`); create Spaire customers and checkouts with this email as `externalCustomerId`",
        key.evidence.text
    )
}

/// The first own source file (package-relative, without extension) whose text `matches`.
fn find_export(
    target: &Target<'_>,
    package_dir: &str,
    matches: fn(&str) -> bool,
) -> Option<String> {
    let files = billing_detect::source_walk::files(
        &target.root.join(package_dir),
        "",
        6,
        &|dir| !SKIPPED_DIRS.contains(&dir),
        &|name, kind| {
            kind.is_file()
                && [".ts", ".tsx", ".js", ".mjs"]
                    .iter()
                    .any(|ext| name.ends_with(ext))
                && !name.ends_with(".d.ts")
        },
    );
    files.into_iter().find_map(|relative| {
        let text = std::fs::read_to_string(target.root.join(package_dir).join(&relative)).ok()?;
        matches(&text).then(|| {
            let stem = relative
                .rsplit_once('.')
                .map_or(relative.as_str(), |(stem, _)| stem);
            stem.trim_end_matches("/index").to_owned()
        })
    })
}

/// `export const { handlers, auth, signIn } = NextAuth(..)`: `auth` exported under its name.
fn is_authjs_export(text: &str) -> bool {
    text.match_indices("= NextAuth(").any(|(at, _)| {
        let before = &text[..at];
        let Some(start) = before.rfind("export const") else {
            return false;
        };
        let pattern = before[start + "export const".len()..].trim();
        pattern.starts_with('{') && exports_name(pattern, "auth")
    })
}

/// The app's code reads or sets the user id on an Auth.js session (`session.user.id = token.id`
/// in its session callback).
fn sets_session_user_id(text: &str) -> bool {
    [
        "session.user.id",
        "session?.user?.id",
        "session.user?.id",
        "session?.user.id",
    ]
    .iter()
    .any(|chain| text.contains(chain))
}

/// `export const auth = betterAuth(..)`, or an `auth` made by the app's own factory that the
/// same file calls as a Better Auth instance (create-t3-turbo: `export const auth =
/// initAuth({..})` of its `@acme/auth` workspace package, then `auth.api.getSession(..)`).
fn is_better_auth_export(text: &str) -> bool {
    let used_as_instance = text.contains("auth.api.getSession(");
    text.lines().any(|line| {
        line.trim_start()
            .strip_prefix("export const auth")
            .and_then(|rest| rest.trim_start().strip_prefix('='))
            .is_some_and(|rest| {
                let rest = rest.trim_start();
                let callee = rest.bytes().take_while(|b| is_ident_byte(*b)).count();
                rest.starts_with("betterAuth(")
                    || (used_as_instance && callee > 0 && rest[callee..].starts_with('('))
            })
    })
}

/// Whether a destructuring pattern binds `name` itself (`{ auth }`, `{ auth, x }`), not as a
/// key renamed to another local (`{ auth: nextAuth }`).
fn exports_name(pattern: &str, name: &str) -> bool {
    let bytes = pattern.as_bytes();
    pattern.match_indices(name).any(|(at, _)| {
        let end = at + name.len();
        let boundary_before = at == 0 || !is_ident_byte(bytes[at - 1]);
        let boundary_after = end >= bytes.len() || !is_ident_byte(bytes[end]);
        let renamed = pattern[end..].trim_start().starts_with(':');
        boundary_before && boundary_after && !renamed
    })
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authjs_exports_are_recognised_with_nested_patterns() {
        let chatbot =
            "export const {\n  handlers: { GET, POST },\n  auth,\n  signIn,\n} = NextAuth({\n";
        assert!(is_authjs_export(chatbot));
        assert!(is_authjs_export(
            "export const { handlers, auth, signIn, signOut } = NextAuth(config);"
        ));
        assert!(!is_authjs_export(
            "export const { auth: nextAuth, handlers } = NextAuth(config);"
        ));
        assert!(!is_authjs_export("const handler = NextAuth(authOptions);"));
    }

    #[test]
    fn better_auth_exports_are_recognised() {
        assert!(is_better_auth_export("export const auth = betterAuth({\n"));
        assert!(!is_better_auth_export(
            "export const authClient = createAuthClient({});"
        ));
        // A factory of the app's own, used as an instance in the same file (create-t3-turbo).
        let factory = "export const auth = initAuth({\n  baseUrl,\n});\n\nexport const \
                       getSession = cache(async () =>\n  auth.api.getSession({ headers: await \
                       headers() }),\n);\n";
        assert!(is_better_auth_export(factory));
        // Without that use, a factory says nothing about the library.
        assert!(!is_better_auth_export("export const auth = initAuth({});"));
        assert!(!is_better_auth_export(
            "export const auth = { api: x };\nauth.api.getSession(h);"
        ));
    }
}
