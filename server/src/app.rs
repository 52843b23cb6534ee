//! Start-up and shutdown: open the database, resolve secrets, start the batch writer and one
//! supervised actor per key, then serve HTTP. Shutdown drains in-flight requests (up to
//! `SHUTDOWN_TIMEOUT_SECS`), lets every key actor fold in its last outcomes, and then writes the
//! last batch of logs and counters.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actix::Arbiter;
use actix_web::dev::ServerHandle;
use actix_web::middleware::{from_fn, Condition};
use actix_web::{web, App, HttpServer};

use crate::actors::key::KeyActorDeps;
use crate::actors::KeyRegistry;
use crate::bootstrap::{self, BootstrapError};
use crate::client_limits::ClientKeys;
use crate::clock::Clock;
use crate::config::aliases::load_aliases;
use crate::config::{ConfigError, ProviderCatalog, ServerConfig};
use crate::db::{self, api_keys, call_logs, client_keys, rollups, Db, DbError};
use crate::error::{json_extractor_error, path_extractor_error, query_extractor_error};
use crate::fleet_sync::FleetSync;
use crate::live_hub::LiveHub;
use crate::metrics::{ConnectionGauge, LiveStats, Metrics};
use crate::otel::Traces;
use crate::routing::{BidBoard, ResponseOwners};
use crate::state::AppState;
use crate::writer::BatchWriter;
use crate::{api, upstream};

