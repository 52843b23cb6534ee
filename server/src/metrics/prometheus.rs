//! The Prometheus metrics behind `GET /metrics` (OpenMetrics text, written by the
//! `prometheus-client` crate). Names follow OpenTelemetry's GenAI semantic conventions where one
//! exists (`gen_ai_client_operation_duration_seconds`, `gen_ai_client_token_usage`,
//! `gen_ai_server_time_to_first_token_seconds`), and are `api_proxy_*` otherwise.
//!
//! Two kinds of metrics:
//! - *call metrics*, counted as each call finishes ([`Metrics::call_finished`]);
//! - *state metrics* (each key's state, quota and burn rate, the writer's queue, database faults,
//!   open connections), read when `/metrics` is scraped ([`Metrics::encode`] with a
//!   [`ScrapeState`]), so they cost the request path nothing.
//!
//! Invariants:
//! - **Bounded labels.** Keys are labelled by name, providers by id, endpoints and statuses are
//!   few; a model is its own label only when it is configured (in a provider file, or listed on the
//!   key that served it), otherwise `other`. Client keys are labelled by name.
//! - **No shared lock per call.** A `prometheus-client` family keeps its series in a map behind a
//!   `RwLock`; looking twelve series up there on every call would touch that lock twelve times.
//!   Instead each worker thread caches the handles of every series a call updates, per label
//!   combination ([`SERIES_CACHE`]): a finished call costs one thread-local hash lookup and a
//!   few atomic adds (a histogram series has its own short mutex, shared only by calls with the
//!   same labels). The family map is touched only the first time a thread sees a combination.
//! - **Off means off.** With `METRICS_ENABLED=false` the handle is empty and every method returns
//!   at once.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use shared::keys::{KeyState, QuotaUnit};

use crate::config::ProviderCatalog;
use crate::routing::{KeyProfile, ModelSet, TokenUsage};

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The label of models that are not configured, and of calls no key served.
pub const OTHER: &str = "other";
/// The key and provider label of a call no key served.
pub const NONE: &str = "none";

/// Series cached per worker thread before the cache is emptied (labels are bounded, so this is
/// only reached by many keys times many models; the families keep every series regardless).
const MAX_CACHED_SERIES: usize = 4096;

/// OpenTelemetry's advised buckets for `gen_ai.client.operation.duration` (seconds).
const DURATION_BUCKETS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/// OpenTelemetry's advised buckets for `gen_ai.client.token.usage`.
const TOKEN_BUCKETS: [f64; 14] = [
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];
/// OpenTelemetry's advised buckets for `gen_ai.server.time_to_first_token` (seconds).
const TTFT_BUCKETS: [f64; 16] = [
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
/// api-proxy's own time per call is well under a millisecond; these resolve it.
const OVERHEAD_BUCKETS: [f64; 12] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    provider: String,
    model: String,
    key: String,
    endpoint: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    provider: String,
    model: String,
    key: String,
    /// `input`, `output`, `cached` (input read from the provider's cache), `cache_write` or
    /// `reasoning` (the part of `output` spent reasoning, when the upstream reports it).
    r#type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyModelLabels {
    provider: String,
    model: String,
    key: String,
}

