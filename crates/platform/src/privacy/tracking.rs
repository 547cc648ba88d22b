//! The tracking code: 8 characters given with the application number (in the
//! response and in the receipt SMS) and needed with it to see the
//! application. Derived, not stored: HMAC-SHA256(key, number), 40 bits,
//! written in an alphabet without look-alikes (no I, O, 0, 1). Sequential
//! numbers are therefore useless for enumeration, and replays of a
//! submission can hand out the same code again.

use crate::PlatformError;
use crate::config::{Settings, hex_decode};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;

const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

#[derive(Clone)]
pub struct TrackingKey(Vec<u8>);

impl TrackingKey {
    /// From configuration, or (embedded default) from a key file in the data
    /// folder, created on first start.
    pub fn load(settings: &Settings) -> Result<Self, PlatformError> {
        let configured = settings.intake.tracking_key.expose();
        if !configured.is_empty() {
            return hex_decode(configured)
                .map(Self)
                .ok_or_else(|| PlatformError::Config("intake.tracking_key: not hex".into()));
        }
        Self::from_file(&settings.data_dir.join("tracking.key"))
    }

    fn from_file(path: &Path) -> Result<Self, PlatformError> {
        let io = |e: std::io::Error| PlatformError::Config(format!("{}: {e}", path.display()));
        if let Ok(text) = std::fs::read_to_string(path) {
            return hex_decode(text.trim())
                .map(Self)
                .ok_or_else(|| PlatformError::Config(format!("{}: not hex", path.display())));
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let key: [u8; 32] = rand::random();
        std::fs::write(path, hex::encode(key)).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
        Ok(Self(key.to_vec()))
    }

    pub fn from_bytes(key: &[u8]) -> Self {
        Self(key.to_vec())
    }

    /// The code for an application number (12 digits).
    pub fn code(&self, number_digits: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"acikkapi.tracking.v1:");
        mac.update(number_digits.as_bytes());
        let tag = mac.finalize().into_bytes();
        let bits = tag[..5]
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        (0..8)
            .rev()
            .map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char)
            .collect()
    }

    /// Whether `given` is the code for `number_digits`. Case, spaces and
    /// dashes are forgiven; the comparison takes the same time either way.
    pub fn verify(&self, number_digits: &str, given: &str) -> bool {
        let given: Vec<u8> = given
            .bytes()
            .filter(|b| !matches!(b, b' ' | b'-'))
            .map(|b| b.to_ascii_uppercase())
            .collect();
        let expected = self.code(number_digits).into_bytes();
        given.len() == expected.len()
            && given
                .iter()
                .zip(&expected)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_distinct_and_verifiable() {
        let k = TrackingKey::from_bytes(&[7; 32]);
        let a = k.code("263400000017");
        assert_eq!(a.len(), 8);
        assert_eq!(a, k.code("263400000017"));
        assert_ne!(a, k.code("263400000025"));
        assert!(k.verify("263400000017", &a.to_lowercase()));
        assert!(!k.verify("263400000025", &a));
        assert!(!k.verify("263400000017", ""));
        let other = TrackingKey::from_bytes(&[8; 32]);
        assert_ne!(a, other.code("263400000017"));
    }
}