/// JSON bodies of admin requests are small.
const ADMIN_JSON_LIMIT: usize = 1024 * 1024;
const RETENTION_SWEEP: Duration = Duration::from_secs(3600);
const LIVE_TICK: Duration = Duration::from_secs(1);
const SPEND_SAVE_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    UpstreamTls(#[from] crate::upstream_tls::UpstreamTlsError),
    #[error(transparent)]
    Traces(#[from] crate::otel::TraceSetupError),
    #[error("start-up task failed: {0}")]
    Task(String),
}

/// A started server.
pub struct RunningApp {
    pub addr: SocketAddr,
    pub state: AppState,
    handle: ServerHandle,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    writer: Option<BatchWriter>,
    arbiter: Arbiter,
    sweeper: tokio::task::JoinHandle<()>,
    ticker: tokio::task::JoinHandle<()>,
    spend_saver: tokio::task::JoinHandle<()>,
    /// Picks up the other instances' edits (a shared PostgreSQL database only).
    fleet_sync: Option<tokio::task::JoinHandle<()>>,
}

pub async fn start(config: ServerConfig) -> Result<RunningApp, StartError> {
    start_with_clock(config, Clock::System).await
}

/// [`start`] with a chosen clock (tests drive a manual one across throttle deadlines).
pub async fn start_with_clock(
    config: ServerConfig,
    clock: Clock,
) -> Result<RunningApp, StartError> {
    let started_at = Instant::now();
    // awc's TLS uses rustls with the ring provider; installing twice (tests) is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = Arc::new(config);
    let upstream_tls = crate::upstream_tls::client_config(config.upstream_ca_file.as_deref())?;
    let catalog = Arc::new(ProviderCatalog::load(config.providers_dir.as_deref())?);
    let config_aliases = Arc::new(load_aliases(config.model_aliases_file.as_deref())?);

    let boot_config = config.clone();
    let boot_catalog = catalog.clone();
    let now = clock.now_ms();
    let (db, cipher, admin_token, settings, keys, clients, totals, version) =
        tokio::task::spawn_blocking(move || {
            let db = Db::open_configured(&boot_config)?;
            let mut conn = db.conn()?;
            let cipher = bootstrap::resolve_cipher(&boot_config, &mut conn)?;
            let admin_token = bootstrap::resolve_admin_token(&boot_config)?;
            bootstrap::reseal_legacy_keys(&mut conn, &cipher, &boot_catalog)?;
            // Before what it versions: an edit made meanwhile is reloaded, not missed.
            let version = db::fleet::version(&mut conn)?;
            let settings = db::settings::load(&mut conn)?;
            let keys = api_keys::list(&mut conn)?;
            let clients = client_keys::list(&mut conn)?;
            let totals = rollups::totals(&mut conn, now)?;
            drop(conn);
            Ok::<_, StartError>((
                db,
                cipher,
                admin_token,
                settings,
                keys,
                clients,
                totals,
                version,
            ))
        })
        .await
        .map_err(|e| StartError::Task(e.to_string()))??;
    // A database that cannot be written (a read-only mount, a full disk) does not stop the
    // proxy: calls are served with the stored keys, and /api/health says what is wrong.
    if let Some(fault) = db.probe_writes().await {
        tracing::warn!(
            fault = fault.label(),
            "the database does not take writes: calls are proxied with the stored keys, but \
             changes, call logs and usage are not saved until it does"
        );
    }

    let writer = BatchWriter::spawn(db.clone(), config.log_flush_interval)
        .map_err(|e| StartError::Task(e.to_string()))?;
    let board = BidBoard::default();
    let mut live = LiveHub::new(LiveStats::new(totals, now));
    if db.backend() == db::Backend::Postgres {
        live = live.one_of_several();
    }
    let arbiter = Arbiter::new();
    let registry = KeyRegistry::new(
        arbiter.handle(),
        KeyActorDeps {
            board: board.clone(),
            cipher: cipher.clone(),
            db: db.clone(),
            writer: writer.handle(),
            clock: clock.clone(),
            live: live.clone(),
            shared_quota: db.backend() == db::Backend::Postgres,
        },
        catalog.clone(),
    );
    for row in &keys {
        if let Err(reason) = registry.spawn(row) {
            tracing::warn!(key_id = row.id, %reason, "key is stored but cannot be served");
        }
    }

    let catalog_for_metrics = catalog.clone();
    let traces = match &config.traces {
        Some(trace_config) => {
            let traces = Traces::start(trace_config)?;
            tracing::info!(endpoint = %trace_config.endpoint, "exporting traces over OTLP/HTTP");
            traces
        }
        None => Traces::disabled(),
    };
    let state = AppState {
        config: config.clone(),
        catalog,
        db: db.clone(),
        cipher,
        keys: registry,
        board,
        writer: writer.handle(),
        settings: Arc::new(RwLock::new(Arc::new(settings))),
        config_aliases,
        admin_token: Arc::new(admin_token),
        client_keys: ClientKeys::load(&clients),
        started_at,
        clock,
        live,
        connections: ConnectionGauge::default(),
        auth_throttle: Arc::default(),
        live_tickets: Arc::default(),
        response_owners: ResponseOwners::default(),
        metrics: if config.metrics_enabled {
            Metrics::new(&catalog_for_metrics)
        } else {
            Metrics::disabled()
        },
        traces,
    };

    let app_state = state.clone();
    let connect_timeout = config.connect_timeout;
    let cors_origins = config.cors_origins.clone();
    let address = config.bind_address();
    let connections = state.connections.clone();
    let server = HttpServer::new(move || {
        let cors = cors_origins
            .iter()
            .fold(actix_cors::Cors::default(), |cors, origin| {
                if origin == "*" {
                    cors.allow_any_origin()
                } else {
                    cors.allowed_origin(origin)
                }
            })
            .allow_any_method()
            .allow_any_header()
            .max_age(600);
        App::new()
            .app_data(web::Data::new(app_state.clone()))
            .app_data(web::Data::new(upstream::build_client(
                connect_timeout,
                upstream_tls.clone(),
            )))
            .app_data(
                web::JsonConfig::default()
                    .limit(ADMIN_JSON_LIMIT)
                    .error_handler(|e, _| json_extractor_error(e)),
            )
            .app_data(web::QueryConfig::default().error_handler(|e, _| query_extractor_error(e)))
            .app_data(web::PathConfig::default().error_handler(|e, _| path_extractor_error(e)))
            .wrap(from_fn(api::guard::check_host_and_origin))
            .wrap(Condition::new(!cors_origins.is_empty(), cors))
            .configure(api::configure)
    })
    .on_connect(move |_, extensions| {
        extensions.insert(connections.open());
    })
    .workers(config.workers)
    .client_request_timeout(config.client_header_timeout)
    .disable_signals()
    .shutdown_timeout(config.shutdown_timeout.as_secs())
    .bind(&address)
    .map_err(|source| StartError::Bind {
        address: address.clone(),
        source,
    })?;
    let addr = *server
        .addrs()
        .first()
        .ok_or_else(|| StartError::Task("no listening address".into()))?;
    let server = server.run();
    let handle = server.handle();
    let server = tokio::task::spawn_local(server);

    let sweeper = tokio::task::spawn_local(sweep_old_logs(state.clone()));
    let ticker = tokio::task::spawn_local(tick_live_feed(state.clone()));
    let spend_saver = tokio::task::spawn_local(save_client_spend_often(state.clone()));
    let fleet_sync = (db.backend() == db::Backend::Postgres)
        .then(|| tokio::task::spawn_local(FleetSync::new(version, &keys).run(state.clone())));
    tracing::info!(
        %addr,
        keys = keys.len(),
        client_keys_required = config.client_keys_required(),
        startup_ms = started_at.elapsed().as_millis() as u64,
        "api-proxy listening on http://{addr}"
    );
    Ok(RunningApp {
        addr,
        state,
        handle,
        server,
        writer: Some(writer),
        arbiter,
        sweeper,
        ticker,
        spend_saver,
        fleet_sync,
    })
}

/// Saves the budget spend of the client keys whose spend changed, so that a restart does not
/// hand a budget out again (at most [`SPEND_SAVE_INTERVAL`] of spend is lost on a crash).
async fn save_client_spend(state: &AppState) {
    let spend = state.client_keys.unsaved_spend();
    // A shared database has every call's charge already (`proxy::shared_quota`); this
    // instance's totals would overwrite the others'.
    if spend.is_empty() || state.db.backend() == db::Backend::Postgres {
        return;
    }
    if let Err(e) = state
        .db
        .run(move |conn| client_keys::save_spend(conn, &spend))
        .await
    {
        tracing::warn!(error = %e, "could not save the client keys' spend");
    }
}

async fn save_client_spend_often(state: AppState) {
    let mut every = tokio::time::interval(SPEND_SAVE_INTERVAL);
    loop {
        every.tick().await;
        save_client_spend(&state).await;
    }
}

/// Sends the live feed's snapshot every second (only while someone listens).
async fn tick_live_feed(state: AppState) {
    let mut every_second = tokio::time::interval(LIVE_TICK);
    loop {
        every_second.tick().await;
        if state.live.subscribers() == 0 {
            continue;
        }
        state.live.tick(
            state.clock.now_ms(),
            state.in_flight(),
            state.db.storage().get(),
        );
    }
}

/// Deletes call logs past the retention period, and old minute rollups, hourly.
async fn sweep_old_logs(state: AppState) {
    loop {
        let now = db::now_ms();
        if let Err(e) = state
            .db
            .run(move |conn| rollups::prune_minutes(conn, now))
            .await
        {
            tracing::warn!(error = %e, "could not prune minute rollups");
        }
        let days = state.settings().log_retention_days;
        if days > 0 {
            let cutoff = db::now_ms() - i64::from(days) * 86_400_000;
            match state
                .db
                .run(move |conn| call_logs::delete_older_than(conn, cutoff))
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "pruned old call logs"),
                Err(e) => tracing::warn!(error = %e, "could not prune old call logs"),
            }
        }
        tokio::time::sleep(RETENTION_SWEEP).await;
    }
}

impl RunningApp {
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Waits until the server stops (after [`ServerHandle::stop`]), then finishes shutdown.
    pub async fn wait(mut self) {
        let _ = (&mut self.server).await;
        self.finish().await;
    }

    /// Graceful stop: in-flight requests finish, then the last log batch is written.
    pub async fn stop(self) {
        self.state.live.close_all();
        self.handle.stop(true).await;
        self.wait().await;
    }

    /// After the last request: every key actor folds in its last outcomes and hands its counters
    /// to the writer, whose last batch then holds every answered call's log row and counters.
    async fn finish(mut self) {
        self.sweeper.abort();
        self.ticker.abort();
        self.spend_saver.abort();
        if let Some(fleet_sync) = &self.fleet_sync {
            fleet_sync.abort();
        }
        save_client_spend(&self.state).await;
        crate::fleet_sync::return_leases(&self.state, None).await;
        self.state.keys.settle_all().await;
        let traces = self.state.traces.clone();
        let _ = tokio::task::spawn_blocking(move || traces.shutdown()).await;
        if let Some(writer) = self.writer.take() {
            let _ = tokio::task::spawn_blocking(move || writer.shutdown()).await;
        }
        self.arbiter.stop();
        tracing::info!("api-proxy stopped");
    }
}
