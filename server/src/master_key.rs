//! The master key that encrypts secrets at rest. From `GATEHOUSE_MASTER_KEY`, or the
//! embedded default's `data/master.key`, created with mode 0600 on first run.
use std::{fs, io::Write, path::Path};

use anyhow::{Context, bail};
use base64::{Engine, engine::general_purpose::STANDARD};
use secrecy::{ExposeSecret, SecretBox, SecretString};

pub struct MasterKey {
    key: SecretBox<[u8; 32]>,
    /// Where it came from, for messages: `GATEHOUSE_MASTER_KEY` or the file's path.
    source: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<hidden>)")
    }
}

impl MasterKey {
    pub fn bytes(&self) -> &[u8; 32] {
        self.key.expose_secret()
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    fn decode(encoded: &str, source: String) -> anyhow::Result<Self> {
        let bytes = STANDARD.decode(encoded.trim()).context("the master key is not valid base64")?;
        let key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| anyhow::anyhow!("the master key must be 32 bytes, found {}", b.len()))?;
        Ok(Self { key: SecretBox::new(Box::new(key)), source })
    }

    /// The configured key, or the key file under `data_dir` (made if missing).
    pub fn load_or_create(configured: Option<&SecretString>, data_dir: &Path) -> anyhow::Result<Self> {
        if let Some(encoded) = configured {
            return Self::decode(encoded.expose_secret(), "GATEHOUSE_MASTER_KEY".into()).context("GATEHOUSE_MASTER_KEY");
        }
        let path = data_dir.join("master.key");
        match fs::read_to_string(&path) {
            Ok(encoded) => Self::decode(&encoded, path.display().to_string()).with_context(|| format!("{}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
                let key: [u8; 32] = rand::random();
                write_private(&path, STANDARD.encode(key).as_bytes())?;
                tracing::info!(path = %path.display(), "created a new master key; back it up with the database");
                Ok(Self { key: SecretBox::new(Box::new(key)), source: path.display().to_string() })
            }
            Err(e) => bail!("reading {}: {e}", path.display()),
        }
    }
}

/// Creates `path` readable by its owner only; never overwrites an existing key.
fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_private_key_file_once_and_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let first = MasterKey::load_or_create(None, dir.path()).unwrap();
        let again = MasterKey::load_or_create(None, dir.path()).unwrap();
        assert_eq!(first.bytes(), again.bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("master.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_configured_key_must_be_32_bytes_of_base64() {
        let dir = tempfile::tempdir().unwrap();
        let short = SecretString::from(STANDARD.encode([1u8; 16]));
        assert!(MasterKey::load_or_create(Some(&short), dir.path()).is_err());
        let junk = SecretString::from("not base64!".to_string());
        assert!(MasterKey::load_or_create(Some(&junk), dir.path()).is_err());
        let good = SecretString::from(STANDARD.encode([7u8; 32]));
        assert_eq!(MasterKey::load_or_create(Some(&good), dir.path()).unwrap().bytes(), &[7u8; 32]);
        assert!(!dir.path().join("master.key").exists(), "a configured key writes no file");
    }
}
