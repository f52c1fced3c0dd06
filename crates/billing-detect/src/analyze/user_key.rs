//! How a JS/TS app identifies its users when its user table has no `id`: the primary key its
//! own schema declares. Auth.js credential apps often key users by email (the session then
//! carries `user.email` and no id); billing such an app per user needs that key, and only
//! the schema proves it is the user's stable identity (unique, what the app's rows point to).
//!
//! Read from the schema as written: a Drizzle table named `user` / `users` whose `email`
//! column is `.primaryKey()`, or a Prisma `model User` whose `email` field is `@id`.

use crate::profile::{Evidence, UserKey};

/// Table / model names of the app's users (compared case-insensitively).
const USER_TABLES: &[&str] = &["user", "users"];
const DRIZZLE_TABLES: &[&str] = &["pgTable(", "mysqlTable(", "sqliteTable("];

/// The user key a Drizzle schema file declares.
pub fn from_drizzle(file: &str, src: &str) -> Option<UserKey> {
    if !DRIZZLE_TABLES.iter().any(|t| src.contains(t)) {
        return None;
    }
    let lines: Vec<&str> = src.lines().collect();
    let mut in_user_table = false;
    let mut depth: i32 = 0;
    for (i, line) in lines.iter().enumerate() {
        if !in_user_table {
            in_user_table = DRIZZLE_TABLES
                .iter()
                .filter_map(|t| line.split_once(t))
                .any(|(_, rest)| is_user_table_name(first_string(rest)));
            depth = 0;
        }
        if !in_user_table {
            continue;
        }
        // Only the table's own columns: one level inside its column object.
        let column_level = depth == 1;
        depth += brace_delta(line);
        if column_level && email_is_primary_key(line) {
            return Some(key(file, i, line));
        }
        if depth <= 0 && line.contains('}') {
            in_user_table = false;
        }
    }
    None
}

/// The user key a Prisma schema declares (`model User { email String @id ... }`).
pub fn from_prisma(file: &str, src: &str) -> Option<UserKey> {
    let mut in_user_model = false;
    for (i, line) in src.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("model ") {
            let name = rest.split_whitespace().next().unwrap_or("");
            in_user_model = is_user_table_name(Some(name));
            continue;
        }
        if trimmed.starts_with('}') {
            in_user_model = false;
            continue;
        }
        let mut words = trimmed.split_whitespace();
        if in_user_model
            && words.next() == Some("email")
            && words.any(|w| w == "@id" || w.starts_with("@id("))
        {
            return Some(key(file, i, line));
        }
    }
    None
}

fn key(file: &str, index: usize, line: &str) -> UserKey {
    UserKey {
        field: "email".to_owned(),
        evidence: Evidence {
            file: file.to_owned(),
            line: u32::try_from(index + 1).ok(),
            text: line.trim().to_owned(),
        },
    }
}

fn is_user_table_name(name: Option<&str>) -> bool {
    name.is_some_and(|n| USER_TABLES.iter().any(|t| n.eq_ignore_ascii_case(t)))
}

/// The first string literal's content in `rest` (`"User", {` → `User`).
fn first_string(rest: &str) -> Option<&str> {
    let rest = rest.trim_start();
    let quote = rest
        .chars()
        .next()
        .filter(|c| matches!(c, '"' | '\'' | '`'))?;
    let inner = &rest[1..];
    inner.find(quote).map(|end| &inner[..end])
}

/// `email: varchar("email", ...).primaryKey()` (any column builder, any chained calls).
fn email_is_primary_key(line: &str) -> bool {
    let trimmed = line.trim_start();
    let Some(rest) = trimmed
        .strip_prefix("email")
        .or_else(|| trimmed.strip_prefix("\"email\""))
    else {
        return false;
    };
    rest.trim_start().starts_with(':') && rest.contains(".primaryKey()")
}

fn brace_delta(line: &str) -> i32 {
    let count = |c: char| i32::try_from(line.matches(c).count()).unwrap_or(0);
    count('{') - count('}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drizzle_user_table_keyed_by_email() {
        let src = "export const user = pgTable(\"User\", {\n  email: varchar(\"email\", { length: 64 }).primaryKey().notNull(),\n  password: varchar(\"password\", { length: 64 }),\n});\n";
        let key = from_drizzle("schema.ts", src).expect("email key");
        assert_eq!(key.field, "email");
        assert_eq!(key.evidence.line, Some(2));
    }

    #[test]
    fn drizzle_id_keyed_or_other_tables_are_not_email_keyed() {
        let by_id = "export const users = pgTable('users', {\n  id: uuid('id').primaryKey(),\n  email: text('email').notNull().unique(),\n});\n";
        assert_eq!(from_drizzle("schema.ts", by_id), None);
        // An email primary key on another table (an invite list) says nothing about users.
        let invites = "export const invite = pgTable(\"Invite\", {\n  email: varchar(\"email\").primaryKey(),\n});\nexport const user = pgTable(\"User\", {\n  id: uuid(\"id\").primaryKey(),\n});\n";
        assert_eq!(from_drizzle("schema.ts", invites), None);
        // A nested object's `email` key inside the user table's options is not a column.
        let nested = "export const user = pgTable(\"user\", {\n  id: text(\"id\").primaryKey(),\n  meta: json(\"meta\").$type<{\n    email: string }>().primaryKey(),\n});\n";
        assert_eq!(from_drizzle("schema.ts", nested), None);
    }

    #[test]
    fn prisma_user_model_keyed_by_email() {
        let src = "model Post {\n  email String @id\n}\n\nmodel User {\n  email    String @id\n  name     String?\n}\n";
        assert_eq!(
            from_prisma("prisma/schema.prisma", src).and_then(|k| k.evidence.line),
            Some(6)
        );
        let by_id =
            "model User {\n  id    String @id @default(cuid())\n  email String @unique\n}\n";
        assert_eq!(from_prisma("prisma/schema.prisma", by_id), None);
    }
}