/// The attributes OpenTelemetry's GenAI metrics carry (`gen_ai.operation.name`, …).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    gen_ai_operation_name: &'static str,
    gen_ai_provider_name: String,
    gen_ai_request_model: String,
    /// Empty on success; the HTTP status otherwise (`error.type`).
    error_type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenUsageLabels {
    gen_ai_operation_name: &'static str,
    gen_ai_provider_name: String,
    gen_ai_request_model: String,
    gen_ai_token_type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    provider: String,
    key: String,
    /// `success` or `error`.
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailoverLabels {
    endpoint: &'static str,
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClientKeyLabels {
    client_key: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClientLimitLabels {
    client_key: String,
    kind: String,
}

type FloatCounter = Counter<f64, AtomicU64>;
type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Metrics on or off; cheap to clone.
#[derive(Clone, Default)]
pub struct Metrics(Option<Arc<Families>>);

struct Families {
    /// Tells this instance's series apart in the thread caches (tests run several servers in one
    /// process).
    instance: u64,
    registry: Registry,
    /// Every model of every provider file.
    catalog_models: HashSet<String>,
    requests: Family<RequestLabels, Counter>,
    tokens: Family<TokenLabels, Counter>,
    cost: Family<KeyModelLabels, FloatCounter>,
    duration: HistogramFamily<OperationLabels>,
    token_usage: HistogramFamily<TokenUsageLabels>,
    ttft: HistogramFamily<OperationLabels>,
    overhead: HistogramFamily<EndpointLabels>,
    attempts: Family<AttemptLabels, Counter>,
    failovers: Family<FailoverLabels, Counter>,
    client_spend: Family<ClientKeyLabels, FloatCounter>,
    client_limit_hits: Family<ClientLimitLabels, Counter>,
}

/// A finished call, as the metrics see it.
pub struct FinishedCall<'a> {
    pub key: Option<&'a KeyProfile>,
    /// The model used (after any equivalent was applied).
    pub model: &'a str,
    /// The client dialect's endpoint (`chat/completions`, `messages`, …).
    pub endpoint: &'static str,
    pub status: u16,
    pub usage: &'a TokenUsage,
    pub cost_usd: f64,
    /// From the request's arrival to its end (the stream's end for a stream).
    pub duration_secs: f64,
    /// Of the successful attempt: from sending it to the upstream's response head.
    pub ttft_secs: Option<f64>,
    /// `duration_secs` less the time spent waiting on upstreams.
    pub overhead_secs: f64,
    pub attempts: i32,
    /// Each attempt's key, provider and whether it failed (in order).
    pub failed_attempts: &'a [(&'a str, &'a str)],
}

/// What the scrape reads besides the families.
#[derive(Default)]
pub struct ScrapeState {
    pub keys: Vec<KeyGauges>,
    pub writer_queue_depth: i64,
    pub writer_dropped_logs: u64,
    /// Spans the trace exporter dropped because its queue was full (0 when traces are off).
    pub trace_dropped_spans: u64,
    /// The current storage fault's label (`read_only`, `busy`, `full`), if any.
    pub db_fault: Option<&'static str>,
    /// Failed database writes so far, per fault label.
    pub db_faults: Vec<(&'static str, u64)>,
    pub open_connections: u64,
    pub in_flight: i64,
}

/// One key's state at a scrape.
pub struct KeyGauges {
    pub name: String,
    pub provider: String,
    pub state: KeyState,
    pub quota_unit: QuotaUnit,
    pub quota_remaining: Option<f64>,
    pub burn_rate_per_hour: Option<f64>,
    pub in_flight: i64,
}

static INSTANCES: AtomicU64 = AtomicU64::new(0);

impl Metrics {
    /// Metrics off: every method returns at once.
    pub fn disabled() -> Self {
        Self(None)
    }

    pub fn new(catalog: &ProviderCatalog) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "api_proxy_requests",
            "Client requests, by provider, model, key, endpoint and HTTP status",
            requests.clone(),
        );
        let tokens = Family::<TokenLabels, Counter>::default();
        registry.register(
            "api_proxy_tokens",
            "Tokens by type (input, output, cached, cache_write, reasoning)",
            tokens.clone(),
        );
        let cost = Family::<KeyModelLabels, FloatCounter>::default();
        registry.register(
            "api_proxy_cost_usd",
            "Cost of the calls in US dollars, from the model's prices",
            cost.clone(),
        );
        let duration: HistogramFamily<OperationLabels> =
            Family::new_with_constructor(|| Histogram::new(DURATION_BUCKETS));
        registry.register_with_unit(
            "gen_ai_client_operation_duration",
            "GenAI operation duration, from the request's arrival to its end",
            Unit::Seconds,
            duration.clone(),
        );
        let token_usage: HistogramFamily<TokenUsageLabels> =
            Family::new_with_constructor(|| Histogram::new(TOKEN_BUCKETS));
        registry.register(
            "gen_ai_client_token_usage",
            "Input and output tokens per call",
            token_usage.clone(),
        );
        let ttft: HistogramFamily<OperationLabels> =
            Family::new_with_constructor(|| Histogram::new(TTFT_BUCKETS));
        registry.register_with_unit(
            "gen_ai_server_time_to_first_token",
            "Time to the upstream's first byte (the response head) for successful calls",
            Unit::Seconds,
            ttft.clone(),
        );
        let overhead: HistogramFamily<EndpointLabels> =
            Family::new_with_constructor(|| Histogram::new(OVERHEAD_BUCKETS));
        registry.register_with_unit(
            "api_proxy_overhead",
            "api-proxy's own time per call: its duration less the time spent waiting on upstreams",
            Unit::Seconds,
            overhead.clone(),
        );
        let attempts = Family::<AttemptLabels, Counter>::default();
        registry.register(
            "api_proxy_upstream_attempts",
            "Upstream attempts, by key and outcome",
            attempts.clone(),
        );
        let failovers = Family::<FailoverLabels, Counter>::default();
        registry.register(
            "api_proxy_failovers",
            "Attempts that went to another key after a failed one",
            failovers.clone(),
        );
        let client_spend = Family::<ClientKeyLabels, FloatCounter>::default();
        registry.register(
            "api_proxy_client_key_spend_usd",
            "Spend per client key in US dollars",
            client_spend.clone(),
        );
        let client_limit_hits = Family::<ClientLimitLabels, Counter>::default();
        registry.register(
            "api_proxy_client_key_limit_hits",
            "Requests refused by a client key's limit, by limit kind",
            client_limit_hits.clone(),
        );
        let catalog_models = catalog
            .iter()
            .flat_map(|p| p.spec.models.iter().map(|m| m.id.clone()))
            .collect();
        Self(Some(Arc::new(Families {
            instance: INSTANCES.fetch_add(1, Ordering::Relaxed),
            registry,
            catalog_models,
            requests,
            tokens,
            cost,
            duration,
            token_usage,
            ttft,
            overhead,
            attempts,
            failovers,
            client_spend,
            client_limit_hits,
        })))
    }

    pub fn is_enabled(&self) -> bool {
        self.0.is_some()
    }

    /// Counts a finished call.
    pub fn call_finished(&self, call: &FinishedCall<'_>) {
        let Some(families) = &self.0 else {
            return;
        };
        let (provider, key) = call
            .key
            .map_or((NONE, NONE), |k| (k.provider_id(), k.name.as_str()));
        let model = families.model_label(call.key, call.model);
        let labels = SeriesLabels {
            instance: families.instance,
            provider,
            key,
            model,
            endpoint: call.endpoint,
            status: call.status,
        };
        with_series(families, &labels, |series| {
            series.requests.inc();
            let usage = call.usage;
            for (counter, tokens) in [
                (&series.input, usage.prompt),
                (&series.output, usage.completion),
                (&series.cached, usage.cached),
                (&series.cache_write, usage.cache_write),
                (&series.reasoning, usage.reasoning),
            ] {
                if tokens > 0 {
                    counter.inc_by(tokens as u64);
                }
            }
            if call.cost_usd > 0.0 {
                series.cost.inc_by(call.cost_usd);
            }
            series.duration.observe(call.duration_secs);
            if call.key.is_some() && call.status < 400 {
                series.usage_input.observe(usage.prompt.max(0) as f64);
                series.usage_output.observe(usage.completion.max(0) as f64);
                if let Some(ttft) = call.ttft_secs {
                    series.ttft.observe(ttft);
                }
                series.attempt_success.inc();
            }
            series.overhead.observe(call.overhead_secs.max(0.0));
        });
        for (key, provider) in call.failed_attempts {
            families
                .attempts
                .get_or_create(&AttemptLabels {
                    provider: (*provider).to_owned(),
                    key: (*key).to_owned(),
                    outcome: "error",
                })
                .inc();
        }
        if call.attempts > 1 {
            families
                .failovers
                .get_or_create(&FailoverLabels {
                    endpoint: call.endpoint,
                    model: model.to_owned(),
                })
                .inc_by((call.attempts - 1) as u64);
        }
    }

    /// Counts a request refused before any key was picked (a body that does not parse, a model
    /// no key serves), with `model` when it was read.
    pub fn call_refused(
        &self,
        endpoint: &'static str,
        model: Option<&str>,
        error: &crate::error::ApiError,
        arrived: std::time::Instant,
    ) {
        if !self.is_enabled() {
            return;
        }
        use actix_web::ResponseError as _;
        let elapsed = arrived.elapsed().as_secs_f64();
        self.call_finished(&FinishedCall {
            key: None,
            model: model.unwrap_or(OTHER),
            endpoint,
            status: error.status_code().as_u16(),
            usage: &TokenUsage::default(),
            cost_usd: 0.0,
            duration_secs: elapsed,
            ttft_secs: None,
            overhead_secs: elapsed,
            attempts: 0,
            failed_attempts: &[],
        });
    }

    /// Adds `usd` to a client key's spend (`api_proxy_client_key_spend_usd_total`). For the
    /// client-key limits: call it once per call that a client key paid for.
    pub fn client_key_spend(&self, client_key: &str, usd: f64) {
        if let Some(families) = &self.0 {
            if usd > 0.0 {
                families
                    .client_spend
                    .get_or_create(&ClientKeyLabels {
                        client_key: client_key.to_owned(),
                    })
                    .inc_by(usd);
            }
        }
    }

    /// Counts a request refused by a client key's limit (`api_proxy_client_key_limit_hits_total`);
    /// `kind` names the limit (`requests`, `tokens`, `budget`, …: a small fixed set).
    pub fn client_key_limit_hit(&self, client_key: &str, kind: &str) {
        if let Some(families) = &self.0 {
            families
                .client_limit_hits
                .get_or_create(&ClientLimitLabels {
                    client_key: client_key.to_owned(),
                    kind: kind.to_owned(),
                })
                .inc();
        }
    }

    /// The exposition: every family, then `state`'s gauges. `None` when metrics are off.
    pub fn encode(&self, state: &ScrapeState) -> Option<String> {
        let families = self.0.as_ref()?;
        let mut text = String::with_capacity(16 * 1024);
        encode_registry(&mut text, &families.registry).ok()?;
        encode_registry(&mut text, &state.registry()).ok()?;
        encode_eof(&mut text).ok()?;
        Some(text)
    }
}

impl Families {
    /// `model` when it is configured, else [`OTHER`].
    fn model_label<'a>(&self, key: Option<&KeyProfile>, model: &'a str) -> &'a str {
        let listed = key.is_some_and(|k| {
            k.provider.model(model).is_some()
                || matches!(&k.models, ModelSet::Listed { models, .. } if models.contains(model))
        });
        if listed || self.catalog_models.contains(model) {
            model
        } else {
            OTHER
        }
    }

    fn operation(endpoint: &'static str) -> &'static str {
        match endpoint {
            "embeddings" => "embeddings",
            _ => "chat",
        }
    }

    fn series(&self, labels: &SeriesLabels<'_>) -> Series {
        let provider = labels.provider.to_owned();
        let model = labels.model.to_owned();
        let key = labels.key.to_owned();
        let operation = Self::operation(labels.endpoint);
        let error_type = if labels.status < 400 {
            ""
        } else {
            status_label(labels.status)
        };
        let token = |r#type| {
            self.tokens
                .get_or_create(&TokenLabels {
                    provider: provider.clone(),
                    model: model.clone(),
                    key: key.clone(),
                    r#type,
                })
                .clone()
        };
        let usage = |gen_ai_token_type| {
            self.token_usage
                .get_or_create(&TokenUsageLabels {
                    gen_ai_operation_name: operation,
                    gen_ai_provider_name: provider.clone(),
                    gen_ai_request_model: model.clone(),
                    gen_ai_token_type,
                })
                .clone()
        };
        let operation_labels = OperationLabels {
            gen_ai_operation_name: operation,
            gen_ai_provider_name: provider.clone(),
            gen_ai_request_model: model.clone(),
            error_type,
        };
        Series {
            requests: self
                .requests
                .get_or_create(&RequestLabels {
                    provider: provider.clone(),
                    model: model.clone(),
                    key: key.clone(),
                    endpoint: labels.endpoint,
                    status: labels.status,
                })
                .clone(),
            input: token("input"),
            output: token("output"),
            cached: token("cached"),
            cache_write: token("cache_write"),
            reasoning: token("reasoning"),
            cost: self
                .cost
                .get_or_create(&KeyModelLabels {
                    provider: provider.clone(),
                    model: model.clone(),
                    key: key.clone(),
                })
                .clone(),
            duration: self.duration.get_or_create(&operation_labels).clone(),
            usage_input: usage("input"),
            usage_output: usage("output"),
            ttft: self.ttft.get_or_create(&operation_labels).clone(),
            overhead: self
                .overhead
                .get_or_create(&EndpointLabels {
                    endpoint: labels.endpoint,
                })
                .clone(),
            attempt_success: self
                .attempts
                .get_or_create(&AttemptLabels {
                    provider,
                    key,
                    outcome: "success",
                })
                .clone(),
        }
    }
}

