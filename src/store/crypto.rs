//! Tenant secrets at rest: AES-256-GCM with a random 96-bit nonce per write; the key id is
//! stored beside the ciphertext so keys can be rotated (old ids stay readable).

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

use super::StoreError;
use crate::config::EncryptionKeys;

const NONCE: usize = 12;

pub fn seal(keys: &EncryptionKeys, plaintext: &[u8]) -> (Vec<u8>, String) {
    let key = &keys.keys[&keys.current_id];
    let cipher = Aes256Gcm::new(key.into());
    let mut nonce = [0u8; NONCE];
    rand::rng().fill_bytes(&mut nonce);
    let mut sealed = nonce.to_vec();
    sealed.extend(
        cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext)
            .expect("AES-GCM encryption cannot fail"),
    );
    (sealed, keys.current_id.clone())
}

pub fn open(keys: &EncryptionKeys, key_id: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
    let key = keys.keys.get(key_id).ok_or_else(|| {
        StoreError::Secrets(format!("encryption key '{key_id}' is not configured"))
    })?;
    if sealed.len() < NONCE {
        return Err(StoreError::Secrets("ciphertext too short".into()));
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE);
    Aes256Gcm::new(key.into())
        .decrypt(Nonce::from_slice(nonce), ciphertext)
        .map_err(|_| {
            StoreError::Secrets(format!("tenant secrets do not decrypt with key '{key_id}'"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn keys(id: &str, byte: u8) -> EncryptionKeys {
        EncryptionKeys {
            current_id: id.into(),
            keys: BTreeMap::from([(id.to_owned(), [byte; 32])]),
        }
    }

    #[test]
    fn sealed_secrets_open_with_their_key_only() {
        let k1 = keys("k1", 1);
        let (sealed, id) = seal(&k1, b"api-key-123");
        assert_eq!(id, "k1");
        assert!(
            !sealed.windows(11).any(|w| w == b"api-key-123"),
            "plaintext must not show"
        );
        assert_eq!(open(&k1, "k1", &sealed).unwrap(), b"api-key-123");
        assert!(
            open(&keys("k1", 2), "k1", &sealed).is_err(),
            "a wrong key fails"
        );
        // After a rotation the old key still reads.
        let mut rotated = keys("k2", 2);
        rotated.keys.insert("k1".into(), [1; 32]);
        assert_eq!(open(&rotated, "k1", &sealed).unwrap(), b"api-key-123");
        assert_eq!(seal(&rotated, b"x").1, "k2");
    }
}
