//! Filter operators, property resolution and type rules (api-reference §3.3), and every
//! aggregation with its type guard (§3.4).

use serde_json::{Value, json};

use super::{Harness, enc};

fn clause(property: &str, operator: &str, value: Value) -> Value {
    json!({"conjunction": "and", "clauses": [{"property": property, "operator": operator, "value": value}]})
}

/// Tags of the user events the filter matches, via `GET /v1/events/?filter=`.
async fn matching(h: &Harness, filter: &Value) -> Vec<String> {
    let body = h
        .get(&format!(
            "/v1/events/?source=user&limit=100&sorting=timestamp&filter={}",
            enc(&filter.to_string())
        ))
        .await;
    let mut tags: Vec<String> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["metadata"]["tag"].as_str().unwrap_or("?").to_owned())
        .collect();
    tags.sort();
    tags
}

#[tokio::test]
async fn every_operator_and_type_rule_matches_like_the_servers_sql() {
    let h = Harness::start().await;
    h.ingest(json!([
        {"name": "t", "external_customer_id": "u", "metadata": {"tag": "e1", "s": "abc", "n": 5, "b": true, "f": 1.5}},
        {"name": "t", "external_customer_id": "u", "metadata": {"tag": "e2", "s": "xyz", "n": 10, "b": false, "str5": "5"}},
        {"name": "t", "external_customer_id": "u", "metadata": {"tag": "e3", "s": "a_c%", "n": "10"}},
        {"name": "other", "external_customer_id": "u", "metadata": {"tag": "e4"}},
    ]))
    .await;
    let cases: Vec<(&str, Value, &[&str])> = vec![
        (
            "empty filter matches everything",
            json!({"conjunction": "and", "clauses": []}),
            &["e1", "e2", "e3", "e4"],
        ),
        (
            "name column",
            clause("name", "eq", json!("t")),
            &["e1", "e2", "e3"],
        ),
        (
            "metadata.name means the column",
            clause("metadata.name", "eq", json!("other")),
            &["e4"],
        ),
        (
            "column with a non-string value is false",
            clause("name", "eq", json!(5)),
            &[],
        ),
        (
            "string eq",
            clause("metadata.s", "eq", json!("abc")),
            &["e1"],
        ),
        (
            "ne skips missing keys",
            clause("s", "ne", json!("abc")),
            &["e2", "e3"],
        ),
        (
            "like is a substring",
            clause("s", "like", json!("b")),
            &["e1"],
        ),
        (
            "like keeps _ and % as wildcards",
            clause("s", "like", json!("a_c")),
            &["e1", "e3"],
        ),
        (
            "like is case-sensitive",
            clause("s", "like", json!("B")),
            &[],
        ),
        (
            "not_like fails on missing keys",
            clause("s", "not_like", json!("b")),
            &["e2", "e3"],
        ),
        ("number eq int", clause("n", "eq", json!(5)), &["e1"]),
        (
            "numbers compare numerically, strings lexicographically",
            clause("n", "gt", json!(9)),
            &["e2"],
        ),
        (
            "string \"10\" < \"9\"",
            clause("n", "lt", json!(9)),
            &["e1", "e3"],
        ),
        (
            "int value against a string compares text",
            clause("str5", "eq", json!(5)),
            &["e2"],
        ),
        (
            "string value against a number is false",
            clause("n", "eq", json!("5")),
            &[],
        ),
        ("bool eq true", clause("b", "eq", json!(true)), &["e1"]),
        ("bool ne true", clause("b", "ne", json!(true)), &["e2"]),
        (
            "int against a bool is false",
            clause("b", "eq", json!(1)),
            &[],
        ),
        (
            "bool against a number compares 1/0",
            clause("n", "eq", json!(true)),
            &[],
        ),
        ("float metadata", clause("f", "gt", json!(1)), &["e1"]),
        (
            "like on a JSON bool uses true/false text",
            clause("b", "like", json!("ru")),
            &["e1"],
        ),
        (
            "like with a bool value uses t/f",
            clause("b", "like", json!(true)),
            &["e1"],
        ),
        (
            "timestamp needs an int",
            clause("timestamp", "gt", json!(0)),
            &["e1", "e2", "e3", "e4"],
        ),
        (
            "timestamp with a string is false",
            clause("timestamp", "gt", json!("0")),
            &[],
        ),
        (
            "missing key never matches",
            clause("nope", "ne", json!("x")),
            &[],
        ),
        (
            "or conjunction with a nested group",
            json!({"conjunction": "or", "clauses": [
                {"property": "s", "operator": "eq", "value": "abc"},
                {"conjunction": "and", "clauses": [
                    {"property": "name", "operator": "eq", "value": "t"},
                    {"property": "b", "operator": "eq", "value": false}
                ]}
            ]}),
            &["e1", "e2"],
        ),
    ];
    let mut failures = Vec::new();
    for (name, filter, expected) in &cases {
        let got = matching(&h, filter).await;
        if got != *expected {
            failures.push(format!("{name}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn dotted_paths_reach_nested_structured_metadata() {
    let h = Harness::start().await;
    h.ingest(json!([{"name": "llm", "external_customer_id": "u", "metadata": {"tag": "a", "_llm": {
        "vendor": "openai", "model": "gpt", "input_tokens": 3, "output_tokens": 4, "total_tokens": 7}}}]))
        .await;
    assert_eq!(
        matching(&h, &clause("_llm.total_tokens", "gte", json!(7))).await,
        ["a"]
    );
    assert_eq!(
        matching(&h, &clause("metadata._llm.model", "eq", json!("gpt"))).await,
        ["a"]
    );
    let meter = h
        .meter(
            clause("name", "eq", json!("llm")),
            json!({"func": "sum", "property": "_llm.total_tokens"}),
        )
        .await;
    assert_eq!(h.total(&meter).await, 7.0);
}

#[tokio::test]
async fn every_aggregation_applies_the_number_guard() {
    let h = Harness::start().await;
    h.ingest(json!([
        {"name": "agg", "external_customer_id": "u", "metadata": {"v": 5}},
        {"name": "agg", "external_customer_id": "u", "metadata": {"v": 10}},
        {"name": "agg", "external_customer_id": "u", "metadata": {"v": "10"}},
        {"name": "agg", "external_customer_id": "u", "metadata": {"v": true}},
        {"name": "agg", "external_customer_id": "u", "metadata": {"w": 1}},
        {"name": "agg", "external_customer_id": "u", "metadata": {"v": -3}},
    ]))
    .await;
    let filter = clause("name", "eq", json!("agg"));
    let cases: Vec<(Value, f64)> = vec![
        (json!({"func": "count"}), 6.0),
        (json!({"func": "count", "property": "ignored"}), 6.0),
        (json!({"func": "sum", "property": "v"}), 12.0),
        (json!({"func": "max", "property": "metadata.v"}), 10.0),
        (json!({"func": "min", "property": "v"}), -3.0),
        (json!({"func": "avg", "property": "v"}), 4.0),
        // Distinct JSON values: 5, 10, "10", true, -3 (missing `v` is not counted).
        (json!({"func": "unique", "property": "v"}), 5.0),
        // name/source as a property make the guard false: the meter is always empty.
        (json!({"func": "sum", "property": "name"}), 0.0),
    ];
    let mut failures = Vec::new();
    for (aggregation, expected) in cases {
        let meter = h.meter(filter.clone(), aggregation.clone()).await;
        let total = h.total(&meter).await;
        if (total - expected).abs() > 1e-9 {
            failures.push(format!("{aggregation}: expected {expected}, got {total}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn meter_output_normalises_property_paths() {
    let h = Harness::start().await;
    let meter = h
        .post("/v1/meters/", json!({"name": "Norm", "filter": clause("metadata.metadata.x", "eq", json!(2.0)), "aggregation": {"func": "sum", "property": "metadata.tokens"}}))
        .await;
    assert_eq!(meter["filter"]["clauses"][0]["property"], "metadata.x");
    assert_eq!(meter["filter"]["clauses"][0]["value"], json!(2));
    assert_eq!(meter["aggregation"]["property"], "tokens");
}
