//! TLS for upstream calls: Mozilla's root certificates (webpki-roots, built in, so a container
//! needs no CA bundle) plus any in `UPSTREAM_CA_FILE` (a self-hosted vendor or a company proxy
//! with its own CA), and HTTP/1.1 only.
//!
//! Why not HTTP/2: awc speaks it through `h2` 0.3, which has an open advisory (RUSTSEC-2026-0258:
//! a peer can queue empty DATA frames without limit) fixed only in 0.4, and actix-http 3 cannot
//! use 0.4. Offering only `http/1.1` in ALPN keeps that code off the wire (awc's keep-alive pool
//! then holds one connection per concurrent call, as it does for plain-HTTP upstreams).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

#[derive(Debug, thiserror::Error)]
pub enum UpstreamTlsError {
    #[error("UPSTREAM_CA_FILE {}: {message}", path.display())]
    CaFile { path: PathBuf, message: String },
    #[error("TLS set-up failed: {0}")]
    Provider(String),
}

/// The ALPN protocols offered to upstreams (see the module note).
pub const ALPN: &[&[u8]] = &[b"http/1.1"];

/// The client TLS settings every worker's awc client shares.
pub fn client_config(extra_roots: Option<&Path>) -> Result<Arc<ClientConfig>, UpstreamTlsError> {
    let mut roots = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_roots {
        for cert in read_certificates(path)? {
            roots.add(cert).map_err(|e| UpstreamTlsError::CaFile {
                path: path.to_owned(),
                message: format!("a certificate cannot be used as a root: {e}"),
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| UpstreamTlsError::Provider(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// Every certificate in a PEM file; a file with none is an error, not an empty trust list.
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, UpstreamTlsError> {
    let error = |message: String| UpstreamTlsError::CaFile {
        path: path.to_owned(),
        message,
    };
    let pem = std::fs::read(path).map_err(|e| error(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(format!("not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(error("holds no `BEGIN CERTIFICATE` block".into()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(contents: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), contents).unwrap();
        file
    }

    #[test]
    fn offers_only_http_1_1() {
        let config = client_config(None).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn a_missing_empty_or_garbled_ca_file_is_a_clear_error() {
        let missing = client_config(Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
        assert!(missing
            .to_string()
            .contains("UPSTREAM_CA_FILE /nonexistent/ca.pem"));

        let empty = file("just some text\n");
        let err = client_config(Some(empty.path())).unwrap_err().to_string();
        assert!(err.contains("no `BEGIN CERTIFICATE`"), "{err}");

        let garbled =
            file("-----BEGIN CERTIFICATE-----\n%%%not base64%%%\n-----END CERTIFICATE-----\n");
        let err = client_config(Some(garbled.path())).unwrap_err().to_string();
        assert!(err.contains("UPSTREAM_CA_FILE"), "{err}");
    }
}
