//! `api-proxy`: reads `.env` and the environment, starts the server, and stops it gracefully on
//! SIGTERM or Ctrl-C. `api-proxy rotate-master-key` rotates the master key instead (`cli`).

use anyhow::Context as _;
use api_proxy::cli::{self, Command};
use api_proxy::config::{LogFormat, ServerConfig};
use api_proxy::crypto::Secret;
use tracing_subscriber::EnvFilter;

/// jemalloc instead of the system allocator. actix allocates 16 KB of buffers per connection; glibc
/// malloc writes its chunk headers between them, so an idle connection held ~12 KB resident, and
/// 10,000 idle connections 118 MB. jemalloc keeps its metadata apart and leaves untouched pages
/// alone: 4.4 KB per idle connection (measured by `clients::ten_thousand_idle_connections…`;
/// mimalloc measured 20 KB). Its thread caches also make the hot path's small allocations cheaper.
#[cfg(unix)]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    // A missing .env is normal; a malformed one is worth a warning.
    let dotenv = dotenvy::dotenv();
    let config = ServerConfig::from_env().context("invalid configuration")?;
    let filter = EnvFilter::try_new(format!(
        "{level},h2=warn,rustls=warn,actix_server=warn",
        level = config.log_level
    ))
    .context("LOG_LEVEL")?;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // When the log's reader is gone (`api-proxy | head`, a dead log pipe), the default reports
        // each failed write with `eprintln!`, which panics on the same broken pipe: that killed
        // the SIGTERM task, and the server then ignored SIGTERM. Lost log lines are not fatal.
        .log_internal_errors(false);
    match config.log_format {
        LogFormat::Text => logs.init(),
        // One JSON object per line; the event's fields at the top level, beside `level`,
        // `target`, `timestamp` and `message`.
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
    }
    if let Err(e) = dotenv {
        if !e.not_found() {
            tracing::warn!(error = %e, ".env could not be read");
        }
    }
    if cli::parse(std::env::args().skip(1)) == Command::RotateMasterKey {
        let new_key = std::env::var("NEW_ENCRYPTION_KEY")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(Secret::new);
        let done = tokio::task::spawn_blocking(move || cli::rotate_master_key(&config, new_key))
            .await
            .context("rotate-master-key")?
            .context("the master key was not rotated")?;
        println!("{done}");
        return Ok(());
    }

    let open_files = api_proxy::open_files::raise_to_hard_limit();
    tracing::debug!(?open_files, "open-file limit");
    // Before the server starts: a SIGTERM that arrives just after "listening" must drain, not
    // kill the process by the default disposition.
    let shutdown = ShutdownSignal::install().context("signal handlers")?;

    let app = api_proxy::app::start(config)
        .await
        .context("api-proxy could not start")?;
    let handle = app.handle();
    let live = app.state.live.clone();
    tokio::task::spawn_local(async move {
        shutdown.recv().await;
        tracing::info!("shutting down: finishing in-flight requests");
        // Dashboard connections never finish by themselves: close them first.
        live.close_all();
        handle.stop(true).await;
    });
    app.wait().await;
    Ok(())
}

/// SIGTERM (or Ctrl-C), listened for from the moment it is installed.
struct ShutdownSignal {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    fn install() -> std::io::Result<Self> {
        Ok(Self {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?,
        })
    }

    async fn recv(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