/// HTTP statuses as `&'static str` (labels without an allocation); the rare others are `other`.
fn status_label(status: u16) -> &'static str {
    match status {
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        408 => "408",
        413 => "413",
        422 => "422",
        429 => "429",
        499 => "499",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        529 => "529",
        _ => OTHER,
    }
}

/// The labels that pick a call's series.
#[derive(Hash)]
struct SeriesLabels<'a> {
    instance: u64,
    provider: &'a str,
    key: &'a str,
    model: &'a str,
    endpoint: &'static str,
    status: u16,
}

struct OwnedSeriesLabels {
    instance: u64,
    provider: String,
    key: String,
    model: String,
    endpoint: &'static str,
    status: u16,
}

impl OwnedSeriesLabels {
    fn matches(&self, l: &SeriesLabels<'_>) -> bool {
        self.instance == l.instance
            && self.status == l.status
            && self.endpoint == l.endpoint
            && self.key == l.key
            && self.model == l.model
            && self.provider == l.provider
    }
}

/// Handles to every series a finished call updates (clones share the families' atomics).
struct Series {
    requests: Counter,
    input: Counter,
    output: Counter,
    cached: Counter,
    cache_write: Counter,
    reasoning: Counter,
    cost: FloatCounter,
    duration: Histogram,
    usage_input: Histogram,
    usage_output: Histogram,
    ttft: Histogram,
    overhead: Histogram,
    attempt_success: Counter,
}

