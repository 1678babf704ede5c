//! Argon2id hashing off the async threads, with a bound on how many run at once.
use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier, Version, password_hash::SaltString};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use crate::error::AppError;

/// OWASP's recommended argon2id parameters: 19 MiB, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// Verified against when the email is unknown, so that costs the same as a wrong password.
    decoy_hash: Arc<str>,
    verifications: Arc<AtomicU64>,
}

impl PasswordHasher {
    /// `max_concurrent` bounds memory (19 MiB each) and keeps hashing from starving other work.
    pub fn new(max_concurrent: usize) -> Self {
        let decoy = SecretString::from(uuid::Uuid::new_v4().to_string());
        let decoy_hash = hash_blocking(&decoy).expect("hashing a decoy password succeeds");
        Self { permits: Arc::new(Semaphore::new(max_concurrent.max(1))), decoy_hash: decoy_hash.into(), verifications: Arc::default() }
    }

    #[tracing::instrument(skip_all)]
    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let password = SecretString::from(password.to_owned());
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        tokio::task::spawn_blocking(move || hash_blocking(&password)).await.map_err(AppError::internal)?
    }

    /// Checks `password` against `stored`, or against the decoy when there is no account, so
    /// both paths take the same time. Returns true only for a real match.
    #[tracing::instrument(skip_all)]
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, AppError> {
        let is_real = stored.is_some();
        let hash = stored.map(str::to_owned).unwrap_or_else(|| self.decoy_hash.to_string());
        let password = SecretString::from(password.to_owned());
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let matched = tokio::task::spawn_blocking(move || {
            let parsed = PasswordHash::new(&hash).map_err(AppError::internal)?;
            Ok::<_, AppError>(argon2().verify_password(password.expose_secret().as_bytes(), &parsed).is_ok())
        })
        .await
        .map_err(AppError::internal)??;
        Ok(is_real && matched)
    }
}

impl PasswordHasher {
    /// How many password checks ran, real or decoy: every login attempt costs exactly one.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }
}

fn hash_blocking(password: &SecretString) -> Result<String, AppError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(AppError::internal)?;
    argon2().hash_password(password.expose_secret().as_bytes(), &salt).map(|h| h.to_string()).map_err(AppError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_with_owasp_parameters_and_verifies() {
        let hasher = PasswordHasher::new(2);
        let hash = hasher.hash("correct horse battery").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(hasher.verify("correct horse battery", Some(&hash)).await.unwrap());
        assert!(!hasher.verify("wrong horse battery", Some(&hash)).await.unwrap());
    }

    #[tokio::test]
    async fn unknown_account_never_matches_even_the_decoy() {
        let hasher = PasswordHasher::new(1);
        assert!(!hasher.verify("anything at all", None).await.unwrap());
    }
}
