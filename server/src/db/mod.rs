//! The database through diesel: SQLite (the embedded default) or PostgreSQL (several instances
//! sharing one database, `DATABASE_URL=postgres://…`). One r2d2 pool of [`AnyConnection`]s; SQLite
//! connections get WAL, `busy_timeout` and foreign keys on acquire. Each backend's migrations are
//! embedded (`migrations/sqlite`, `migrations/postgres`: one schema) and run at start-up, on
//! PostgreSQL under an advisory lock so that instances starting together migrate once. Every
//! query runs on the blocking pool (never on an async executor thread), and is written once for
//! both backends ([`on_backend!`]).

/// Runs the same diesel code on whichever backend `conn` holds: the query is written once and
/// compiled for each backend, so each runs its own native statements (SQLite's hot paths keep
/// their prepared-statement cache) rather than going through diesel's generic multi-backend.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Sqlite($c) => $body,
            $crate::db::AnyConnection::Pg($c) => $body,
        }
    };
}

pub mod api_keys;
pub mod call_logs;
pub mod client_keys;
pub mod fault;
pub mod fleet;
pub mod meta;
pub mod rollups;
pub mod schema;
pub mod settings;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{CustomizeConnection, ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::crypto::Secret;
pub use fault::{StorageFault, StorageStatus};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");
/// The advisory lock (any 64-bit number of our own) held while PostgreSQL is migrated.
const MIGRATION_LOCK: i64 = 0x6170_692d_7072_6f78; // "api-prox"
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const POOL_SIZE: u32 = 8;

/// A connection to either backend. Code outside `db/` uses it as a plain diesel `Connection`
/// (transactions, `batch_execute`); the queries in `db/` go to the backend's own connection
/// through [`on_backend!`].
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

pub type DbConn = PooledConnection<Manager>;

/// Which database the instance runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One process, one file: the default.
    Sqlite,
    /// Shared by every instance that points at it.
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database connection: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("database query: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database migration: {0}")]
    Migration(String),
    #[error("database file: {0}")]
    Io(#[from] std::io::Error),
    #[error("database task was cancelled")]
    Cancelled,
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

/// Where the pool's connections go.
#[derive(Debug)]
enum Location {
    Sqlite { url: String },
    Postgres(Secret),
}

/// Opens the pool's connections (diesel's `ConnectionManager` would try each backend in turn
/// with the same URL; the location already says which).
#[derive(Debug)]
pub struct Manager {
    location: Location,
}

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, Self::Error> {
        match &self.location {
            Location::Sqlite { url } => SqliteConnection::establish(url).map(AnyConnection::Sqlite),
            Location::Postgres(url) => PgConnection::establish(url.expose()).map(AnyConnection::Pg),
        }
        .map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

#[derive(Debug)]
struct Pragmas {
    /// Opened as read-only media: the journal mode cannot be set.
    immutable: bool,
}

impl CustomizeConnection<AnyConnection, diesel::r2d2::Error> for Pragmas {
    fn on_acquire(&self, conn: &mut AnyConnection) -> Result<(), diesel::r2d2::Error> {
        let AnyConnection::Sqlite(conn) = conn else {
            return Ok(());
        };
        let journal = if self.immutable {
            ""
        } else {
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
        };
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = {}; {journal} PRAGMA foreign_keys = ON;",
            BUSY_TIMEOUT.as_millis()
        ))
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// What to open `path` with. Normally the path itself. When the file can be read but its folder
/// cannot be written (a read-only mount, files owned by another user), SQLite cannot create the
/// WAL index beside it and refuses even to read; then the file is opened as immutable read-only
/// media (`true`), so the proxy still serves with the stored keys. Writes then fail as read-only.
fn open_url(path: &Path) -> (String, bool) {
    let plain = path.to_string_lossy().into_owned();
    let probe = || -> Result<(), String> {
        let mut conn = SqliteConnection::establish(&plain).map_err(|e| e.to_string())?;
        conn.batch_execute("PRAGMA journal_mode = WAL; SELECT count(*) FROM sqlite_master;")
            .map_err(|e| e.to_string())
    };
    match probe() {
        Err(e)
            if StorageFault::from_message(&e) == Some(StorageFault::ReadOnly)
                || e.contains("unable to open") =>
        {
            (format!("{}?immutable=1", file_uri(path)), true)
        }
        // Anything else is reported by the pool, as before.
        _ => (plain, false),
    }
}

/// `path` as an SQLite `file:` URI (RFC 3986: what is not unreserved or `/` is escaped).
fn file_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for byte in path.as_os_str().as_encoded_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                uri.push(char::from(*byte));
            }
            _ => uri.push_str(&format!("%{byte:02X}")),
        }
    }
    uri
}

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    status: Arc<StorageStatus>,
    backend: Backend,
}

impl Db {
    /// Opens the configured database: PostgreSQL when `DATABASE_URL` names one, else the SQLite
    /// file at `DATABASE_PATH`.
    pub fn open_configured(config: &crate::config::ServerConfig) -> Result<Self, DbError> {
        match &config.database_url {
            Some(url) => Self::open_postgres(url),
            None => Self::open(&config.database_path),
        }
    }

