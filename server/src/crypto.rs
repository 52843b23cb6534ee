//! Secrets at rest: provider keys are sealed with AES-256-GCM-SIV under a 256-bit master key, a
//! fresh random nonce per value, and where the secret may go as associated data
//! ([`SecretBinding`]: the row's identity, provider, base URL and auth style), so a ciphertext
//! copied into another row, or a row pointed elsewhere behind api-proxy's back, does not open.
//! [`Secret`] keeps plaintext out of logs and responses.

use std::fmt;

use aes_gcm_siv::aead::{Aead, KeyInit, Payload};
use aes_gcm_siv::{Aes256GcmSiv, Nonce};
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};
use shared::providers::AuthStyle;
use subtle::ConstantTimeEq;

const NONCE_LEN: usize = 12;
/// Encrypted with the master key at first start; decrypting it later proves the key is the same.
const CHECK_PLAINTEXT: &[u8] = b"api-proxy master key check v1";
const CHECK_AAD: &[u8] = b"api-proxy/meta/key-check";

/// A secret string whose `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The plaintext; call only where it is sent to its own provider or compared.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `sk-…abcd`: enough to recognise a key, never enough to use it.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }

    /// Compares in constant time (for bearer tokens).
    pub fn matches(&self, candidate: &str) -> bool {
        let a = Sha256::digest(self.0.as_bytes());
        let b = Sha256::digest(candidate.as_bytes());
        a.ct_eq(&b).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// Masks a key as `sk-…abcd` (first three and last four characters); short keys show less.
pub fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() >= 12 {
        let head: String = chars[..3].iter().collect();
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("{head}…{tail}")
    } else if chars.len() >= 6 {
        let tail: String = chars[chars.len() - 2..].iter().collect();
        format!("…{tail}")
    } else {
        "…".to_owned()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the stored value could not be decrypted: wrong master key or corrupted data")]
    Decrypt,
    #[error("the master key does not match the one this database was created with")]
    WrongMasterKey,
    #[error("ENCRYPTION_KEY: {0}")]
    BadKey(String),
}

/// Seals and opens provider secrets.
#[derive(Clone)]
pub struct KeyCipher {
    cipher: Aes256GcmSiv,
}

impl fmt::Debug for KeyCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyCipher(***)")
    }
}

impl KeyCipher {
    pub fn new(master_key: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256GcmSiv::new(master_key.into()),
        }
    }

    /// Returns `nonce || ciphertext`.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("AES-GCM-SIV encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < NONCE_LEN {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::Decrypt)
    }

    /// Seals a provider key for where `aad` ([`SecretBinding::aad`]) says it may go.
    pub fn seal_secret(&self, secret: &Secret, aad: &[u8]) -> Vec<u8> {
        self.seal(secret.expose().as_bytes(), aad)
    }

    pub fn open_secret(&self, sealed: &[u8], aad: &[u8]) -> Result<Secret, CryptoError> {
        let bytes = self.open(sealed, aad)?;
        String::from_utf8(bytes)
            .map(Secret::new)
            .map_err(|_| CryptoError::Decrypt)
    }

    /// A value stored once per database to recognise its master key.
    pub fn key_check(&self) -> Vec<u8> {
        self.seal(CHECK_PLAINTEXT, CHECK_AAD)
    }

    pub fn verify_key_check(&self, stored: &[u8]) -> Result<(), CryptoError> {
        match self.open(stored, CHECK_AAD) {
            Ok(plain) if plain == CHECK_PLAINTEXT => Ok(()),
            _ => Err(CryptoError::WrongMasterKey),
        }
    }
}

/// Where a stored provider key may be sent: bound into its ciphertext as associated data. A row
/// whose provider, base URL or auth style was changed outside api-proxy (a direct database
/// write pointing `base_url` at another host) no longer opens, so its key is never sent there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretBinding<'a> {
    /// The row's identity: a ciphertext copied into another row does not open.
    pub uid: &'a str,
    pub provider: &'a str,
    /// The row's own base URL; `None` is the provider's.
    pub base_url: Option<&'a str>,
    pub auth: AuthStyle,
}

impl SecretBinding<'_> {
    /// The associated data: a version tag, then each field length-prefixed (so no two bindings
    /// share bytes).
    pub fn aad(&self) -> Vec<u8> {
        let auth = match self.auth {
            AuthStyle::Bearer => "bearer",
            AuthStyle::XApiKey => "x-api-key",
            AuthStyle::ApiKey => "api-key",
        };
        let mut aad = Vec::with_capacity(64 + self.uid.len() + self.base_url.map_or(0, str::len));
        aad.extend_from_slice(SECRET_AAD_V2);
        for field in [
            Some(self.uid),
            Some(self.provider),
            self.base_url,
            Some(auth),
        ] {
            match field {
                Some(text) => {
                    aad.extend_from_slice(&(text.len() as u32).to_be_bytes());
                    aad.extend_from_slice(text.as_bytes());
                }
                None => aad.extend_from_slice(&u32::MAX.to_be_bytes()),
            }
        }
        aad
    }
}

const SECRET_AAD_V2: &[u8] = b"api-proxy/api_keys/v2";

/// The associated data of secrets sealed before the binding covered more than the row
/// (seal version 1): read once, by the start-up re-seal.
pub fn legacy_secret_aad(row_uid: &str) -> Vec<u8> {
    format!("api-proxy/api_keys/{row_uid}").into_bytes()
}

