//! `{items, pagination:{total_count, max_page}}` lists, walked page by page.

use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::client::{ApiRequest, Client};
use crate::error::ApiError;

/// The server clamps larger limits to 100 silently.
pub const MAX_PAGE_SIZE: u32 = 100;

/// A guard against a server that never reports the last page.
const MAX_PAGES: u32 = 10_000;

#[derive(Debug, Clone, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub pagination: Pagination,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Pagination {
    pub total_count: u64,
    pub max_page: u64,
}

/// Walks a list endpoint page by page (100 items per request).
///
/// ```ignore
/// let mut pages = client.meters(MeterListQuery::default());
/// while let Some(batch) = pages.next_page().await? { ... }
/// // or: let all = pages.collect_all().await?;
/// ```
#[derive(Debug)]
pub struct Pages<'c, T> {
    client: &'c Client,
    path: String,
    query: Vec<(String, String)>,
    next: Option<u32>,
    _item: PhantomData<fn() -> T>,
}

impl<'c, T: DeserializeOwned> Pages<'c, T> {
    pub(crate) fn new(
        client: &'c Client,
        path: impl Into<String>,
        query: Vec<(String, String)>,
    ) -> Self {
        Self {
            client,
            path: path.into(),
            query,
            next: Some(1),
            _item: PhantomData,
        }
    }

    /// The next page's items, or `None` after the last page.
    pub async fn next_page(&mut self) -> Result<Option<Vec<T>>, ApiError> {
        let Some(page) = self.next else {
            return Ok(None);
        };
        let mut query = self.query.clone();
        query.push(("page".into(), page.to_string()));
        query.push(("limit".into(), MAX_PAGE_SIZE.to_string()));
        let result: Page<T> = self
            .client
            .send(ApiRequest::get(self.path.clone()).query(query))
            .await?;
        // A page past the end comes back empty with max_page 0, so an empty page also ends.
        let last = result.items.is_empty()
            || u64::from(page) >= result.pagination.max_page
            || page >= MAX_PAGES;
        self.next = if last { None } else { Some(page + 1) };
        Ok(Some(result.items))
    }

    pub async fn collect_all(mut self) -> Result<Vec<T>, ApiError> {
        let mut all = Vec::new();
        while let Some(items) = self.next_page().await? {
            all.extend(items);
        }
        Ok(all)
    }
}
