//! Meter filters and aggregations: validation, the normalised output shape, and compilation
//! to SQLite SQL that reproduces the server's *SQL* semantics (api-reference §3.3, §3.4),
//! because that is what quantities, balances and the event list use.
//!
//! Everything compiles to literals (escaped) rather than bind parameters, so a compiled
//! meter clause can be pasted into any query and cached by SQLite as one statement.

use serde_json::{Value, json};

use crate::errors::Detail;
use crate::validate::{Checker, at};

const OPERATORS: &[&str] = &["eq", "ne", "gt", "gte", "lt", "lte", "like", "not_like"];
const PROPERTY_FUNCS: &[&str] = &billing_vocab::meter::NUMERIC_AGGREGATION_NAMES;

#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    Str(String),
    Int(i64),
    Bool(bool),
}

impl FilterValue {
    fn to_json(&self) -> Value {
        match self {
            Self::Str(s) => json!(s),
            Self::Int(i) => json!(i),
            Self::Bool(b) => json!(b),
        }
    }

    /// Python's `str(value)` as the server's SQL binds it for text comparisons (bools are
    /// bound as Postgres booleans, whose text form is `t`/`f`).
    fn as_text(&self) -> String {
        match self {
            Self::Str(s) => s.clone(),
            Self::Int(i) => i.to_string(),
            Self::Bool(true) => "t".to_owned(),
            Self::Bool(false) => "f".to_owned(),
        }
    }
}

