//! Where each stored provider key may go. A key's secret is sealed for its row's
//! [`SecretBinding`] (uid, provider, base URL, auth style): changing where it goes needs the
//! secret itself (the admin API asks for `api_key` with a new `base_url`), and a row changed
//! outside api-proxy no longer opens, so its secret is never sent to the new place.
//!
//! Rows sealed before the binding existed (seal version 1, bound to their uid only) are re-sealed
//! once, at start-up, in one transaction ([`reseal_legacy_rows`]): an interrupted start leaves
//! every row as it was, and a second start finds nothing left to do.

use diesel::Connection;
use shared::providers::AuthStyle;

use crate::config::ProviderCatalog;
use crate::crypto::{legacy_secret_aad, KeyCipher, SecretBinding};
use crate::db::api_keys::{self, ApiKeyRow};
use crate::db::{AnyConnection, DbError};

/// The seal version new and re-sealed rows get.
pub const SEAL_VERSION: i32 = 2;
const LEGACY_SEAL_VERSION: i32 = 1;

/// Where `row`'s secret may go, for a provider that sends keys as `auth`.
pub fn binding(row: &ApiKeyRow, auth: AuthStyle) -> SecretBinding<'_> {
    SecretBinding {
        uid: &row.uid,
        provider: &row.provider,
        base_url: row.base_url.as_deref(),
        auth,
    }
}

/// What the start-up re-seal did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ResealReport {
    pub resealed: usize,
    /// Rows left as they were: their provider is not configured, or their secret does not open
    /// with this master key (they show as `sealed_mismatch` and are never sent).
    pub skipped: Vec<i32>,
}

/// Re-seals every version-1 row for its binding, in one transaction.
pub fn reseal_legacy_rows(
    conn: &mut AnyConnection,
    cipher: &KeyCipher,
    catalog: &ProviderCatalog,
) -> Result<ResealReport, DbError> {
    conn.transaction(|conn| {
        let mut report = ResealReport::default();
        for row in api_keys::list(conn)? {
            if row.seal_version != LEGACY_SEAL_VERSION {
                continue;
            }
            let Some(provider) = catalog.get(&row.provider) else {
                report.skipped.push(row.id);
                continue;
            };
            let Ok(secret) =
                cipher.open_secret(&row.secret_ciphertext, &legacy_secret_aad(&row.uid))
            else {
                report.skipped.push(row.id);
                continue;
            };
            let sealed = cipher.seal_secret(&secret, &binding(&row, provider.spec.auth).aad());
            api_keys::reseal(conn, row.id, &sealed, SEAL_VERSION)?;
            report.resealed += 1;
        }
        Ok(report)
    })
}
