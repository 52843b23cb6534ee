//! The Logs page's list: REST pages (newest first, keyset-paginated by `next_before`) merged with
//! calls pushed by the live feed. Live calls carry no database id yet, so rows are matched by
//! `request_id`, and a live row is replaced by its stored version when a page brings it.

use shared::live::LiveCall;
use shared::logs::{CallLogView, LogsPage};

use crate::query::encode;

/// Rows kept on screen; beyond this the oldest are dropped (and "load more" fetches them again).
pub const MAX_ROWS: usize = 2_000;
/// Rows per REST page.
pub const PAGE_SIZE: u32 = 50;

/// Which calls `status` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFilter {
    #[default]
    Any,
    /// Status below 400.
    Success,
    /// Status 400 or above.
    Error,
    Exact(i32),
}

impl StatusFilter {
    /// The `status` query parameter (`None`: no filter).
    pub fn query(self) -> Option<String> {
        match self {
            StatusFilter::Any => None,
            StatusFilter::Success => Some("success".into()),
            StatusFilter::Error => Some("error".into()),
            StatusFilter::Exact(code) => Some(code.to_string()),
        }
    }

    /// From the filter form's text: empty, `success`, `error` or a status code.
    pub fn parse(text: &str) -> Option<StatusFilter> {
        match text.trim() {
            "" | "any" => Some(StatusFilter::Any),
            "success" => Some(StatusFilter::Success),
            "error" => Some(StatusFilter::Error),
            code => code.parse().ok().map(StatusFilter::Exact),
        }
    }

    pub fn keeps(self, status: i32) -> bool {
        match self {
            StatusFilter::Any => true,
            StatusFilter::Success => status < 400,
            StatusFilter::Error => status >= 400,
            StatusFilter::Exact(code) => status == code,
        }
    }
}

/// The endpoints (client surfaces) a call can come in on, as the call log names them.
pub const ENDPOINTS: &[&str] = &["chat/completions", "messages", "responses", "embeddings"];

/// The Logs page's filters, as the query of `GET /api/logs`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogFilter {
    pub key_id: Option<i64>,
    pub provider: Option<String>,
    pub model: Option<String>,
    /// The endpoint the call came in on (`messages`, `chat/completions`, …).
    pub endpoint: Option<String>,
    pub status: StatusFilter,
    /// Unix ms, inclusive.
    pub since: Option<i64>,
    /// Unix ms, exclusive.
    pub until: Option<i64>,
}

impl LogFilter {
    /// `/api/logs?…` for one page. Only the filters that are set are sent, so a server that does
    /// not know a parameter is not asked about it.
    pub fn path(&self, limit: u32, before: Option<i64>) -> String {
        let mut query = vec![format!("limit={limit}")];
        if let Some(before) = before {
            query.push(format!("before={before}"));
        }
        if let Some(id) = self.key_id {
            query.push(format!("key_id={id}"));
        }
        if let Some(provider) = non_empty(&self.provider) {
            query.push(format!("provider={}", encode(provider)));
        }
        if let Some(model) = non_empty(&self.model) {
            query.push(format!("model={}", encode(model)));
        }
        if let Some(endpoint) = non_empty(&self.endpoint) {
            query.push(format!("endpoint={}", encode(endpoint)));
        }
        if let Some(status) = self.status.query() {
            query.push(format!("status={status}"));
        }
        if let Some(since) = self.since {
            query.push(format!("since={since}"));
        }
        if let Some(until) = self.until {
            query.push(format!("until={until}"));
        }
        format!("/api/logs?{}", query.join("&"))
    }

    /// Whether a row (a live call's, or one kept from an earlier filter) belongs in the list.
    pub fn keeps(&self, row: &LogRow) -> bool {
        self.key_id.is_none_or(|id| row.key_id == Some(id))
            && non_empty(&self.provider).is_none_or(|p| row.provider.as_deref() == Some(p))
            && non_empty(&self.model).is_none_or(|m| row.model == m)
            && non_empty(&self.endpoint).is_none_or(|e| row.endpoint == e)
            && self.status.keeps(row.status)
            && self.since.is_none_or(|t| row.created_at >= t)
            && self.until.is_none_or(|t| row.created_at < t)
    }
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// One line of the list: a stored call, or a live one not yet fetched from the database.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRow {
    /// The database id; `None` for a call that so far only came through the live feed.
    pub id: Option<i64>,
    pub request_id: String,
    pub created_at: i64,
    pub key_id: Option<i64>,
    pub key_name: Option<String>,
    pub provider: Option<String>,
    pub model: String,
    pub endpoint: String,
    pub stream: bool,
    pub status: i32,
    pub error: Option<String>,
    pub latency_ms: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_usd: f64,
    pub attempts: i32,
}

