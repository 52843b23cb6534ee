//! First-start and every-start secrets: the master key (from `ENCRYPTION_KEY` or a generated key
//! file) checked against the database, and the admin token (from `ADMIN_TOKEN` or a generated
//! token file). Generated files are created with mode 0600 in the data folder.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::config::{ProviderCatalog, ServerConfig};
use crate::crypto::{self, CryptoError, KeyCipher, MasterKeyInput, Secret};
use crate::db::{self, meta, AnyConnection, DbError, StorageFault};
use crate::key_seal;

pub const MASTER_KEY_FILE: &str = "master.key";
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{}: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    BadFile { path: PathBuf, message: String },
    #[error(
        "this database already holds encrypted keys but {} is missing: restore it, or set ENCRYPTION_KEY to the key it was created with",
        path.display()
    )]
    MissingKeyFile { path: PathBuf },
    #[error(
        "ADMIN_TOKEN is {length} characters long; it must have at least {MIN_ADMIN_TOKEN_CHARS} \
         (e.g. `openssl rand -base64 24`), or leave it unset to have one generated into the data folder"
    )]
    WeakAdminToken { length: usize },
}

/// The shortest admin token accepted (generated ones are 53 characters).
pub const MIN_ADMIN_TOKEN_CHARS: usize = 16;

fn file_error(path: &Path) -> impl FnOnce(std::io::Error) -> BootstrapError + '_ {
    move |source| BootstrapError::File {
        path: path.to_owned(),
        source,
    }
}

/// The cipher for provider keys, verified against the database's check value.
pub fn resolve_cipher(
    config: &ServerConfig,
    conn: &mut AnyConnection,
) -> Result<KeyCipher, BootstrapError> {
    let check = meta::get(conn, meta::KEY_CHECK)?;
    let key = match &config.encryption_key {
        Some(value) => {
            let input = MasterKeyInput::parse(value)?;
            let salt = match meta::get(conn, meta::KDF_SALT)? {
                Some(salt) => salt,
                // Instances starting together on a new shared database agree on the first salt.
                None => meta::put_first(conn, meta::KDF_SALT, &crypto::random_key()[..16])?,
            };
            input.derive(&salt)?
        }
        None => {
            crate::key_rotation::recover_interrupted_rotation(&config.data_dir, check.as_deref())?;
            key_from_file(&config.data_dir.join(MASTER_KEY_FILE), check.is_some())?
        }
    };
    let cipher = KeyCipher::new(&key);
    // On a new shared database another instance may write its check first: then this key is
    // checked against that one, so instances with different master keys cannot both start.
    let stored = match check {
        Some(stored) => stored,
        None => meta::put_first(conn, meta::KEY_CHECK, &cipher.key_check())?,
    };
    cipher.verify_key_check(&stored)?;
    Ok(cipher)
}

/// A master key file's 32 bytes.
pub fn read_key_file(path: &Path) -> Result<[u8; 32], BootstrapError> {
    let text = std::fs::read_to_string(path).map_err(file_error(path))?;
    let bytes = crypto::unb64(&text).ok_or_else(|| BootstrapError::BadFile {
        path: path.to_owned(),
        message: "not base64".into(),
    })?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| BootstrapError::BadFile {
        path: path.to_owned(),
        message: "must hold 32 bytes in base64".into(),
    })
}

fn key_from_file(path: &Path, database_has_keys: bool) -> Result<[u8; 32], BootstrapError> {
    if path.exists() {
        return read_key_file(path);
    }
    if database_has_keys {
        return Err(BootstrapError::MissingKeyFile {
            path: path.to_owned(),
        });
    }
    let key = crypto::random_key();
    write_private(path, &crypto::b64(&key))?;
    tracing::info!(path = %path.display(), "generated a new master key file; back it up with the database");
    Ok(key)
}

/// Re-seals the keys stored before secrets were bound to where they may go (see
/// [`crate::key_seal`]); idempotent. A database that cannot be written (read-only media) keeps
/// them as they are: they then show as `sealed_mismatch` until it can.
pub fn reseal_legacy_keys(
    conn: &mut AnyConnection,
    cipher: &KeyCipher,
    catalog: &ProviderCatalog,
) -> Result<(), BootstrapError> {
    match key_seal::reseal_legacy_rows(conn, cipher, catalog) {
        Ok(report) => {
            if report.resealed > 0 {
                tracing::info!(
                    keys = report.resealed,
                    "stored keys re-sealed: each is now bound to its provider and base URL"
                );
            }
            if !report.skipped.is_empty() {
                tracing::warn!(
                    key_ids = ?report.skipped,
                    "some stored keys could not be re-sealed (provider not configured, or the \
                     secret does not open): they are not served until entered again"
                );
            }
            Ok(())
        }
        Err(e) if StorageFault::of(&e).is_some() => {
            tracing::warn!(error = %e, "stored keys could not be re-sealed now (the database does not take writes)");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// The admin token: `ADMIN_TOKEN`, else the token file (generated on first start).
pub fn resolve_admin_token(config: &ServerConfig) -> Result<Secret, BootstrapError> {
    if let Some(token) = &config.admin_token {
        let length = token.expose().trim().chars().count();
        if length < MIN_ADMIN_TOKEN_CHARS {
            return Err(BootstrapError::WeakAdminToken { length });
        }
        return Ok(token.clone());
    }
    let path = config.data_dir.join(ADMIN_TOKEN_FILE);
    if path.exists() {
        let text = std::fs::read_to_string(&path).map_err(file_error(&path))?;
        let token = text.trim();
        if token.chars().count() < MIN_ADMIN_TOKEN_CHARS {
            return Err(BootstrapError::BadFile {
                path,
                message: format!(
                    "the admin token must be at least {MIN_ADMIN_TOKEN_CHARS} characters"
                ),
            });
        }
        tracing::info!(path = %path.display(), "admin token loaded from file");
        return Ok(Secret::new(token));
    }
    let token = crypto::random_token("apx-admin-");
    write_private(&path, &token)?;
    tracing::info!(path = %path.display(), "generated the admin token");
    // Shown once, on stdout, so the user can sign in; it is never logged.
    println!(
        "api-proxy admin token (also saved in {}): {token}",
        path.display()
    );
    Ok(Secret::new(token))
}

fn write_private(path: &Path, contents: &str) -> Result<(), BootstrapError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        db::create_private_dir(dir).map_err(file_error(dir))?;
    }
    let mut file = db::create_private_file(path).map_err(file_error(path))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(file_error(path))
}
