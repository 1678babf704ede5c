//! Encryption at rest under the master key: XChaCha20-Poly1305 with a random 192-bit nonce per
//! value, and the row the value belongs to as associated data, so a ciphertext copied into
//! another row does not decrypt.
use base64::{Engine, engine::general_purpose::STANDARD};
use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, Payload},
};
use secrecy::{SecretBox, SecretString};

use crate::error::AppError;

const NONCE_LEN: usize = 24;

#[derive(Clone)]
pub struct Cipher(XChaCha20Poly1305);

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(<hidden>)")
    }
}

impl Cipher {
    pub fn new(master_key: &[u8; 32]) -> Self {
        Self(XChaCha20Poly1305::new(master_key.into()))
    }

    /// `nonce ‖ ciphertext`, base64.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Result<String, AppError> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = XNonce::from_slice(&nonce_bytes);
        let sealed = self
            .0
            .encrypt(nonce, Payload { msg: plaintext, aad: context.as_bytes() })
            .map_err(|_| AppError::internal("encryption failed"))?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        Ok(STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str, context: &str) -> Result<SecretBox<Vec<u8>>, AppError> {
        let bytes = STANDARD.decode(sealed).map_err(|_| AppError::internal("sealed value is not base64"))?;
        if bytes.len() < NONCE_LEN {
            return Err(AppError::internal("sealed value is too short"));
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        self.0
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: context.as_bytes() })
            .map(|plain| SecretBox::new(Box::new(plain)))
            .map_err(|_| AppError::internal(format!("cannot decrypt {context}: wrong master key or tampered data")))
    }

    /// Whether `sealed` opens under this key, without logging a failure (the start-up check).
    pub fn opens(&self, sealed: &str, context: &str) -> bool {
        let Ok(bytes) = STANDARD.decode(sealed) else { return false };
        bytes.len() >= NONCE_LEN && {
            let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
            self.0.decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: context.as_bytes() }).is_ok()
        }
    }

    pub fn open_string(&self, sealed: &str, context: &str) -> Result<SecretString, AppError> {
        use secrecy::ExposeSecret;
        let bytes = self.open(sealed, context)?;
        String::from_utf8(bytes.expose_secret().clone()).map(SecretString::from).map_err(|_| AppError::internal("sealed text is not UTF-8"))
    }
}

/// The SHA-256 of `text`, in lowercase hex: how token fingerprints, API keys and invite codes
/// are kept (each is high-entropy, so a fast hash is enough; the text itself is never stored).
pub fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    use std::fmt::Write;
    Sha256::digest(text.as_bytes()).iter().fold(String::with_capacity(64), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

/// A fresh random secret with `prefix`: 32 bytes, base64url.
/// Equal bytes, compared in time that depends only on the length (for presented secrets'
/// hashes).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn random_secret(prefix: &str) -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn round_trips_and_binds_to_its_context() {
        let cipher = Cipher::new(&[9u8; 32]);
        let sealed = cipher.seal(b"top secret", "signing_key:1").unwrap();
        assert!(!sealed.contains("top secret"));
        assert_eq!(cipher.open(&sealed, "signing_key:1").unwrap().expose_secret().as_slice(), b"top secret");
        assert!(cipher.open(&sealed, "signing_key:2").is_err(), "moved to another row");
        assert!(Cipher::new(&[8u8; 32]).open(&sealed, "signing_key:1").is_err(), "another master key");
        assert_ne!(sealed, cipher.seal(b"top secret", "signing_key:1").unwrap(), "fresh nonce each time");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let cipher = Cipher::new(&[9u8; 32]);
        for junk in ["", "!!!", "AAAA", &STANDARD.encode([0u8; 40])] {
            assert!(cipher.open(junk, "x").is_err());
        }
    }

    #[test]
    fn sha256_hex_is_the_standard_digest() {
        assert_eq!(super::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