impl From<&CallLogView> for LogRow {
    fn from(v: &CallLogView) -> Self {
        LogRow {
            id: Some(v.id),
            request_id: v.request_id.clone(),
            created_at: v.created_at,
            key_id: v.key_id,
            key_name: v.key_name.clone(),
            provider: v.provider.clone(),
            model: v.model.clone(),
            endpoint: v.endpoint.clone(),
            stream: v.stream,
            status: v.status,
            error: v.error.clone(),
            latency_ms: v.latency_ms,
            prompt_tokens: v.prompt_tokens,
            completion_tokens: v.completion_tokens,
            cost_usd: v.cost_usd,
            attempts: v.attempts,
        }
    }
}

impl From<&LiveCall> for LogRow {
    fn from(c: &LiveCall) -> Self {
        LogRow {
            id: None,
            request_id: c.request_id.clone(),
            created_at: c.created_at,
            key_id: c.key_id,
            key_name: c.key_name.clone(),
            provider: c.provider.clone(),
            model: c.model.clone(),
            endpoint: c.endpoint.clone(),
            stream: c.stream,
            status: c.status,
            error: c.error.clone(),
            latency_ms: c.latency_ms,
            prompt_tokens: c.prompt_tokens,
            completion_tokens: c.completion_tokens,
            cost_usd: c.cost_usd,
            attempts: c.attempts,
        }
    }
}

/// The list on screen and where the next (older) page starts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogList {
    pub rows: Vec<LogRow>,
    /// `before` for "load more"; `None` when the oldest call is shown.
    pub next_before: Option<i64>,
}

impl LogList {
    /// The first page of a (re)load: replaces everything, but keeps live rows newer than the
    /// page that the database did not have yet (the log writer batches its inserts).
    pub fn first_page(&mut self, page: &LogsPage, filter: &LogFilter) {
        let newest_stored = page.data.first().map(|v| v.created_at);
        let pending: Vec<LogRow> = self
            .rows
            .iter()
            .filter(|r| r.id.is_none())
            // Live rows were let in by the filter of their time, which may not be this page's.
            .filter(|r| filter.keeps(r))
            .filter(|r| newest_stored.is_none_or(|t| r.created_at >= t))
            .filter(|r| !page.data.iter().any(|v| v.request_id == r.request_id))
            .cloned()
            .collect();
        self.rows = pending;
        self.rows.extend(page.data.iter().map(LogRow::from));
        self.next_before = page.next_before;
        self.trim();
    }

    /// An older page ("load more"): appended, skipping rows already shown.
    pub fn older_page(&mut self, page: &LogsPage) {
        for view in &page.data {
            match self
                .rows
                .iter_mut()
                .find(|r| r.request_id == view.request_id)
            {
                Some(row) => *row = LogRow::from(view),
                None => self.rows.push(LogRow::from(view)),
            }
        }
        self.next_before = page.next_before;
        self.trim();
    }

    /// A call from the live feed: prepended if the filter keeps it and it is not shown yet.
    /// Returns whether the list changed.
    pub fn live_call(&mut self, call: &LiveCall, filter: &LogFilter) -> bool {
        if self.rows.iter().any(|r| r.request_id == call.request_id) {
            return false;
        }
        let row = LogRow::from(call);
        if !filter.keeps(&row) {
            return false;
        }
        let at = self
            .rows
            .iter()
            .position(|r| r.created_at <= call.created_at)
            .unwrap_or(self.rows.len());
        self.rows.insert(at, row);
        self.trim();
        true
    }