type SeriesBucket = Vec<(OwnedSeriesLabels, Series)>;

thread_local! {
    /// Per worker thread: the hash of a call's labels -> the series it updates.
    static SERIES_CACHE: RefCell<(usize, HashMap<u64, SeriesBucket>)> =
        RefCell::new((0, HashMap::new()));
}

fn with_series(families: &Families, labels: &SeriesLabels<'_>, f: impl FnOnce(&Series)) {
    let hash = foldhash::fast::FixedState::with_seed(0).hash_one(labels);
    SERIES_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        let (count, map) = &mut *cache;
        if let Some((_, series)) = map
            .get(&hash)
            .and_then(|bucket| bucket.iter().find(|(owned, _)| owned.matches(labels)))
        {
            f(series);
            return;
        }
        if *count >= MAX_CACHED_SERIES {
            map.clear();
            *count = 0;
        }
        let series = families.series(labels);
        f(&series);
        *count += 1;
        map.entry(hash).or_default().push((
            OwnedSeriesLabels {
                instance: labels.instance,
                provider: labels.provider.to_owned(),
                key: labels.key.to_owned(),
                model: labels.model.to_owned(),
                endpoint: labels.endpoint,
                status: labels.status,
            },
            series,
        ));
    });
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyLabels {
    key: String,
    provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyStateLabels {
    key: String,
    provider: String,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyQuotaLabels {
    key: String,
    provider: String,
    unit: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FaultLabels {
    kind: &'static str,
}

type FloatGauge = Gauge<f64, AtomicU64>;

const KEY_STATES: [KeyState; 8] = [
    KeyState::Active,
    KeyState::Disabled,
    KeyState::QuotaExhausted,
    KeyState::AuthDead,
    KeyState::Throttled,
    KeyState::Cooling,
    KeyState::Probing,
    KeyState::SealedMismatch,
];

fn state_label(state: KeyState) -> &'static str {
    match state {
        KeyState::Active => "active",
        KeyState::Disabled => "disabled",
        KeyState::QuotaExhausted => "quota_exhausted",
        KeyState::AuthDead => "auth_dead",
        KeyState::Throttled => "throttled",
        KeyState::Cooling => "cooling",
        KeyState::Probing => "probing",
        KeyState::SealedMismatch => "sealed_mismatch",
    }
}

fn unit_label(unit: QuotaUnit) -> &'static str {
    match unit {
        QuotaUnit::Requests => "requests",
        QuotaUnit::Tokens => "tokens",
        QuotaUnit::Usd => "usd",
    }
}

impl ScrapeState {
    /// This scrape's gauges, in a registry of their own.
    fn registry(&self) -> Registry {
        let mut registry = Registry::default();
        let state = Family::<KeyStateLabels, Gauge>::default();
        let quota = Family::<KeyQuotaLabels, FloatGauge>::default();
        let burn = Family::<KeyQuotaLabels, FloatGauge>::default();
        let in_flight = Family::<KeyLabels, Gauge>::default();
        for key in &self.keys {
            for candidate in KEY_STATES {
                state
                    .get_or_create(&KeyStateLabels {
                        key: key.name.clone(),
                        provider: key.provider.clone(),
                        state: state_label(candidate),
                    })
                    .set(i64::from(candidate == key.state));
            }
            let quota_labels = KeyQuotaLabels {
                key: key.name.clone(),
                provider: key.provider.clone(),
                unit: unit_label(key.quota_unit),
            };
            if let Some(remaining) = key.quota_remaining {
                quota.get_or_create(&quota_labels).set(remaining);
            }
            if let Some(rate) = key.burn_rate_per_hour {
                burn.get_or_create(&quota_labels).set(rate);
            }
            in_flight
                .get_or_create(&KeyLabels {
                    key: key.name.clone(),
                    provider: key.provider.clone(),
                })
                .set(key.in_flight);
        }
        registry.register(
            "api_proxy_key_state",
            "Each key's state: 1 for the state it is in, 0 for the others",
            state,
        );
        registry.register(
            "api_proxy_key_quota_remaining",
            "Quota left per key, in the quota's unit (keys without a quota are absent)",
            quota,
        );
        registry.register(
            "api_proxy_key_burn_rate_per_hour",
            "Quota spent per hour over the last hour, in the quota's unit",
            burn,
        );
        registry.register(
            "api_proxy_key_in_flight",
            "Upstream calls in flight per key",
            in_flight,
        );
        let single = |value: i64| {
            let gauge = Gauge::<i64>::default();
            gauge.set(value);
            gauge
        };
        let total = |value: u64| {
            let counter = Counter::<u64>::default();
            counter.inc_by(value);
            counter
        };
        registry.register(
            "api_proxy_in_flight",
            "Upstream calls in flight",
            single(self.in_flight),
        );
        registry.register(
            "api_proxy_open_connections",
            "Open client connections",
            single(self.open_connections as i64),
        );
        registry.register(
            "api_proxy_writer_queue_depth",
            "Call-log rows waiting for the database writer",
            single(self.writer_queue_depth),
        );
        registry.register(
            "api_proxy_writer_dropped_logs",
            "Call-log rows dropped because the writer was too far behind",
            total(self.writer_dropped_logs),
        );
        registry.register(
            "api_proxy_trace_dropped_spans",
            "Spans dropped because the OTLP exporter's queue was full",
            total(self.trace_dropped_spans),
        );
        let faults = Family::<FaultLabels, Counter>::default();
        for (kind, count) in &self.db_faults {
            faults.get_or_create(&FaultLabels { kind }).inc_by(*count);
        }
        registry.register(
            "api_proxy_db_faults",
            "Database writes that failed, by fault (read_only, busy, full)",
            faults,
        );
        let current = Family::<FaultLabels, Gauge>::default();
        for (kind, _) in &self.db_faults {
            current
                .get_or_create(&FaultLabels { kind })
                .set(i64::from(self.db_fault == Some(*kind)));
        }
        registry.register(
            "api_proxy_db_fault",
            "1 while the database's latest write failed with this fault",
            current,
        );
        registry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> ProviderCatalog {
        ProviderCatalog::load_dir(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../configs/providers"
        )))
        .unwrap()
    }

    fn call<'a>(usage: &'a TokenUsage, model: &'a str, status: u16) -> FinishedCall<'a> {
        FinishedCall {
            key: None,
            model,
            endpoint: "chat/completions",
            status,
            usage,
            cost_usd: 0.0,
            duration_secs: 0.5,
            ttft_secs: None,
            overhead_secs: 0.0001,
            attempts: 0,
            failed_attempts: &[],
        }
    }

    #[test]
    fn unconfigured_models_are_folded_into_other() {
        let metrics = Metrics::new(&catalog());
        let usage = TokenUsage::default();
        metrics.call_finished(&call(&usage, "gpt-4o", 404));
        metrics.call_finished(&call(&usage, "made-up-model-1", 404));
        metrics.call_finished(&call(&usage, "made-up-model-2", 404));
        let text = metrics.encode(&ScrapeState::default()).unwrap();
        assert!(text.contains(r#"model="gpt-4o""#), "{text}");
        assert!(!text.contains("made-up-model"), "{text}");
        let other = text
            .lines()
            .find(|l| l.starts_with("api_proxy_requests_total{") && l.contains(r#"model="other""#))
            .unwrap();
        assert!(other.ends_with(" 2"), "{other}");
    }

    #[test]
    fn cached_series_keep_counting_in_the_family() {
        let metrics = Metrics::new(&catalog());
        let usage = TokenUsage {
            prompt: 10,
            completion: 5,
            ..Default::default()
        };
        for _ in 0..3 {
            metrics.call_finished(&call(&usage, "gpt-4o", 200));
        }
        let text = metrics.encode(&ScrapeState::default()).unwrap();
        assert!(
            text.contains(r#"api_proxy_tokens_total{provider="none",model="gpt-4o",key="none",type="input"} 30"#),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn disabled_metrics_encode_nothing() {
        let metrics = Metrics::disabled();
        metrics.call_finished(&call(&TokenUsage::default(), "gpt-4o", 200));
        metrics.client_key_spend("laptop", 1.0);
        assert!(metrics.encode(&ScrapeState::default()).is_none());
    }
}
