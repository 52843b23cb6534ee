//! `api-proxy rotate-master-key`: every stored secret re-encrypted under a new master key, in one
//! transaction, after checking the old key (the database's check value, and every secret opening
//! with it). Run it with the server stopped.
//!
//! Where the new key comes from:
//! - `NEW_ENCRYPTION_KEY` (base64 of 32 bytes, or a passphrase): for keys kept in a secret store.
//!   Afterwards `ENCRYPTION_KEY` must be set to it. If the old key was `master.key`, that file is
//!   removed once the database holds the new key.
//! - otherwise, unless `ENCRYPTION_KEY` is set: a new random key, written to `master.key.new`
//!   before anything else changes, then put in place of `master.key` once the database commits
//!   (the old file is kept as `master.key.old` until the new one is in place).
//!
//! A crash anywhere leaves a key that opens the database: before the commit the database and
//! `master.key` are untouched (a stale `master.key.new` is removed at the next start); after it,
//! the next start finds `master.key.new` opening the database and finishes the swap
//! ([`recover_interrupted_rotation`]).

use std::path::{Path, PathBuf};

use diesel::Connection;

use crate::bootstrap::{self, BootstrapError, MASTER_KEY_FILE};
use crate::config::{ConfigError, ProviderCatalog, ServerConfig};
use crate::crypto::{self, legacy_secret_aad, CryptoError, KeyCipher, MasterKeyInput, Secret};
use crate::db::{self, api_keys, meta, AnyConnection, Db, DbError};
use crate::key_seal::{self, SEAL_VERSION};

/// The new key, written before the database changes.
pub const NEW_KEY_FILE: &str = "master.key.new";
/// The old key, kept until the new one is in place.
pub const OLD_KEY_FILE: &str = "master.key.old";

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("NEW_ENCRYPTION_KEY: {0}")]
    NewKey(CryptoError),
    #[error("this database has no master key yet: there is nothing to rotate")]
    NotInitialised,
    #[error(
        "ENCRYPTION_KEY is set: set NEW_ENCRYPTION_KEY to the new key as well (keep it in your \
         secret store), run again, then set ENCRYPTION_KEY to it"
    )]
    NewKeyMissing,
    #[error("the new master key is the one in use")]
    SameKey,
    #[error(
        "the stored secrets of keys {0:?} do not open with the current master key (their rows were \
         changed outside api-proxy, or their provider is not configured): enter their api_key \
         again or delete them, then rotate; nothing was changed"
    )]
    KeysDoNotOpen(Vec<i32>),
    #[error("{}: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the database now uses the new master key, which is in master.key.new, but it could not \
         take the place of master.key ({0}): the next start finishes this, or rename the file yourself"
    )]
    NotPromoted(Box<RotationError>),
}

/// Where the new master key is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewKeyPlace {
    /// Replaced `master.key`.
    File(PathBuf),
    /// Given as `NEW_ENCRYPTION_KEY`: `ENCRYPTION_KEY` must be set to it.
    Environment,
}

#[derive(Debug)]
pub struct Rotated {
    pub keys: usize,
    pub place: NewKeyPlace,
}

fn file_error(path: &Path) -> impl FnOnce(std::io::Error) -> RotationError + '_ {
    move |source| RotationError::File {
        path: path.to_owned(),
        source,
    }
}

/// Rotates the master key of `config`'s database; `new_key` is `NEW_ENCRYPTION_KEY`.
pub fn rotate(
    config: &ServerConfig,
    catalog: &ProviderCatalog,
    new_key: Option<&Secret>,
) -> Result<Rotated, RotationError> {
    let db = Db::open_configured(config)?;
    let mut conn = db.conn()?;
    if meta::get(&mut conn, meta::KEY_CHECK)?.is_none() {
        return Err(RotationError::NotInitialised);
    }
    let old = bootstrap::resolve_cipher(config, &mut conn)?;
    let secrets = open_all(&mut conn, &old, catalog)?;

    let data_dir = &config.data_dir;
    let (new, salt, place) = match (new_key, &config.encryption_key) {
        (Some(value), _) => {
            let input = MasterKeyInput::parse(value).map_err(RotationError::NewKey)?;
            let salt = crypto::random_key()[..16].to_vec();
            let key = input.derive(&salt).map_err(RotationError::NewKey)?;
            let salt = matches!(input, MasterKeyInput::Passphrase(_)).then_some(salt);
            (KeyCipher::new(&key), salt, NewKeyPlace::Environment)
        }
        (None, Some(_)) => return Err(RotationError::NewKeyMissing),
        (None, None) => {
            let key = crypto::random_key();
            write_new_key_file(data_dir, &key)?;
            (
                KeyCipher::new(&key),
                None,
                NewKeyPlace::File(data_dir.join(MASTER_KEY_FILE)),
            )
        }
    };
    let check = meta::get(&mut conn, meta::KEY_CHECK)?.unwrap_or_default();
    if new.verify_key_check(&check).is_ok() {
        return Err(RotationError::SameKey);
    }

    let keys = secrets.len();
    let committed = conn.transaction::<_, DbError, _>(|conn| {
        for (id, aad, secret) in &secrets {
            api_keys::reseal(conn, *id, &new.seal_secret(secret, aad), SEAL_VERSION)?;
        }
        meta::put(conn, meta::KEY_CHECK, &new.key_check())?;
        if let Some(salt) = &salt {
            meta::put(conn, meta::KDF_SALT, salt)?;
        }
        Ok(())
    });
    if let Err(e) = committed {
        // Rolled back: the old key stays; the new one opens nothing.
        if matches!(place, NewKeyPlace::File(_)) {
            let _ = std::fs::remove_file(data_dir.join(NEW_KEY_FILE));
        }
        return Err(e.into());
    }
    drop(conn);

    match &place {
        NewKeyPlace::File(_) => {
            promote_new_key_file(data_dir).map_err(|e| RotationError::NotPromoted(Box::new(e)))?
        }
        NewKeyPlace::Environment => {
            // The old key file opens nothing any more.
            let old_file = data_dir.join(MASTER_KEY_FILE);
            if config.encryption_key.is_none() && old_file.exists() {
                std::fs::remove_file(&old_file).map_err(file_error(&old_file))?;
            }
        }
    }
    Ok(Rotated { keys, place })
}

