//! Keyed pseudonyms for personal identifiers (BSN, names, licence plates, registration subjects); pure.
//!
//! A pseudonym is `hex(HMAC-SHA256(key, normalise(value)))` (64 lower-case hex characters). The key belongs to a
//! cooperation: police, OM and municipality that use the same key get the same pseudonym for the same person
//! or vehicle and can match records without exchanging the raw values. The column name is not part of the
//! input, so a value matches across differently named columns.
//!
//! # Normalisation (part of the contract: every party must apply the same)
//! Leading/trailing whitespace is removed, letters are upper-cased (Unicode), and all whitespace, `-` and `.`
//! are removed. So `ab-123-c`, `AB 123 C` and `AB123C` are one licence plate, `1234.56.782` and `123456782` one
//! BSN, and `Jan de Vries` equals `JAN DEVRIES`. A value that is empty after normalisation has no pseudonym.
//!
//! # Keys
//! At least 32 bytes, given as hex (only hex digits, even length) or base64 (standard or url-safe alphabet,
//! padding optional). [`PseudonymKey`]'s `Debug` never shows the key, and no error quotes it.
//!
//! # Key ids
//! [`PseudonymKey::key_id`] names a key without revealing it: the first 8 bytes (16 hex characters) of
//! `HMAC-SHA256(key, "brandpunt-pseudonym-key-id-v1")`. Every stored pseudonym keeps the id of the key that made
//! it, so pseudonyms of a rotated key are never matched silently with those of the old one.
//!
//! # Kinds
//! [`IdentifierKind`] says what a personal column identifies (a person, a vehicle, ...); the mapping file gives
//! it per column (`[personal.kinds]`), and it travels with every stored pseudonym.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Minimum key length in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// Errors reading a key (never quoting it).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PseudonymError {
    #[error("pseudonimiseringssleutel is geen geldige hex of base64")]
    Encoding,
    #[error("pseudonimiseringssleutel is te kort: {found} bytes, minimaal {MIN_KEY_BYTES}")]
    TooShort { found: usize },
}

/// The cooperation's secret key.
#[derive(Clone, PartialEq, Eq)]
pub struct PseudonymKey(Vec<u8>);

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(<verborgen>)")
    }
}

impl PseudonymKey {
    /// A key from raw bytes (at least [`MIN_KEY_BYTES`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PseudonymError> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(PseudonymError::TooShort { found: bytes.len() });
        }
        Ok(PseudonymKey(bytes.to_vec()))
    }

    /// A key from its text form: hex when the trimmed text is only hex digits of even length, else base64.
    pub fn parse(text: &str) -> Result<Self, PseudonymError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(PseudonymError::Encoding);
        }
        if t.len() % 2 == 0 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            let bytes: Vec<u8> = (0..t.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&t[i..i + 2], 16))
                .collect::<Result<_, _>>()
                .map_err(|_| PseudonymError::Encoding)?;
            return Self::from_bytes(&bytes);
        }
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            if let Ok(bytes) = engine.decode(t) {
                return Self::from_bytes(&bytes);
            }
        }
        Err(PseudonymError::Encoding)
    }

    /// The pseudonym of `value` (see the module docs), or `None` when it is empty after normalisation.
    pub fn pseudonymise(&self, value: &str) -> Option<String> {
        let n = normalise(value);
        if n.is_empty() {
            return None;
        }
        // HMAC accepts keys of any length, so this cannot fail; stay panic-free anyway.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).ok()?;
        mac.update(n.as_bytes());
        let digest = mac.finalize().into_bytes();
        Some(digest.iter().map(|b| format!("{b:02x}")).collect())
    }
}

/// The fixed label whose keyed HMAC is a key's id ([`PseudonymKey::key_id`]).
const KEY_ID_LABEL: &[u8] = b"brandpunt-pseudonym-key-id-v1";