    /// Drops the oldest rows beyond [`MAX_ROWS`]; "load more" then continues after the last row
    /// kept that has a database id.
    fn trim(&mut self) {
        if self.rows.len() <= MAX_ROWS {
            return;
        }
        self.rows.truncate(MAX_ROWS);
        if let Some(id) = self.rows.iter().rev().find_map(|r| r.id) {
            self.next_before = Some(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(request_id: &str, created_at: i64, status: i32) -> LiveCall {
        LiveCall {
            request_id: request_id.into(),
            created_at,
            key_id: Some(1),
            key_name: Some("k".into()),
            provider: Some("openai".into()),
            model: "gpt-4o-mini".into(),
            endpoint: "chat/completions".into(),
            stream: false,
            status,
            error: None,
            latency_ms: 12,
            ttfb_ms: Some(5),
            prompt_tokens: 12,
            completion_tokens: 5,
            cost_usd: 0.001,
            attempts: 1,
            client_key: None,
        }
    }

    fn stored(id: i64, request_id: &str, created_at: i64) -> CallLogView {
        CallLogView {
            id,
            created_at,
            request_id: request_id.into(),
            key_id: Some(1),
            key_name: Some("k".into()),
            client_key_id: None,
            provider: Some("openai".into()),
            model: "gpt-4o-mini".into(),
            endpoint: "chat/completions".into(),
            stream: false,
            status: 200,
            error: None,
            latency_ms: 12,
            ttfb_ms: Some(5),
            prompt_tokens: 12,
            completion_tokens: 5,
            cached_tokens: 0,
            total_tokens: 17,
            cost_usd: 0.001,
            attempts: 1,
            attempt_trail: vec![],
            prices: None,
        }
    }

    #[test]
    fn the_query_names_only_the_filters_set() {
        let f = LogFilter::default();
        assert_eq!(f.path(50, None), "/api/logs?limit=50");
        let f = LogFilter {
            key_id: Some(3),
            provider: Some("openai".into()),
            model: Some("gpt 4o/mini".into()),
            endpoint: Some("chat/completions".into()),
            status: StatusFilter::Exact(429),
            since: Some(1_000),
            until: Some(2_000),
        };
        assert_eq!(
            f.path(50, Some(99)),
            "/api/logs?limit=50&before=99&key_id=3&provider=openai&model=gpt%204o%2Fmini&endpoint=chat%2Fcompletions&status=429&since=1000&until=2000"
        );
        let blank = LogFilter {
            provider: Some(" ".into()),
            model: Some(String::new()),
            ..Default::default()
        };
        assert_eq!(blank.path(10, None), "/api/logs?limit=10");
    }

    #[test]
    fn status_filters() {
        assert_eq!(StatusFilter::parse(""), Some(StatusFilter::Any));
        assert_eq!(StatusFilter::parse("error"), Some(StatusFilter::Error));
        assert_eq!(StatusFilter::parse("429"), Some(StatusFilter::Exact(429)));
        assert_eq!(StatusFilter::parse("teapot"), None);
        assert!(StatusFilter::Success.keeps(200) && !StatusFilter::Success.keeps(500));
        assert!(StatusFilter::Error.keeps(499) && !StatusFilter::Error.keeps(399));
    }

    #[test]
    fn live_calls_are_filtered_like_the_server_filters() {
        let call = LogRow::from(&live("a", 1_500, 200));
        assert!(LogFilter::default().keeps(&call));
        let by_key = LogFilter {
            key_id: Some(2),
            ..Default::default()
        };
        assert!(!by_key.keeps(&call));
        let by_provider = LogFilter {
            provider: Some("anthropic".into()),
            ..Default::default()
        };
        assert!(!by_provider.keeps(&call));
        let by_endpoint = |e: &str| LogFilter {
            endpoint: Some(e.into()),
            ..Default::default()
        };
        assert!(!by_endpoint("messages").keeps(&call));
        assert!(by_endpoint("chat/completions").keeps(&call));
        let errors = LogFilter {
            status: StatusFilter::Error,
            ..Default::default()
        };
        assert!(!errors.keeps(&call));
        let window = LogFilter {
            since: Some(1_000),
            until: Some(1_500),
            ..Default::default()
        };
        assert!(!window.keeps(&call), "until is exclusive");
        let window = LogFilter {
            since: Some(1_500),
            until: Some(1_501),
            ..Default::default()
        };
        assert!(window.keeps(&call));
    }

    #[test]
    fn live_calls_are_prepended_once_and_in_time_order() {
        let mut list = LogList::default();
        list.first_page(
            &LogsPage {
                data: vec![stored(2, "b", 200), stored(1, "a", 100)],
                next_before: None,
            },
            &LogFilter::default(),
        );
        assert!(list.live_call(&live("c", 300, 200), &LogFilter::default()));
        assert!(
            !list.live_call(&live("c", 300, 200), &LogFilter::default()),
            "duplicate"
        );
        assert!(
            !list.live_call(&live("b", 200, 200), &LogFilter::default()),
            "already stored"
        );
        assert!(
            list.live_call(&live("d", 250, 200), &LogFilter::default()),
            "late arrival"
        );
        let ids: Vec<&str> = list.rows.iter().map(|r| r.request_id.as_str()).collect();
        assert_eq!(ids, ["c", "d", "b", "a"]);
        assert_eq!(list.rows[0].id, None);
    }

    #[test]
    fn a_reload_replaces_live_rows_by_their_stored_version() {
        let mut list = LogList::default();
        list.live_call(&live("c", 300, 200), &LogFilter::default());
        list.live_call(&live("d", 400, 200), &LogFilter::default());
        // The database has c already, not yet d.
        list.first_page(
            &LogsPage {
                data: vec![stored(3, "c", 300), stored(2, "b", 200)],
                next_before: Some(2),
            },
            &LogFilter::default(),
        );
        let ids: Vec<(Option<i64>, &str)> = list
            .rows
            .iter()
            .map(|r| (r.id, r.request_id.as_str()))
            .collect();
        assert_eq!(ids, [(None, "d"), (Some(3), "c"), (Some(2), "b")]);
        assert_eq!(list.next_before, Some(2));
    }

    /// A live row let in under one filter does not stay when the filter changes to one it does
    /// not match (it made the Logs page show other models' calls under a model filter).
    #[test]
    fn a_first_page_drops_live_rows_its_filter_does_not_keep() {
        let mut list = LogList::default();
        list.live_call(&live("c", 300, 200), &LogFilter::default());
        let errors = LogFilter {
            status: StatusFilter::Error,
            ..Default::default()
        };
        list.first_page(
            &LogsPage {
                data: vec![],
                next_before: None,
            },
            &errors,
        );
        assert!(list.rows.is_empty(), "{:?}", list.rows);
        list.live_call(&live("d", 400, 502), &errors);
        list.first_page(
            &LogsPage {
                data: vec![],
                next_before: None,
            },
            &errors,
        );
        let ids: Vec<&str> = list.rows.iter().map(|r| r.request_id.as_str()).collect();
        assert_eq!(
            ids,
            ["d"],
            "a live row the filter keeps stays until it is stored"
        );
    }

    #[test]
    fn older_pages_append_without_duplicates() {
        let mut list = LogList::default();
        list.first_page(
            &LogsPage {
                data: vec![stored(3, "c", 300), stored(2, "b", 200)],
                next_before: Some(2),
            },
            &LogFilter::default(),
        );
        list.older_page(&LogsPage {
            data: vec![stored(2, "b", 200), stored(1, "a", 100)],
            next_before: None,
        });
        let ids: Vec<i64> = list.rows.iter().filter_map(|r| r.id).collect();
        assert_eq!(ids, [3, 2, 1]);
        assert_eq!(list.next_before, None);
    }

    #[test]
    fn the_list_stays_bounded_and_pagination_resumes_after_the_cut() {
        let mut list = LogList::default();
        let data: Vec<CallLogView> = (0..MAX_ROWS as i64)
            .rev()
            .map(|i| stored(i + 10, &format!("s{i}"), 10_000 + i))
            .collect();
        list.first_page(
            &LogsPage {
                data,
                next_before: Some(10),
            },
            &LogFilter::default(),
        );
        for i in 0..5 {
            list.live_call(
                &live(&format!("l{i}"), 100_000 + i, 200),
                &LogFilter::default(),
            );
        }
        assert_eq!(list.rows.len(), MAX_ROWS);
        assert_eq!(list.rows[0].request_id, "l4");
        assert_eq!(
            list.next_before,
            Some(15),
            "continues after the last stored row kept"
        );
    }
}
