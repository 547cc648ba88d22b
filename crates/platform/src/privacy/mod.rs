//! Personal data at rest: identity numbers, names, phones and e-mails are
//! stored sealed (AES-256-GCM, a fresh nonce each time, the key id stored
//! with the value so keys can rotate), each bound to its record and field so
//! a value cannot be moved to another row unnoticed. A keyed hash
//! (HMAC-SHA256) of the identity number and the phone allows exact look-up
//! without decrypting anything.

pub mod tracking;

pub use tracking::TrackingKey;

use crate::PlatformError;
use crate::config::{Settings, StoreKind, hex_decode};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::Arc;

/// Sealed values start with this, then `<kid>:<hex of nonce ‖ ciphertext>`.
const PREFIX: &str = "enc1:";

#[derive(Clone)]
pub struct Vault {
    current: String,
    ciphers: Arc<HashMap<String, Aes256Gcm>>,
    hash_key: Arc<Vec<u8>>,
}

impl Vault {
    /// From `privacy.keys` and `privacy.hash_key`, or (embedded default)
    /// keys generated once in the data folder.
    pub fn load(settings: &Settings) -> Result<Self, PlatformError> {
        let p = &settings.privacy;
        let mut pairs = crate::config::parse_key_list("privacy.keys", p.keys.expose())
            .map_err(PlatformError::Config)?;
        let mut hash_key = if p.hash_key.is_empty() {
            None
        } else {
            Some(
                hex_decode(p.hash_key.expose())
                    .ok_or_else(|| PlatformError::Config("privacy.hash_key: not hex".into()))?,
            )
        };
        if pairs.is_empty() || hash_key.is_none() {
            if settings.store_kind() == StoreKind::Postgres {
                return Err(PlatformError::Config(
                    "privacy.keys and privacy.hash_key: required with a PostgreSQL store".into(),
                ));
            }
            if pairs.is_empty() {
                pairs.push((
                    "local".into(),
                    crate::config::local_key(&settings.data_dir.join("privacy.key"))?,
                ));
            }
            if hash_key.is_none() {
                hash_key = Some(crate::config::local_key(
                    &settings.data_dir.join("privacy-hash.key"),
                )?);
            }
        }
        let ciphers = pairs
            .iter()
            .map(|(kid, k)| {
                Aes256Gcm::new_from_slice(k)
                    .map(|c| (kid.clone(), c))
                    .map_err(|_| {
                        PlatformError::Config(format!(
                            "privacy.keys {kid}: an AES-256 key is 32 bytes"
                        ))
                    })
            })
            .collect::<Result<HashMap<_, _>, _>>()?;
        Ok(Self {
            current: pairs[0].0.clone(),
            ciphers: Arc::new(ciphers),
            hash_key: Arc::new(hash_key.expect("set above")),
        })
    }

    /// Seals `value` for `field` of record `record` with the current key.
    pub fn seal(&self, record: &str, field: &str, value: &str) -> String {
        let cipher = &self.ciphers[&self.current];
        let nonce: [u8; 12] = rand::random();
        let aad = format!("{record}/{field}");
        let ct = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: value.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .expect("AES-GCM encryption does not fail for in-memory buffers");
        let mut body = nonce.to_vec();
        body.extend(ct);
        format!("{PREFIX}{}:{}", self.current, hex::encode(body))
    }

    /// Opens a value sealed by [`Vault::seal`] with any known key.
    pub fn open(&self, record: &str, field: &str, stored: &str) -> Result<String, PlatformError> {
        let fail =
            |why: &str| PlatformError::Internal(format!("cannot open {field} of {record}: {why}"));
        let rest = stored
            .strip_prefix(PREFIX)
            .ok_or_else(|| fail("not sealed"))?;
        let (kid, body) = rest.split_once(':').ok_or_else(|| fail("malformed"))?;
        let cipher = self
            .ciphers
            .get(kid)
            .ok_or_else(|| fail("sealed with a key that is no longer configured"))?;
        let body = hex::decode(body).map_err(|_| fail("malformed"))?;
        if body.len() < 12 {
            return Err(fail("malformed"));
        }
        let aad = format!("{record}/{field}");
        let clear = cipher
            .decrypt(
                Nonce::from_slice(&body[..12]),
                Payload {
                    msg: &body[12..],
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| fail("authentication failed"))?;
        String::from_utf8(clear).map_err(|_| fail("not text"))
    }

    /// A keyed hash for exact look-up, 16 bytes: equal inputs, equal hashes;
    /// useless without the key (an unkeyed hash of an 11-digit number is
    /// brute-forced). 128 bits keep the index small and collisions negligible.
    pub fn lookup_hash(&self, kind: &str, value: &str) -> Vec<u8> {
        self.mac(kind, value)[..16].to_vec()
    }

    /// The full keyed digest, hex, for values compared but never indexed.
    pub fn keyed_digest(&self, kind: &str, value: &str) -> String {
        hex::encode(self.mac(kind, value))
    }

    fn mac(&self, kind: &str, value: &str) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.hash_key)
            .expect("HMAC takes any key length");
        mac.update(kind.as_bytes());
        mac.update(b":");
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// The key id new values are sealed with.
    pub fn current_key_id(&self) -> &str {
        &self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn vault(keys: &str) -> Vault {
        let mut s = Settings::default();
        s.privacy.keys = Secret::new(keys);
        s.privacy.hash_key = Secret::new("11".repeat(32));
        Vault::load(&s).unwrap()
    }

    #[test]
    fn seals_opens_rotates_and_binds() {
        let old = vault(&format!("k1:{}", "aa".repeat(32)));
        let sealed = old.seal("263400000010", "national_id", "12345678950");
        assert!(!sealed.contains("12345678950") && sealed.starts_with("enc1:k1:"));
        assert_ne!(
            sealed,
            old.seal("263400000010", "national_id", "12345678950"),
            "fresh nonce each time"
        );
        assert_eq!(
            old.open("263400000010", "national_id", &sealed).unwrap(),
            "12345678950"
        );

        let rotated = vault(&format!("k2:{},k1:{}", "bb".repeat(32), "aa".repeat(32)));
        assert_eq!(
            rotated
                .open("263400000010", "national_id", &sealed)
                .unwrap(),
            "12345678950",
            "old rows still read"
        );
        assert!(
            rotated.seal("x", "f", "v").starts_with("enc1:k2:"),
            "new rows use the new key"
        );

        assert!(
            old.open("263400000028", "national_id", &sealed).is_err(),
            "bound to its record"
        );
        assert!(
            old.open("263400000010", "phone", &sealed).is_err(),
            "bound to its field"
        );
        let retired = vault(&format!("k2:{}", "bb".repeat(32)));
        assert!(
            retired
                .open("263400000010", "national_id", &sealed)
                .is_err()
        );
        assert_eq!(
            old.lookup_hash("nid", "1"),
            rotated.lookup_hash("nid", "1"),
            "the hash key is separate"
        );
    }
}
