//! Secrets from configuration: admin tokens (compared in constant time) and the AES-GCM keys
//! that encrypt tenant secrets. Missing ones are generated once into the data directory, so
//! `dinero-bridge serve` works on a fresh machine without leaking anything into logs.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use subtle::ConstantTimeEq;

use super::{ConfigError, Settings};

/// Serializes a secret setting as `[REDACTED]` when set (settings are printed for operators).
pub(super) fn redacted_option<S: serde::Serializer>(
    value: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    value.as_ref().map(|_| "[REDACTED]").serialize(serializer)
}

/// As `redacted_option`, for a plain string: empty stays empty.
pub(super) fn redacted_string<S: serde::Serializer>(
    value: &str,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    (if value.is_empty() { "" } else { "[REDACTED]" }).serialize(serializer)
}

/// As `redacted_option`, for a list: one `[REDACTED]` per entry.
pub(super) fn redacted_list<S: serde::Serializer>(
    values: &[String],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    values
        .iter()
        .map(|_| "[REDACTED]")
        .collect::<Vec<_>>()
        .serialize(serializer)
}

/// As `redacted_option`, for a map: its keys (ids), values redacted.
pub(super) fn redacted_map<S: serde::Serializer>(
    values: &BTreeMap<String, String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    values
        .keys()
        .map(|key| (key, "[REDACTED]"))
        .collect::<BTreeMap<_, _>>()
        .serialize(serializer)
}

/// The admin API's bearer tokens.
#[derive(Clone)]
pub struct AdminTokens(Vec<SecretString>);

impl AdminTokens {
    /// The configured tokens.
    pub fn new(tokens: Vec<String>) -> Self {
        AdminTokens(tokens.into_iter().map(SecretString::from).collect())
    }

    /// Constant time per candidate, so the answer's timing says nothing about the token.
    pub fn accepts(&self, presented: &str) -> bool {
        self.0.iter().fold(false, |found, token| {
            let expected = token.expose_secret().as_bytes();
            found | bool::from(expected.ct_eq(presented.as_bytes()))
        })
    }
}

/// AES-256-GCM keys by id: the current one encrypts, all decrypt.
#[derive(Clone)]
pub struct EncryptionKeys {
    /// The id of the key that encrypts.
    pub current_id: String,
    /// Every key by id, the current one included.
    pub keys: BTreeMap<String, [u8; 32]>,
}

fn decode_key(name: &'static str, text: &str) -> Result<[u8; 32], ConfigError> {
    let bytes = STANDARD.decode(text.trim()).map_err(|_| ConfigError::Key {
        key: name,
        message: "is not base64".into(),
    })?;
    bytes.try_into().map_err(|_| ConfigError::Key {
        key: name,
        message: "must be 32 bytes (base64 of 32 random bytes)".into(),
    })
}

fn read_secret_file(key: &'static str, path: &Path) -> Result<String, ConfigError> {
    fs::read_to_string(path).map_err(|e| ConfigError::Key {
        key,
        message: format!("cannot read {}: {e}", path.display()),
    })
}

/// Read `file`, or create it with `make()` (mode 0600) if it does not exist.
fn generated(path: &Path, make: impl FnOnce() -> String) -> Result<String, ConfigError> {
    if let Ok(existing) = fs::read_to_string(path) {
        return Ok(existing.trim().to_owned());
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)
            .map_err(|e| ConfigError::Invalid(format!("cannot create {}: {e}", dir.display())))?;
    }
    let value = make();
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| ConfigError::Invalid(format!("cannot create {}: {e}", path.display())))?;
    file.write_all(value.as_bytes())
        .map_err(|e| ConfigError::Invalid(format!("cannot write {}: {e}", path.display())))?;
    tracing::warn!(path = %path.display(), "no secret configured; generated one into this file");
    Ok(value)
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

impl Settings {
    /// The admin tokens: configured, from their file, or (embedded default only) generated.
    pub fn admin_tokens(&self) -> Result<AdminTokens, ConfigError> {
        let mut tokens: Vec<String> = self
            .security
            .admin_tokens
            .iter()
            .filter(|t| !t.is_empty())
            .cloned()
            .collect();
        if let Some(path) = &self.security.admin_tokens_file {
            let text = read_secret_file("security.admin_tokens_file", path)?;
            tokens.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned),
            );
        }
        if tokens.is_empty() {
            let path = self.data_dir().join("admin-token");
            tokens.push(generated(&path, || {
                URL_SAFE_NO_PAD.encode(random_bytes::<32>())
            })?);
        }
        if tokens.iter().any(|t| t.len() < 16) {
            return Err(ConfigError::Key {
                key: "security.admin_tokens",
                message: "tokens must be at least 16 characters".into(),
            });
        }
        Ok(AdminTokens::new(tokens))
    }

    /// The encryption keys: configured, from their file, or (embedded default only)
    /// generated.
    pub fn encryption_keys(&self) -> Result<EncryptionKeys, ConfigError> {
        let current = match (
            &self.security.encryption_key,
            &self.security.encryption_key_file,
        ) {
            (Some(key), _) => decode_key("security.encryption_key", key)?,
            (None, Some(path)) => decode_key(
                "security.encryption_key_file",
                &read_secret_file("security.encryption_key_file", path)?,
            )?,
            (None, None) => {
                let path = self.data_dir().join("encryption-key");
                decode_key(
                    "security.encryption_key",
                    &generated(&path, || STANDARD.encode(random_bytes::<32>()))?,
                )?
            }
        };
        let mut keys = BTreeMap::new();
        for (id, key) in &self.security.previous_encryption_keys {
            keys.insert(
                id.clone(),
                decode_key("security.previous_encryption_keys", key)?,
            );
        }
        keys.insert(self.security.encryption_key_id.clone(), current);
        Ok(EncryptionKeys {
            current_id: self.security.encryption_key_id.clone(),
            keys,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_tokens_accept_only_a_configured_token() {
        let tokens = AdminTokens::new(vec![
            "first-token-0123456789".into(),
            "second-token-0123456789".into(),
        ]);
        assert!(tokens.accepts("second-token-0123456789"));
        assert!(!tokens.accepts("second-token-012345678"));
        assert!(!tokens.accepts(""));
    }
}
