//! The trust store and the TLS client handshake (rustls with ring).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::{Failure, FailureKind};

/// Which certificates a TLS connection trusts: Mozilla's roots (webpki-roots) plus
/// extra CA certificates, e.g. an organization's own CA. Clones share one config.
#[derive(Clone)]
pub struct Tls {
    config: Arc<ClientConfig>,
    extra_roots: usize,
}

impl Tls {
    /// The webpki roots plus every certificate in each PEM file.
    pub fn new<P: AsRef<Path>>(extra_ca_pem_paths: &[P]) -> Result<Tls, String> {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let mut extra_roots = 0;
        for path in extra_ca_pem_paths {
            let path = path.as_ref();
            let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let certs = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!("{}: no CERTIFICATE in the file", path.display()));
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                extra_roots += 1;
            }
        }
        let config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
        Ok(Tls {
            config: Arc::new(config),
            extra_roots,
        })
    }

    /// Only the webpki roots.
    #[cfg(test)]
    pub fn webpki_only() -> Tls {
        Tls::new::<&Path>(&[]).expect("the webpki roots and ring's defaults are valid")
    }

    pub(super) async fn handshake(
        &self,
        host: &str,
        tcp: TcpStream,
    ) -> Result<TlsStream<TcpStream>, TlsError> {
        let name = ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']'))
            .map_err(|_| TlsError::Name(format!("{host:?} is not a valid TLS server name")))?
            .to_owned();
        TlsConnector::from(self.config.clone())
            .connect(name, tcp)
            .await
            .map_err(TlsError::Io)
    }
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("webpki_roots", &webpki_roots::TLS_SERVER_ROOTS.len())
            .field("extra_roots", &self.extra_roots)
            .finish()
    }
}

pub(super) enum TlsError {
    Name(String),
    Io(std::io::Error),
}

impl TlsError {
    pub(super) fn into_failure(self) -> Failure {
        match self {
            TlsError::Name(m) => Failure::new(FailureKind::Tls, "tls", m),
            TlsError::Io(e) => Failure::new(FailureKind::Tls, "tls", tls_message(&e)),
        }
    }
}

/// rustls' own words when the error is one of its own ("invalid peer certificate:
/// UnknownIssuer", "received corrupt message of type InvalidContentType"), else the OS's.
pub(super) fn tls_message(e: &std::io::Error) -> String {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(r) => r.to_string(),
        None if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the server closed the connection during the TLS handshake".to_string()
        }
        None => e.to_string(),
    }
}

pub(super) fn is_rustls(e: &std::io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_roots_must_be_readable_certificates() {
        let dir = std::env::temp_dir().join(format!("mailsync-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        let err = Tls::new(&[&junk]).unwrap_err();
        assert!(err.contains("no CERTIFICATE"), "{err}");
        let broken = dir.join("broken.pem");
        std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\nAAAA\n").unwrap();
        assert!(Tls::new(&[&broken]).is_err());
        let missing = dir.join("missing.pem");
        let err = Tls::new(&[&missing]).unwrap_err();
        assert!(err.contains("missing.pem"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
        let tls = Tls::webpki_only();
        assert!(format!("{tls:?}").contains("extra_roots: 0"));
    }
}