impl PseudonymKey {
    /// The key's id: 16 lower-case hex characters (see the module docs); equal for equal keys, different (up to
    /// a 2^-64 chance) for different keys, and revealing nothing of the key.
    ///
    /// ```
    /// use brandpunt::pseudonym::PseudonymKey;
    /// let a = PseudonymKey::from_bytes(&[7; 32]).unwrap();
    /// let b = PseudonymKey::from_bytes(&[8; 32]).unwrap();
    /// assert_eq!(a.key_id().len(), 16);
    /// assert_eq!(a.key_id(), a.clone().key_id());
    /// assert_ne!(a.key_id(), b.key_id());
    /// ```
    pub fn key_id(&self) -> String {
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.0) else {
            // HMAC accepts keys of any length; unreachable, but stay panic-free.
            return String::new();
        };
        mac.update(KEY_ID_LABEL);
        let digest = mac.finalize().into_bytes();
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What a personal identifier identifies: the kind of a `[personal]` column and of every pseudonym made from it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentifierKind {
    /// A natural person (BSN, name).
    Person,
    /// A vehicle (licence plate).
    Vehicle,
    /// An organisation (KvK number, name).
    Organisation,
    /// A phone number.
    Phone,
    /// Anything else (the kind of a column the mapping gives none for).
    #[default]
    Other,
}

impl IdentifierKind {
    /// Every kind, in this order.
    pub const ALL: [IdentifierKind; 5] = [
        IdentifierKind::Person,
        IdentifierKind::Vehicle,
        IdentifierKind::Organisation,
        IdentifierKind::Phone,
        IdentifierKind::Other,
    ];