/// How `ENCRYPTION_KEY` is read: 32 bytes in base64 are the key itself; anything else is a
/// passphrase stretched with Argon2id and the database's salt.
pub enum MasterKeyInput {
    Raw([u8; 32]),
    Passphrase(Secret),
}

impl MasterKeyInput {
    pub fn parse(value: &Secret) -> Result<Self, CryptoError> {
        let trimmed = value.expose().trim();
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(trimmed) {
            if let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice()) {
                return Ok(Self::Raw(key));
            }
        }
        if trimmed.chars().count() < 12 {
            return Err(CryptoError::BadKey(
                "use 32 bytes in base64 (openssl rand -base64 32) or a passphrase of at least 12 characters"
                    .into(),
            ));
        }
        Ok(Self::Passphrase(Secret::new(trimmed)))
    }

    pub fn derive(&self, salt: &[u8]) -> Result<[u8; 32], CryptoError> {
        match self {
            Self::Raw(key) => Ok(*key),
            Self::Passphrase(pass) => {
                let mut out = [0u8; 32];
                argon2::Argon2::default()
                    .hash_password_into(pass.expose().as_bytes(), salt, &mut out)
                    .map_err(|e| CryptoError::BadKey(e.to_string()))?;
                Ok(out)
            }
        }
    }
}

/// 32 random bytes.
pub fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    key
}

/// A random token with a prefix, e.g. `apx-…` (URL-safe base64 of 32 random bytes).
pub fn random_token(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_key())
    )
}

/// Hex SHA-256, used to store client keys without storing them.
pub fn sha256_hex(value: &str) -> String {
    // Per request for a client key: a table, not a `format!` (and an allocation) per byte.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(value.as_bytes());
    let mut hex = String::with_capacity(2 * digest.len());
    for b in digest {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    hex
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn unb64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_is_lowercase_hex_of_the_digest() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    fn binding(uid: &str) -> SecretBinding<'_> {
        SecretBinding {
            uid,
            provider: "openai",
            base_url: None,
            auth: AuthStyle::Bearer,
        }
    }

    #[test]
    fn seal_open_round_trip_with_fresh_nonces() {
        let cipher = KeyCipher::new(&random_key());
        let secret = Secret::new("sk-test-1234567890abcdef");
        let aad = binding("row-1").aad();
        let a = cipher.seal_secret(&secret, &aad);
        let b = cipher.seal_secret(&secret, &aad);
        assert_ne!(a, b, "every seal uses a fresh nonce");
        assert_eq!(cipher.open_secret(&a, &aad).unwrap(), secret);
        assert!(!a.windows(8).any(|w| w == b"sk-test-"));
    }

    #[test]
    fn ciphertext_is_bound_to_its_row_and_where_it_may_go() {
        let cipher = KeyCipher::new(&random_key());
        let sealed = cipher.seal_secret(&Secret::new("sk-abc"), &binding("row-1").aad());
        let elsewhere = [
            binding("row-2"),
            SecretBinding {
                provider: "deepseek",
                ..binding("row-1")
            },
            SecretBinding {
                base_url: Some("https://attacker.example/v1"),
                ..binding("row-1")
            },
            SecretBinding {
                auth: AuthStyle::XApiKey,
                ..binding("row-1")
            },
        ];
        for other in elsewhere {
            assert!(
                matches!(
                    cipher.open_secret(&sealed, &other.aad()),
                    Err(CryptoError::Decrypt)
                ),
                "{other:?}"
            );
        }
        assert!(cipher
            .open_secret(&sealed, &legacy_secret_aad("row-1"))
            .is_err());
    }

    #[test]
    fn bindings_never_share_bytes() {
        // Length prefixes: moving a character from one field to the next changes the data.
        let a = SecretBinding {
            uid: "ab",
            provider: "c",
            ..binding("")
        };
        let b = SecretBinding {
            uid: "a",
            provider: "bc",
            ..binding("")
        };
        assert_ne!(a.aad(), b.aad());
        let empty = SecretBinding {
            base_url: Some(""),
            ..binding("u")
        };
        assert_ne!(
            empty.aad(),
            binding("u").aad(),
            "no base URL is not an empty one"
        );
    }

    #[test]
    fn wrong_master_key_is_detected() {
        let check = KeyCipher::new(&random_key()).key_check();
        let other = KeyCipher::new(&random_key());
        assert!(matches!(
            other.verify_key_check(&check),
            Err(CryptoError::WrongMasterKey)
        ));
    }

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("sk-supersecret");
        assert_eq!(format!("{s} {s:?}"), "*** ***");
        assert_eq!(mask("sk-proj-abcdefgh1234"), "sk-…1234");
        assert_eq!(mask("short"), "…");
        assert!(s.matches("sk-supersecret"));
        assert!(!s.matches("sk-supersecreT"));
    }

    #[test]
    fn passphrase_and_raw_keys() {
        let raw = Secret::new(b64(&[7u8; 32]));
        assert!(matches!(
            MasterKeyInput::parse(&raw).unwrap(),
            MasterKeyInput::Raw(k) if k == [7u8; 32]
        ));
        let pass = MasterKeyInput::parse(&Secret::new("correct horse battery staple")).unwrap();
        let k1 = pass.derive(b"salt-salt-salt-1").unwrap();
        let k2 = pass.derive(b"salt-salt-salt-2").unwrap();
        assert_ne!(k1, k2);
        assert!(MasterKeyInput::parse(&Secret::new("short")).is_err());
    }
}