/// What a (normalised) property refers to.
#[derive(Debug, Clone, PartialEq)]
pub enum Property {
    /// An event column: `name`, `source` or `timestamp`.
    Column(&'static str),
    /// Nested metadata keys.
    Path(Vec<String>),
}

/// Strips one leading `metadata.`: the form the server stores and returns.
pub fn normalize_property(raw: &str) -> String {
    raw.strip_prefix("metadata.").unwrap_or(raw).to_owned()
}

pub fn resolve_property(normalized: &str) -> Property {
    match normalized {
        "name" => Property::Column("name"),
        "source" => Property::Column("source"),
        "timestamp" => Property::Column("timestamp"),
        other => Property::Path(other.split('.').map(str::to_owned).collect()),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub property: String,
    pub operator: String,
    pub value: FilterValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Clause(Clause),
    Group(Filter),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub conjunction: String,
    pub clauses: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Aggregation {
    Count,
    Property { func: String, property: String },
    Unique { property: String },
}

impl Filter {
    /// The output form (normalised properties).
    pub fn to_json(&self) -> Value {
        let clauses: Vec<Value> = self
            .clauses
            .iter()
            .map(|node| match node {
                Node::Clause(c) => json!({
                    "property": c.property,
                    "operator": c.operator,
                    "value": c.value.to_json(),
                }),
                Node::Group(f) => f.to_json(),
            })
            .collect();
        json!({"conjunction": self.conjunction, "clauses": clauses})
    }

    /// Parses a filter as stored or returned (already valid).
    pub fn from_json(value: &Value) -> Option<Self> {
        let mut checker = Checker::new();
        let filter = parse_filter(&mut checker, value, &[]);
        filter.filter(|_| checker.is_ok())
    }

    /// SQL boolean expression over the `events` table columns.
    pub fn to_sql(&self) -> String {
        if self.clauses.is_empty() {
            return "1".to_owned();
        }
        let joiner = if self.conjunction == "or" {
            " OR "
        } else {
            " AND "
        };
        let parts: Vec<String> = self
            .clauses
            .iter()
            .map(|node| match node {
                Node::Clause(c) => format!("({})", clause_sql(c)),
                Node::Group(f) => format!("({})", f.to_sql()),
            })
            .collect();
        parts.join(joiner)
    }
}

impl Aggregation {
    pub fn to_json(&self) -> Value {
        match self {
            Self::Count => json!({"func": "count"}),
            Self::Property { func, property } => json!({"func": func, "property": property}),
            Self::Unique { property } => json!({"func": "unique", "property": property}),
        }
    }

    pub fn from_json(value: &Value) -> Option<Self> {
        let mut checker = Checker::new();
        let aggregation = parse_aggregation(&mut checker, value, &[]);
        aggregation.filter(|_| checker.is_ok())
    }

    pub fn func(&self) -> &str {
        match self {
            Self::Count => "count",
            Self::Property { func, .. } => func,
            Self::Unique { .. } => "unique",
        }
    }

    /// The aggregation's own type guard: property aggregations only include events whose
    /// value is a JSON number (§3.4), so a string `"5"` excludes the event from the meter.
    pub fn guard_sql(&self) -> String {
        match self {
            Self::Count | Self::Unique { .. } => "1".to_owned(),
            Self::Property { property, .. } => match resolve_property(property) {
                Property::Column("timestamp") => "1".to_owned(),
                Property::Column(_) => "0".to_owned(),
                Property::Path(path) => match json_path(&path) {
                    Some(p) => format!("json_type(metadata, {p}) IN ('integer', 'real')"),
                    None => "0".to_owned(),
                },
            },
        }
    }

    /// The per-event value stored in `meter_values.value` (numeric aggregations).
    pub fn value_sql(&self) -> String {
        match self {
            Self::Property { property, .. } => match resolve_property(property) {
                Property::Column("timestamp") => "(ts / 1000000.0)".to_owned(),
                Property::Column(_) => "NULL".to_owned(),
                Property::Path(path) => match json_path(&path) {
                    Some(p) => format!("CAST(json_extract(metadata, {p}) AS REAL)"),
                    None => "NULL".to_owned(),
                },
            },
            Self::Count | Self::Unique { .. } => "NULL".to_owned(),
        }
    }

    /// The per-event JSON text stored in `meter_values.value_json` (unique only).
    pub fn value_json_sql(&self) -> String {
        match self {
            Self::Unique { property } => {
                let path: Vec<String> = property.split('.').map(str::to_owned).collect();
                match json_path(&path) {
                    Some(p) => format!("(metadata -> {p})"),
                    None => "NULL".to_owned(),
                }
            }
            _ => "NULL".to_owned(),
        }
    }

    /// The aggregate over `meter_values` rows (same results as `aggregate_sql` on events).
    pub fn materialized_aggregate_sql(&self) -> String {
        match self {
            Self::Count => "COUNT(*)".to_owned(),
            Self::Property { func, .. } => format!("{}(value)", func.to_ascii_uppercase()),
            Self::Unique { .. } => "COUNT(DISTINCT value_json)".to_owned(),
        }
    }

    /// The aggregate expression over matching rows (NULL when no row matched, except count).
    pub fn aggregate_sql(&self) -> String {
        match self {
            Self::Count => "COUNT(*)".to_owned(),
            Self::Property { func, property } => {
                let value = match resolve_property(property) {
                    Property::Column("timestamp") => "(ts / 1000000.0)".to_owned(),
                    Property::Column(_) => "NULL".to_owned(),
                    Property::Path(path) => match json_path(&path) {
                        Some(p) => format!("CAST(json_extract(metadata, {p}) AS REAL)"),
                        None => "NULL".to_owned(),
                    },
                };
                format!("{}({value})", func.to_ascii_uppercase())
            }
            Self::Unique { property } => {
                // Always a metadata path, even `name` (§3.4); distinct by JSON value.
                let path: Vec<String> = property.split('.').map(str::to_owned).collect();
                match json_path(&path) {
                    Some(p) => format!("COUNT(DISTINCT (metadata -> {p}))"),
                    None => "0".to_owned(),
                }
            }
        }
    }
}

/// A SQL string literal.
pub fn sql_str(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A quoted SQLite JSON path literal; `None` for keys SQLite paths cannot address.
fn json_path(keys: &[String]) -> Option<String> {
    let mut path = String::from("$");
    for key in keys {
        if key.contains('"') {
            return None;
        }
        path.push_str(".\"");
        path.push_str(key);
        path.push('"');
    }
    Some(sql_str(&path))
}

/// Postgres `LIKE '%' || v || '%'` as a case-sensitive SQLite GLOB: `%` and `_` stay
/// wildcards (the server does not escape them) and a backslash escapes the next character.
pub fn like_to_glob(value: &str) -> String {
    let mut glob = String::from("*");
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => glob.push('*'),
            '_' => glob.push('?'),
            '\\' => {
                if let Some(next) = chars.next() {
                    push_glob_literal(&mut glob, next);
                }
            }
            other => push_glob_literal(&mut glob, other),
        }
    }
    glob.push('*');
    glob
}

fn push_glob_literal(glob: &mut String, c: char) {
    match c {
        '*' => glob.push_str("[*]"),
        '?' => glob.push_str("[?]"),
        '[' => glob.push_str("[[]"),
        other => glob.push(other),
    }
}

fn sql_cmp(operator: &str) -> &'static str {
    match operator {
        "eq" => "=",
        "ne" => "<>",
        "gt" => ">",
        "gte" => ">=",
        "lt" => "<",
        _ => "<=",
    }
}

fn is_like(operator: &str) -> bool {
    operator == "like" || operator == "not_like"
}

fn glob_test(text_expr: &str, operator: &str, needle: &str) -> String {
    let not = if operator == "not_like" { "NOT " } else { "" };
    format!("{text_expr} {not}GLOB {}", sql_str(&like_to_glob(needle)))
}

fn clause_sql(clause: &Clause) -> String {
    let op = clause.operator.as_str();
    match resolve_property(&clause.property) {
        Property::Column(column @ ("name" | "source")) => match &clause.value {
            FilterValue::Str(s) if is_like(op) => glob_test(column, op, s),
            FilterValue::Str(s) => format!("{column} {} {}", sql_cmp(op), sql_str(s)),
            _ => "0".to_owned(),
        },
        Property::Column(_) => {
            // timestamp: epoch seconds cast to bigint (rounded), compared to an int value.
            let epoch = "CAST(round(ts / 1000000.0) AS INTEGER)";
            match &clause.value {
                FilterValue::Int(i) if is_like(op) => {
                    glob_test(&format!("CAST({epoch} AS TEXT)"), op, &i.to_string())
                }
                FilterValue::Int(i) => format!("{epoch} {} {i}", sql_cmp(op)),
                _ => "0".to_owned(),
            }
        }
        Property::Path(path) => {
            let Some(p) = json_path(&path) else {
                return "NULL".to_owned();
            };
            let kind = format!("json_type(metadata, {p})");
            if is_like(op) {
                // Text form of the JSON value; JSON null and missing keys are NULL and fail
                // both `like` and `not_like`.
                let text = format!(
                    "(CASE {kind} WHEN 'text' THEN json_extract(metadata, {p}) WHEN 'null' THEN NULL ELSE (metadata -> {p}) END)"
                );
                return glob_test(&text, op, &clause.value.as_text());
            }
            let cmp = sql_cmp(op);
            let text_branch = format!(
                "json_extract(metadata, {p}) {cmp} {}",
                sql_str(&clause.value.as_text())
            );
            let number_branch = match &clause.value {
                FilterValue::Int(i) => {
                    format!("CAST(json_extract(metadata, {p}) AS REAL) {cmp} {i}")
                }
                FilterValue::Bool(b) => {
                    format!(
                        "CAST(json_extract(metadata, {p}) AS REAL) {cmp} {}",
                        i32::from(*b)
                    )
                }
                FilterValue::Str(_) => "0".to_owned(),
            };
            let (true_branch, false_branch) = match &clause.value {
                FilterValue::Bool(b) => {
                    let v = i32::from(*b);
                    (format!("1 {cmp} {v}"), format!("0 {cmp} {v}"))
                }
                _ => ("0".to_owned(), "0".to_owned()),
            };
            format!(
                "CASE {kind} WHEN 'text' THEN ({text_branch}) WHEN 'integer' THEN ({number_branch}) \
                 WHEN 'real' THEN ({number_branch}) WHEN 'true' THEN ({true_branch}) \
                 WHEN 'false' THEN ({false_branch}) ELSE NULL END"
            )
        }
    }
}

/// Validates a `Filter` body, reporting pydantic-style errors under `loc`.
pub fn parse_filter(checker: &mut Checker, value: &Value, loc: &[Value]) -> Option<Filter> {
    let obj = checker.object(value, loc)?;
    let conjunction = checker
        .required(obj, "conjunction", loc)
        .and_then(|v| checker.enumeration(v, at(loc, "conjunction"), &["and", "or"]));
    let clauses_loc = at(loc, "clauses");
    let mut clauses = Vec::new();
    let mut ok = true;
    if let Some(list) = checker
        .required(obj, "clauses", loc)
        .and_then(|v| checker.list(v, clauses_loc.clone()))
    {
        for (i, item) in list.iter().enumerate() {
            let item_loc = at(&clauses_loc, i);
            // The union `FilterClause | Filter`: the first member that validates; when
            // neither does, the errors of both, in that order (as pydantic lists them).
            let mut as_clause = Checker::new();
            let mut as_group = Checker::new();
            let node = parse_clause(&mut as_clause, item, &at(&item_loc, "FilterClause"))
                .map(Node::Clause)
                .or_else(|| {
                    parse_filter(&mut as_group, item, &at(&item_loc, "Filter")).map(Node::Group)
                });
            if node.is_none() {
                checker.errors.extend(as_clause.errors);
                checker.errors.extend(as_group.errors);
            }
            match node {
                Some(node) => clauses.push(node),
                None => ok = false,
            }
        }
    } else {
        ok = false;
    }
    Some(Filter {
        conjunction: conjunction?,
        clauses,
    })
    .filter(|_| ok)
}

fn parse_clause(checker: &mut Checker, value: &Value, loc: &[Value]) -> Option<Clause> {
    let obj = checker.object(value, loc)?;
    let property = checker
        .required(obj, "property", loc)
        .and_then(|v| checker.string(v, at(loc, "property"), 0, None));
    let operator = checker
        .required(obj, "operator", loc)
        .and_then(|v| checker.enumeration(v, at(loc, "operator"), OPERATORS));
    let filter_value = checker
        .required(obj, "value", loc)
        .and_then(|v| parse_filter_value(checker, v, at(loc, "value")));
    Some(Clause {
        property: normalize_property(&property?),
        operator: operator?,
        value: filter_value?,
    })
}

/// `constr(max_length=1000) | conint(int32) | bool`; `2.0` is int 2, `1.5` and null are
/// rejected. A value no member accepts gets one error per member, labelled like pydantic's
/// union (`constrained-str`, `constrained-int`, `bool`), as the server lists them.
fn parse_filter_value(
    checker: &mut Checker,
    value: &Value,
    loc: Vec<Value>,
) -> Option<FilterValue> {
    let as_int = |n: &serde_json::Number| {
        n.as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
    };
    match value {
        Value::String(s) if s.chars().count() <= 1000 => return Some(FilterValue::Str(s.clone())),
        Value::Bool(b) => return Some(FilterValue::Bool(*b)),
        Value::Number(n) => {
            if let Some(i) = as_int(n).filter(|i| i32::try_from(*i).is_ok()) {
                return Some(FilterValue::Int(i));
            }
        }
        _ => {}
    }
    let mut member = |label: &str, kind: &str, msg: String, ctx: Option<Value>| {
        let detail = Detail::new(kind, at(&loc, label), msg, value.clone());
        checker.push(match ctx {
            Some(ctx) => detail.with_ctx(ctx),
            None => detail,
        });
    };
    let unparsable_bool = "Input should be a valid boolean, unable to interpret input";
    match value {
        Value::String(_) => {
            member(
                "constrained-str",
                "string_too_long",
                "String should have at most 1000 characters".into(),
                Some(json!({"max_length": 1000})),
            );
            member(
                "constrained-int",
                "int_parsing",
                "Input should be a valid integer, unable to parse string as an integer".into(),
                None,
            );
            member("bool", "bool_parsing", unparsable_bool.into(), None);
        }
        Value::Number(n) => {
            member(
                "constrained-str",
                "string_type",
                "Input should be a valid string".into(),
                None,
            );
            match as_int(n) {
                Some(i) if i > 0 => member(
                    "constrained-int",
                    "less_than_equal",
                    format!("Input should be less than or equal to {}", i32::MAX),
                    Some(json!({"le": i32::MAX})),
                ),
                Some(_) => member(
                    "constrained-int",
                    "greater_than_equal",
                    format!("Input should be greater than or equal to {}", i32::MIN),
                    Some(json!({"ge": i32::MIN})),
                ),
                None => member(
                    "constrained-int",
                    "int_from_float",
                    "Input should be a valid integer, got a number with a fractional part".into(),
                    None,
                ),
            }
            // pydantic's lax bool reads the ints 0 and 1 only; other ints "cannot be
            // interpreted", floats are the wrong type.
            if n.is_f64() {
                member(
                    "bool",
                    "bool_type",
                    "Input should be a valid boolean".into(),
                    None,
                );
            } else {
                member("bool", "bool_parsing", unparsable_bool.into(), None);
            }
        }
        _ => {
            member(
                "constrained-str",
                "string_type",
                "Input should be a valid string".into(),
                None,
            );
            member(
                "constrained-int",
                "int_type",
                "Input should be a valid integer".into(),
                None,
            );
            member(
                "bool",
                "bool_type",
                "Input should be a valid boolean".into(),
                None,
            );
        }
    }
    None
}

/// Validates an aggregation body (discriminated by `func`).
pub fn parse_aggregation(
    checker: &mut Checker,
    value: &Value,
    loc: &[Value],
) -> Option<Aggregation> {
    let obj = checker.object(value, loc)?;
    let func = match obj.get("func") {
        Some(Value::String(f)) => f.clone(),
        Some(other) => {
            checker.push(Detail::new(
                "union_tag_invalid",
                loc.to_vec(),
                "Input tag '{other}' found using 'func' does not match any of the expected tags: 'count', 'sum', 'max', 'min', 'avg', 'unique'"
                    .replace("{other}", &other.to_string()),
                value.clone(),
            ));
            return None;
        }
        None => {
            checker.push(Detail::new(
                "union_tag_not_found",
                loc.to_vec(),
                "Unable to extract tag using discriminator 'func'",
                value.clone(),
            ));
            return None;
        }
    };
    match func.as_str() {
        "count" => Some(Aggregation::Count),
        "unique" => {
            let loc = at(loc, "unique");
            let property = checker
                .required(obj, "property", &loc)
                .and_then(|v| checker.string(v, at(&loc, "property"), 0, None))?;
            Some(Aggregation::Unique {
                property: normalize_property(&property),
            })
        }
        f if PROPERTY_FUNCS.contains(&f) => {
            let loc = at(loc, f);
            let property = checker
                .required(obj, "property", &loc)
                .and_then(|v| checker.string(v, at(&loc, "property"), 0, None))?;
            Some(Aggregation::Property {
                func: f.to_owned(),
                property: normalize_property(&property),
            })
        }
        other => {
            checker.push(Detail::new(
                "union_tag_invalid",
                loc.to_vec(),
                format!(
                    "Input tag '{other}' found using 'func' does not match any of the expected tags: 'count', 'sum', 'max', 'min', 'avg', 'unique'"
                ),
                value.clone(),
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_prefix_is_stripped_once() {
        assert_eq!(normalize_property("metadata.totalTokens"), "totalTokens");
        assert_eq!(normalize_property("metadata.metadata.x"), "metadata.x");
        assert_eq!(resolve_property("name"), Property::Column("name"));
        assert_eq!(
            resolve_property("_llm.total_tokens"),
            Property::Path(vec!["_llm".into(), "total_tokens".into()])
        );
    }

    #[test]
    fn like_wildcards_are_not_escaped_but_glob_specials_are() {
        assert_eq!(like_to_glob("a%b_c"), "*a*b?c*");
        assert_eq!(like_to_glob("x*y?[z"), "*x[*]y[?][[]z*");
        assert_eq!(like_to_glob("100\\%"), "*100%*");
    }

    #[test]
    fn filter_values_follow_the_union_rules() {
        let mut checker = Checker::new();
        assert_eq!(
            parse_filter_value(&mut checker, &json!(2.0), vec![]),
            Some(FilterValue::Int(2))
        );
        assert_eq!(
            parse_filter_value(&mut checker, &json!("5"), vec![]),
            Some(FilterValue::Str("5".into()))
        );
        assert!(parse_filter_value(&mut checker, &json!(1.5), vec![]).is_none());
        assert!(parse_filter_value(&mut checker, &json!(null), vec![]).is_none());
        assert!(parse_filter_value(&mut checker, &json!(3_000_000_000_i64), vec![]).is_none());
    }
}