    /// The name used in mapping files, the store and exports (`person`, `vehicle`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            IdentifierKind::Person => "person",
            IdentifierKind::Vehicle => "vehicle",
            IdentifierKind::Organisation => "organisation",
            IdentifierKind::Phone => "phone",
            IdentifierKind::Other => "other",
        }
    }

    /// The kind named `name` (exactly as [`IdentifierKind::as_str`] spells it), or `None`.
    ///
    /// ```
    /// use brandpunt::pseudonym::IdentifierKind;
    /// assert_eq!(IdentifierKind::parse("vehicle"), Some(IdentifierKind::Vehicle));
    /// assert_eq!(IdentifierKind::parse("auto"), None);
    /// ```
    pub fn parse(name: &str) -> Option<IdentifierKind> {
        IdentifierKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// The normalised form that is hashed: trimmed, upper-cased, without whitespace, `-` and `.`.
pub fn normalise(value: &str) -> String {
    value
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '.')
        .flat_map(char::to_uppercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, RngCore, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn key(seed: u8) -> PseudonymKey {
        PseudonymKey::from_bytes(&[seed; 32]).unwrap()
    }

    fn random_value(rng: &mut ChaCha8Rng) -> String {
        const ALPHABET: &[char] = &[
            'a', 'B', 'z', '0', '7', '9', 'é', 'Ö', 'ß', ' ', '-', '.', 'x', 'Q', '3',
        ];
        let len = rng.gen_range(1..24);
        (0..len)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())])
            .collect()
    }

    /// Oracle: RFC 4231 test case 2 (HMAC-SHA256 with key "Jefe") through the same HMAC construction, and the
    /// normalisation applied to a value that is already normal.
    #[test]
    fn hmac_matches_rfc4231() {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // RFC 4231 test case 6 uses a 131-byte key of 0xaa: long keys are accepted.
        let k = PseudonymKey::from_bytes(&[0xaa; 131]).unwrap();
        let p = k.pseudonymise("TESTUSINGLARGERTHANBLOCKSIZEKEYHASHKEYFIRST");
        assert_eq!(p.unwrap().len(), 64);
    }

    #[test]
    fn same_key_and_value_give_the_same_pseudonym() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..500 {
            let mut bytes = [0u8; 32];
            rng.fill_bytes(&mut bytes);
            let v = random_value(&mut rng);
            let a = PseudonymKey::from_bytes(&bytes).unwrap().pseudonymise(&v);
            let b = PseudonymKey::from_bytes(&bytes).unwrap().pseudonymise(&v);
            assert_eq!(a, b);
            if let Some(p) = a {
                assert_eq!(p.len(), 64);
                assert!(p.bytes().all(|c| c.is_ascii_hexdigit()));
            }
        }
    }

    #[test]
    fn different_keys_or_values_give_different_pseudonyms() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..500 {
            let mut k1 = [0u8; 32];
            rng.fill_bytes(&mut k1);
            let mut k2 = k1;
            // Flip one random bit: any key difference must change the pseudonym.
            let bit = rng.gen_range(0..256);
            k2[bit / 8] ^= 1 << (bit % 8);
            let v = format!("AB{}C", rng.gen_range(100..1000));
            let a = PseudonymKey::from_bytes(&k1).unwrap();
            let b = PseudonymKey::from_bytes(&k2).unwrap();
            assert_ne!(a.pseudonymise(&v), b.pseudonymise(&v));
            let w = format!("{v}X");
            assert_ne!(a.pseudonymise(&v), a.pseudonymise(&w));
        }
    }

    #[test]
    fn normalisation_makes_spelling_variants_equal() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let k = key(9);
        for _ in 0..500 {
            let v = random_value(&mut rng);
            // Random extra whitespace, dashes, dots and case changes.
            let mut variant = String::from("  ");
            for c in v.chars() {
                match rng.gen_range(0..4) {
                    0 => variant.push('-'),
                    1 => variant.push(' '),
                    2 => variant.push('.'),
                    _ => {}
                }
                if rng.gen_bool(0.5) {
                    variant.extend(c.to_lowercase());
                } else {
                    variant.extend(c.to_uppercase());
                }
            }
            variant.push('\t');
            assert_eq!(
                k.pseudonymise(&v),
                k.pseudonymise(&variant),
                "{v:?} / {variant:?}"
            );
        }
        assert_eq!(k.pseudonymise("ab-123-c"), k.pseudonymise("AB 123 C"));
        assert_eq!(k.pseudonymise("1234.56.782"), k.pseudonymise("123456782"));
        assert_eq!(k.pseudonymise(" - . "), None);
        assert_eq!(k.pseudonymise(""), None);
    }

    #[test]
    fn key_ids_are_stable_distinct_and_not_the_key() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let mut bytes = [0u8; 32];
            rng.fill_bytes(&mut bytes);
            let k = PseudonymKey::from_bytes(&bytes).unwrap();
            let id = k.key_id();
            assert_eq!(id.len(), 16);
            assert!(id
                .bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
            assert_eq!(id, PseudonymKey::from_bytes(&bytes).unwrap().key_id());
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            assert!(!hex.contains(&id));
            // Not the pseudonym of the label either: a key id never equals a pseudonym's prefix of a value.
            assert_ne!(
                Some(id.clone()),
                k.pseudonymise("brandpunt-pseudonym-key-id-v1")
                    .map(|p| p[..16].to_string())
            );
            assert!(seen.insert(id));
        }
        for kind in IdentifierKind::ALL {
            assert_eq!(IdentifierKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(IdentifierKind::default(), IdentifierKind::Other);
        assert_eq!(IdentifierKind::parse("Person"), None);
    }

    #[test]
    fn keys_parse_from_hex_and_base64_and_short_keys_are_refused() {
        let bytes: Vec<u8> = (0u8..40).collect();
        let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
        let expected = PseudonymKey::from_bytes(&bytes).unwrap();
        assert_eq!(PseudonymKey::parse(&format!(" {hex}\n")).unwrap(), expected);
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            assert_eq!(
                PseudonymKey::parse(&engine.encode(&bytes)).unwrap(),
                expected
            );
        }
        assert_eq!(
            PseudonymKey::parse(&"ab".repeat(31)),
            Err(PseudonymError::TooShort { found: 31 })
        );
        assert_eq!(
            PseudonymKey::parse("geen sleutel!"),
            Err(PseudonymError::Encoding)
        );
        assert_eq!(PseudonymKey::parse("   "), Err(PseudonymError::Encoding));
        // Debug never shows key material.
        assert!(!format!("{expected:?}").contains("00"));
    }
}
