//! HTTPS on its own (`tls_cert`, `tls_key`: PEM files) with rustls. The files are read again
//! when they change, so a renewed certificate (certbot, cert-manager) is served without a
//! restart; a renewal that cannot be read keeps the certificate being served and says why.
//!
//! Change detection polls the files' modification time and size every few seconds: a file
//! watcher (inotify) misses the symlink swaps those tools make, and a poll of two `stat`s is
//! nothing to pay.
use std::{
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
    time::{Duration, SystemTime},
};

use anyhow::{Context, bail};
use rustls::{
    ServerConfig,
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio_rustls::TlsAcceptor;

/// How often the files are checked for a change.
const RELOAD_EVERY: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub struct Certificates {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    seen: RwLock<Option<(Stamp, Stamp)>>,
}

type Stamp = (SystemTime, u64);

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

fn load(cert: &Path, key: &Path) -> anyhow::Result<CertifiedKey> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading the certificate {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("{} is not a PEM certificate chain", cert.display()))?;
    if chain.is_empty() {
        bail!("{} holds no certificate", cert.display());
    }
    let key_der = PrivateKeyDer::from_pem_file(key).with_context(|| format!("{} is not a PEM private key", key.display()))?;
    let provider = rustls::crypto::ring::default_provider();
    let signing =
        provider.key_provider.load_private_key(key_der).with_context(|| format!("{} is not a usable private key", key.display()))?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().with_context(|| format!("the key {} does not belong to the certificate {}", key.display(), cert.display()))?;
    Ok(certified)
}

impl Certificates {
    /// Reads both files now: a start with a bad certificate fails at once.
    pub fn load(cert: &Path, key: &Path) -> anyhow::Result<Arc<Self>> {
        let seen = stamp(cert).zip(stamp(key));
        let current = load(cert, key)?;
        Ok(Arc::new(Self { cert: cert.into(), key: key.into(), current: RwLock::new(Arc::new(current)), seen: RwLock::new(seen) }))
    }

    /// The acceptor for the listener: HTTP/2 and HTTP/1.1 by ALPN, TLS 1.2 and 1.3.
    pub fn acceptor(self: &Arc<Self>) -> TlsAcceptor {
        let mut config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default versions")
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        TlsAcceptor::from(Arc::new(config))
    }

    /// Reads the files again if they changed; true when a new certificate is being served.
    pub fn reload_if_changed(&self) -> bool {
        let now = stamp(&self.cert).zip(stamp(&self.key));
        if now.is_none() || *self.seen.read().expect("not poisoned") == now {
            return false;
        }
        *self.seen.write().expect("not poisoned") = now;
        match load(&self.cert, &self.key) {
            Ok(fresh) => {
                *self.current.write().expect("not poisoned") = Arc::new(fresh);
                tracing::info!(cert = %self.cert.display(), "serving the renewed TLS certificate");
                true
            }
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "the TLS files changed but cannot be used; still serving the previous certificate");
                false
            }
        }
    }

    /// Checks the files every few seconds until the task is stopped.
    pub async fn watch(self: Arc<Self>) {
        loop {
            tokio::time::sleep(RELOAD_EVERY).await;
            self.reload_if_changed();
        }
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().expect("not poisoned").clone())
    }
}
