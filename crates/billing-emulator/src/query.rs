//! Query strings with repeated keys (`?customer_id=a&customer_id=b`), pagination and
//! sorting, validated with FastAPI's 422 shapes (`loc` starting with `"query"`).

use serde_json::{Value, json};

use crate::errors::{ApiError, ApiResult, Detail};
use crate::loc;

#[derive(Debug, Default, Clone)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

fn hex(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|d| d as u8)
}

fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Params {
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        Self { pairs }
    }

    /// Last value wins for scalar parameters, as in Starlette.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// `metadata[key]=value` pairs.
    pub fn metadata(&self) -> Vec<(String, String)> {
        self.pairs
            .iter()
            .filter_map(|(k, v)| {
                let key = k.strip_prefix("metadata[")?.strip_suffix(']')?;
                Some((key.to_owned(), v.clone()))
            })
            .collect()
    }

    pub fn bool(&self, key: &str) -> ApiResult<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" | "t" | "y" => Ok(Some(true)),
                "false" | "0" | "no" | "off" | "f" | "n" => Ok(Some(false)),
                _ => Err(ApiError::validation(Detail::new(
                    "bool_parsing",
                    loc!["query", key],
                    "Input should be a valid boolean, unable to interpret input",
                    json!(v),
                ))),
            },
        }
    }

    pub fn int(&self, key: &str, default: i64, min: i64, max: Option<i64>) -> ApiResult<i64> {
        let Some(raw) = self.get(key) else {
            return Ok(default);
        };
        let value: i64 = raw.parse().map_err(|_| {
            ApiError::validation(Detail::new(
                "int_parsing",
                loc!["query", key],
                "Input should be a valid integer, unable to parse string as an integer",
                json!(raw),
            ))
        })?;
        if value < min {
            return Err(ApiError::validation(
                Detail::new(
                    "greater_than_equal",
                    loc!["query", key],
                    format!("Input should be greater than or equal to {min}"),
                    json!(raw),
                )
                .with_ctx(json!({"ge": min})),
            ));
        }
        if let Some(max) = max
            && value > max
        {
            return Err(ApiError::validation(
                Detail::new(
                    "less_than_equal",
                    loc!["query", key],
                    format!("Input should be less than or equal to {max}"),
                    json!(raw),
                )
                .with_ctx(json!({"le": max})),
            ));
        }
        Ok(value)
    }

    /// Repeatable UUID parameters (`customer_id`, `meter_id`, ...).
    pub fn uuids(&self, key: &str) -> ApiResult<Vec<String>> {
        let mut out = Vec::new();
        for (i, raw) in self.all(key).into_iter().enumerate() {
            match uuid::Uuid::parse_str(raw) {
                Ok(id) => out.push(id.to_string()),
                Err(err) => {
                    return Err(ApiError::validation(Detail::new(
                        "uuid_parsing",
                        loc!["query", key, i],
                        format!("Input should be a valid UUID, {err}"),
                        json!(raw),
                    )));
                }
            }
        }
        Ok(out)
    }

    /// `sorting` criteria, each optionally `-`-prefixed, from an allowed set.
    pub fn sorting(&self, allowed: &[&str], default: &str) -> ApiResult<Vec<(String, bool)>> {
        let mut raw = self.all("sorting");
        if raw.is_empty() {
            raw = vec![default];
        }
        let mut out = Vec::new();
        for (i, criterion) in raw.into_iter().enumerate() {
            let (name, descending) = match criterion.strip_prefix('-') {
                Some(name) => (name, true),
                None => (criterion, false),
            };
            if !allowed.contains(&name) {
                let mut expected: Vec<String> = Vec::new();
                for a in allowed {
                    expected.push(format!("'{a}'"));
                    expected.push(format!("'-{a}'"));
                }
                let expected = expected.join(", ");
                return Err(ApiError::validation(
                    Detail::new(
                        "enum",
                        loc!["query", "sorting", i],
                        format!("Input should be {expected}"),
                        json!(criterion),
                    )
                    .with_ctx(json!({"expected": expected})),
                ));
            }
            out.push((name.to_owned(), descending));
        }
        Ok(out)
    }
}

/// `page` (≥1) and `limit` (≥1, silently clamped to 100).
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub page: i64,
    pub limit: i64,
}

impl Page {
    pub fn from_params(params: &Params) -> ApiResult<Self> {
        let page = params.int("page", 1, 1, None)?;
        let limit = params.int("limit", 10, 1, None)?.min(100);
        Ok(Self { page, limit })
    }

    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.limit
    }

    /// The `ListResource` body. Past the end, the server's window count sees no rows and
    /// reports `total_count: 0, max_page: 0`.
    pub fn body(&self, items: Vec<Value>, total: i64) -> Value {
        let (total, max_page) = if items.is_empty() {
            (0, 0)
        } else {
            (total, (total + self.limit - 1) / self.limit)
        };
        json!({"items": items, "pagination": {"total_count": total, "max_page": max_page}})
    }

    /// Pages an in-memory list.
    pub fn slice(&self, all: Vec<Value>) -> Value {
        let total = all.len() as i64;
        let items: Vec<Value> = all
            .into_iter()
            .skip(self.offset() as usize)
            .take(self.limit as usize)
            .collect();
        self.body(items, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_and_encoding() {
        let p = Params::parse(Some("a=1&a=2&metadata%5Bk%5D=x+y&b=%2F"));
        assert_eq!(p.all("a"), ["1", "2"]);
        assert_eq!(p.get("a"), Some("2"));
        assert_eq!(p.metadata(), [("k".to_owned(), "x y".to_owned())]);
        assert_eq!(p.get("b"), Some("/"));
    }

    #[test]
    fn limit_is_clamped_and_past_the_end_is_empty() {
        let p = Params::parse(Some("limit=500&page=3"));
        let page = Page::from_params(&p).unwrap();
        assert_eq!(page.limit, 100);
        let body = page.slice(vec![json!(1); 5]);
        assert_eq!(body["pagination"]["total_count"], 0);
        assert_eq!(body["pagination"]["max_page"], 0);
        assert!(Page::from_params(&Params::parse(Some("page=0"))).is_err());
    }
}