/// Every stored secret, opened with the current key, with the associated data to seal it for.
fn open_all(
    conn: &mut AnyConnection,
    cipher: &KeyCipher,
    catalog: &ProviderCatalog,
) -> Result<Vec<(i32, Vec<u8>, Secret)>, RotationError> {
    let mut opened = Vec::new();
    let mut failed = Vec::new();
    for row in api_keys::list(conn)? {
        let Some(provider) = catalog.get(&row.provider) else {
            failed.push(row.id);
            continue;
        };
        let aad = key_seal::binding(&row, provider.spec.auth).aad();
        // Rows not yet re-sealed by a start of this version are bound to their uid only.
        let sealed_for = if row.seal_version < SEAL_VERSION {
            legacy_secret_aad(&row.uid)
        } else {
            aad.clone()
        };
        match cipher.open_secret(&row.secret_ciphertext, &sealed_for) {
            Ok(secret) => opened.push((row.id, aad, secret)),
            Err(_) => failed.push(row.id),
        }
    }
    if failed.is_empty() {
        Ok(opened)
    } else {
        Err(RotationError::KeysDoNotOpen(failed))
    }
}

fn write_new_key_file(dir: &Path, key: &[u8; 32]) -> Result<(), RotationError> {
    let path = dir.join(NEW_KEY_FILE);
    // A leftover of a rotation that never committed opens nothing.
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(file_error(&path)(e)),
        _ => {}
    }
    let mut file = db::create_private_file(&path).map_err(file_error(&path))?;
    use std::io::Write as _;
    file.write_all(crypto::b64(key).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(file_error(&path))
}

/// `master.key.new` takes the place of `master.key`; the old file is kept as `master.key.old`
/// until then.
fn promote_new_key_file(dir: &Path) -> Result<(), RotationError> {
    let (current, new, old) = (
        dir.join(MASTER_KEY_FILE),
        dir.join(NEW_KEY_FILE),
        dir.join(OLD_KEY_FILE),
    );
    if current.exists() {
        std::fs::rename(&current, &old).map_err(file_error(&current))?;
    }
    std::fs::rename(&new, &current).map_err(file_error(&new))?;
    sync_dir(dir)?;
    match std::fs::remove_file(&old) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(file_error(&old)(e)),
        _ => Ok(()),
    }
}

fn sync_dir(dir: &Path) -> Result<(), RotationError> {
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(file_error(dir))?;
    Ok(())
}

/// At start (key file in use): finishes a rotation that committed but did not swap the files,
/// or removes what one that never committed left. `check` is the database's check value.
pub fn recover_interrupted_rotation(
    dir: &Path,
    check: Option<&[u8]>,
) -> Result<(), BootstrapError> {
    let (new, old) = (dir.join(NEW_KEY_FILE), dir.join(OLD_KEY_FILE));
    if new.exists() {
        let opens = check.is_some_and(|check| {
            bootstrap::read_key_file(&new)
                .is_ok_and(|key| KeyCipher::new(&key).verify_key_check(check).is_ok())
        });
        if opens {
            tracing::warn!("finishing an interrupted master-key rotation: master.key.new opens the database and replaces master.key");
            promote_new_key_file(dir).map_err(|e| BootstrapError::BadFile {
                path: new.clone(),
                message: e.to_string(),
            })?;
        } else {
            tracing::warn!("removing master.key.new, left by a master-key rotation that did not complete (the database still uses master.key)");
            std::fs::remove_file(&new).map_err(|source| BootstrapError::File {
                path: new.clone(),
                source,
            })?;
        }
    }
    if old.exists() && dir.join(MASTER_KEY_FILE).exists() {
        // Kept only until the new key was in place, which it is.
        let _ = std::fs::remove_file(&old);
    }
    Ok(())
}
