//! SQLite through diesel: a small r2d2 pool whose connections get WAL, `busy_timeout` and foreign
//! keys on acquire, migrations embedded in the binary and run at start-up, and every query run on
//! the blocking pool (never on an async executor thread).

pub mod api_keys;
pub mod call_logs;
pub mod client_keys;
pub mod fault;
pub mod meta;
pub mod rollups;
pub mod schema;
pub mod settings;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::{Connection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub use fault::{StorageFault, StorageStatus};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations");
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const POOL_SIZE: u32 = 8;

pub type DbConn = PooledConnection<ConnectionManager<SqliteConnection>>;

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

#[derive(Debug)]
struct Pragmas {
    /// Opened as read-only media: the journal mode cannot be set.
    immutable: bool,
}

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for Pragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
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
    pool: Pool<ConnectionManager<SqliteConnection>>,
    status: Arc<StorageStatus>,
}

impl Db {
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
        let manager = ConnectionManager::<SqliteConnection>::new(url);
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
        };
        let mut conn = db.conn()?;
        conn.run_pending_migrations(MIGRATIONS)
            .map_err(|e| DbError::Migration(e.to_string()))?;
        Ok(db)
    }

    /// The latest storage fault (read-only, busy, full) met by any user of this database.
    pub fn storage(&self) -> &StorageStatus {
        &self.status
    }

    /// Whether the database takes writes now: an empty `DELETE` opens a write transaction (which
    /// a read-only file refuses) and changes nothing. Updates [`Db::storage`].
    pub async fn probe_writes(&self) -> Option<StorageFault> {
        let result = self
            .run(|conn| Ok(conn.batch_execute("DELETE FROM settings WHERE 0")?))
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
        F: FnOnce(&mut SqliteConnection) -> Result<T, DbError> + Send + 'static,
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

/// Rows this connection has changed since it opened (SQLite's `total_changes()`).
fn total_changes(conn: &mut SqliteConnection) -> Option<i64> {
    use diesel::RunQueryDsl;
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