    /// Connects to PostgreSQL at `url` and migrates it, under an advisory lock: instances
    /// starting together migrate it once, the others wait and find nothing left to do.
    pub fn open_postgres(url: &Secret) -> Result<Self, DbError> {
        let manager = Manager {
            location: Location::Postgres(url.clone()),
        };
        let pool = Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            .build(manager)
            // The URL may hold a password: only the error is told.
            .map_err(|e| DbError::Migration(format!("cannot connect to PostgreSQL: {e}")))?;
        let db = Self {
            pool,
            status: Arc::default(),
            backend: Backend::Postgres,
        };
        let mut conn = db.conn()?;
        let AnyConnection::Pg(pg) = &mut *conn else {
            unreachable!("a PostgreSQL pool gives PostgreSQL connections");
        };
        diesel::sql_query("SELECT pg_advisory_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK)
            .execute(pg)?;
        let migrated = pg
            .run_pending_migrations(POSTGRES_MIGRATIONS)
            .map(|_| ())
            .map_err(|e| DbError::Migration(e.to_string()));
        let unlocked = diesel::sql_query("SELECT pg_advisory_unlock($1)")
            .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK)
            .execute(pg);
        migrated?;
        unlocked?;
        drop(conn);
        Ok(db)
    }

    /// Opens (creating with mode 0600 if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Self, DbError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir)?;
        }
        if !path.exists() {
            create_private_file(path)?;
        }
        let (url, immutable) = open_url(path);
        if immutable {
            tracing::warn!(
                path = %path.display(),
                "the database's folder cannot be written: opened read-only"
            );
        }
        let manager = Manager {
            location: Location::Sqlite { url },
        };
        let pool = Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            .connection_customizer(Box::new(Pragmas { immutable }))
            .build(manager)
            .map_err(|e| DbError::Migration(format!("cannot open {}: {e}", path.display())))?;
        let db = Self {
            pool,
            status: Arc::default(),
            backend: Backend::Sqlite,
        };
        let mut conn = db.conn()?;
        if let AnyConnection::Sqlite(sqlite) = &mut *conn {
            sqlite
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map_err(|e| DbError::Migration(e.to_string()))?;
        }
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The latest storage fault (read-only, busy, full) met by any user of this database.
    pub fn storage(&self) -> &StorageStatus {
        &self.status
    }

    /// Whether the database takes writes now: an empty `DELETE` opens a write transaction (which
    /// a read-only file refuses) and changes nothing. Updates [`Db::storage`].
    pub async fn probe_writes(&self) -> Option<StorageFault> {
        let result = self
            .run(|conn| {
                let sql = match conn {
                    AnyConnection::Sqlite(_) => "DELETE FROM settings WHERE 0",
                    AnyConnection::Pg(_) => "DELETE FROM settings WHERE false",
                };
                Ok(conn.batch_execute(sql)?)
            })
            .await;
        if result.is_ok() {
            self.status.set(None);
        }
        self.status.get()
    }

    /// A pooled connection, for code already on a blocking thread.
    pub fn conn(&self) -> Result<DbConn, DbError> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` with a connection on the blocking thread pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let status = self.status.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            // While a fault is on record, a write that goes through clears it; a read tells
            // nothing, so the connection's change count says which this was.
            let before = status.get().and_then(|_| total_changes(&mut conn));
            let result = f(&mut conn);
            match &result {
                Err(e) => {
                    status.note(e);
                }
                Ok(_) => {
                    if before.is_some_and(|b| total_changes(&mut conn).is_some_and(|a| a > b)) {
                        status.set(None);
                    }
                }
            }
            result
        })
        .await
        .map_err(|_| DbError::Cancelled)?
    }
}

/// Rows this connection has changed since it opened (SQLite's `total_changes()`; the faults it
/// serves are SQLite's, so PostgreSQL has none to tell).
fn total_changes(conn: &mut AnyConnection) -> Option<i64> {
    let AnyConnection::Sqlite(conn) = conn else {
        return None;
    };
    diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "total_changes()",
    ))
    .get_result(conn)
    .ok()
}

pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Creates an empty file readable only by its owner.
pub fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    #[test]
    fn paths_become_file_uris_sqlite_reads_back() {
        let path = std::path::Path::new("/data dir/ré?#%x/api-proxy.db");
        assert_eq!(
            super::file_uri(path),
            "file:/data%20dir/r%C3%A9%3F%23%25x/api-proxy.db"
        );
        // SQLite opens the escaped name as the file itself.
        let dir = tempfile::TempDir::new().unwrap();
        let odd = dir.path().join("a b?c#d%e.db");
        let mut conn = SqliteConnection::establish(&super::file_uri(&odd)).unwrap();
        conn.batch_execute("CREATE TABLE t (a)").unwrap();
        assert!(odd.exists());
    }

    #[derive(QueryableByName)]
    struct CompileOption {
        #[diesel(sql_type = Text)]
        compile_options: String,
    }

    /// `.cargo/config.toml` builds the bundled SQLite without per-connection mutexes, memory
    /// statistics and a shared page cache; a build that lost those flags takes mutexes on every
    /// call-log insert.
    #[test]
    fn sqlite_is_built_without_mutexes_the_writer_does_not_need() {
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        let options: Vec<String> = diesel::sql_query("PRAGMA compile_options")
            .load::<CompileOption>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|o| o.compile_options)
            .collect();
        assert!(options.iter().any(|o| o == "THREADSAFE=2"), "{options:?}");
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
    }
}
