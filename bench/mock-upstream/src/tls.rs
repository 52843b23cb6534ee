//! HTTPS for tests of api-proxy's upstream TLS: a certificate for `127.0.0.1` and `localhost`
//! issued by a test CA whose private key was discarded after signing (see `tls/README.md`), so
//! the CA vouches for this one certificate and nothing else.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The test CA, to be trusted by the client under test (api-proxy's `UPSTREAM_CA_FILE`).
pub const TEST_CA_PEM: &str = include_str!("../tls/ca.pem");
const CERT_PEM: &str = include_str!("../tls/localhost.pem");
const KEY_PEM: &str = include_str!("../tls/localhost.key");

/// The server side; actix-web adds `h2` and `http/1.1` to its ALPN list, so a client that
/// offers `h2` gets HTTP/2.
pub fn server_config() -> rustls::ServerConfig {
    let chain = CertificateDer::pem_slice_iter(CERT_PEM.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("test certificate parses");
    let key = PrivateKeyDer::from_pem_slice(KEY_PEM.as_bytes()).expect("test key parses");
    rustls::ServerConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
        .with_safe_default_protocol_versions()
        .expect("default TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("test certificate matches its key")
}
