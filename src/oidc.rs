//! OpenID Connect bearer tokens: verification of a JWT from the municipality's identity provider (Azure AD,
//! Keycloak) against the keys of a JWKS file, configured by `[oidc]` ([`OidcConfig`]). No HTTP: the server
//! passes the token of an `Authorization: Bearer` header to [`OidcVerifier::verify`].
//!
//! Contract of [`OidcVerifier::verify`]: the token must be signed with RS256 or ES256 (P-256) by the key named
//! by its header's `kid` in the JWKS file loaded at start (the header's `alg` must be the key's algorithm);
//! `iss` must equal the configured issuer, `aud` must contain the configured audience, `exp` must lie in the
//! future and `nbf` (when present) in the past, each with [`LEEWAY_SECONDS`] of clock skew allowed. The claim
//! `username_claim` (a string) names the brandpunt user; whether that user exists and is enabled is checked by
//! the caller (the server's authentication), whose tenant, role and grants then apply. Anything else is a
//! [`Rejection`] (the server answers 401).
//!
//! The JWKS is read once from a file ([`OidcVerifier::load`]; the service runs offline, so keys are not
//! fetched); after a key rotation the file is replaced and the server restarted. A JWKS file that cannot be read
//! or holds no usable key is an [`OidcError`] naming the file:
//!
//! ```
//! use brandpunt::config::OidcConfig;
//! use brandpunt::oidc::{OidcError, OidcVerifier, Rejection};
//!
//! let mut config = OidcConfig {
//!     issuer: "https://idp.example/realms/gemeente".into(),
//!     audience: "brandpunt".into(),
//!     jwks_file: "/niet/aanwezig/jwks.json".into(),
//!     username_claim: "preferred_username".into(),
//! };
//! let missing = OidcVerifier::load(&config).unwrap_err();
//! assert!(matches!(missing, OidcError::Io { .. }));
//! assert!(missing.to_string().starts_with("[oidc] jwks_file /niet/aanwezig/jwks.json: "));
//!
//! // A P-256 signing key with a kid (RFC 7515 appendix A.3); a token that is no JWT is refused.
//! let jwks = r#"{"keys": [{"kty": "EC", "crv": "P-256", "kid": "ec1",
//!     "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
//!     "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;
//! config.jwks_file = "jwks.json".into();
//! let verifier = OidcVerifier::from_jwks(&config, "jwks.json", jwks).unwrap();
//! assert_eq!(verifier.verify("geen.jwt"), Err(Rejection::Header));
//! ```

use crate::config::OidcConfig;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::collections::HashMap;

/// Allowed clock skew for `exp` and `nbf`, seconds.
pub const LEEWAY_SECONDS: u64 = 60;

/// Errors loading the OpenID Connect configuration (at server start).
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("[oidc] jwks_file {file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("[oidc] jwks_file {file}: {reason}")]
    Jwks { file: String, reason: String },
}

/// Why a presented JWT was refused (logged at debug level; the client only gets 401).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Rejection {
    #[error("JWT header unreadable")]
    Header,
    #[error("JWT has no kid")]
    NoKid,
    #[error("unknown kid {0}")]
    UnknownKid(String),
    #[error("alg {0:?} is not the key's algorithm")]
    WrongAlgorithm(Algorithm),
    #[error("JWT invalid: {0}")]
    Invalid(String),
    #[error("username claim missing or not a string")]
    NoUser,
}

/// Verifies OpenID Connect JWTs against the keys of one JWKS.
pub struct OidcVerifier {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
    issuer: String,
    audience: String,
    username_claim: String,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kids: Vec<&String> = self.keys.keys().collect();
        kids.sort();
        f.debug_struct("OidcVerifier")
            .field("kids", &kids)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

/// The signature algorithm of a JWK: RSA keys RS256, EC P-256 keys ES256; others are not supported. A key
/// that names another `alg` (e.g. RS512) is not used.
fn key_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
        _ => return None,
    };
    match jwk.common.key_algorithm {
        None => Some(alg),
        Some(named) => (named.to_string() == format!("{alg:?}")).then_some(alg),
    }
}

impl OidcVerifier {
    /// Read the JWKS file named in `config` (the adapter around [`OidcVerifier::from_jwks`]).
    pub fn load(config: &OidcConfig) -> Result<OidcVerifier, OidcError> {
        let file = config.jwks_file.display().to_string();
        let text = std::fs::read_to_string(&config.jwks_file).map_err(|source| OidcError::Io {
            file: file.clone(),
            source,
        })?;
        Self::from_jwks(config, &file, &text)
    }

    /// Build a verifier from the text of a JWKS (`{"keys": [...]}`) named `file` in messages. Keys without a
    /// `kid`, of another type, or meant for encryption (`"use": "enc"`) are skipped; at least one usable key
    /// is required.
    pub fn from_jwks(
        config: &OidcConfig,
        file: &str,
        text: &str,
    ) -> Result<OidcVerifier, OidcError> {
        let bad = |reason: String| OidcError::Jwks {
            file: file.to_string(),
            reason,
        };
        let doc: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(format!("geen JSON: {e}")))?;
        let list = doc
            .get("keys")
            .and_then(|k| k.as_array())
            .ok_or_else(|| bad("geen \"keys\"-lijst".into()))?;
        let mut keys = HashMap::new();
        for (i, value) in list.iter().enumerate() {
            if value.get("use").and_then(|u| u.as_str()) == Some("enc") {
                continue;
            }
            let Ok(jwk) = serde_json::from_value::<Jwk>(value.clone()) else {
                tracing::warn!(file, key = i, "JWKS key skipped: unreadable or unsupported");
                continue;
            };
            let (Some(kid), Some(alg)) = (jwk.common.key_id.clone(), key_algorithm(&jwk)) else {
                tracing::warn!(file, key = i, "JWKS key skipped: no kid or not RS256/ES256");
                continue;
            };
            let key =
                DecodingKey::from_jwk(&jwk).map_err(|e| bad(format!("sleutel {kid}: {e}")))?;
            keys.insert(kid, (key, alg));
        }
        if keys.is_empty() {
            return Err(bad("geen bruikbare sleutel (RS256 of ES256 met kid)".into()));
        }
        Ok(OidcVerifier {
            keys,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            username_claim: config.username_claim.clone(),
        })
    }

    /// Check `token` (see the module docs) and return the brandpunt user name it names.
    pub fn verify(&self, token: &str) -> Result<String, Rejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Header)?;
        let kid = header.kid.ok_or(Rejection::NoKid)?;
        let (key, alg) = self
            .keys
            .get(&kid)
            .ok_or_else(|| Rejection::UnknownKid(kid.clone()))?;
        if header.alg != *alg {
            return Err(Rejection::WrongAlgorithm(header.alg));
        }
        let mut v = Validation::new(*alg);
        v.leeway = LEEWAY_SECONDS;
        v.validate_exp = true;
        v.validate_nbf = true;
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[&self.audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data =
            jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, key, &v)
                .map_err(|e| Rejection::Invalid(e.to_string()))?;
        match data.claims.get(&self.username_claim) {
            Some(serde_json::Value::String(u)) if !u.trim().is_empty() => Ok(u.trim().to_string()),
            _ => Err(Rejection::NoUser),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> OidcConfig {
        OidcConfig {
            issuer: "https://idp.example/realms/gemeente".into(),
            audience: "brandpunt".into(),
            jwks_file: "jwks.json".into(),
            username_claim: "preferred_username".into(),
        }
    }

    // A P-256 public key (the example key of RFC 7515 appendix A.3).
    const EC_KEY: &str = r#"{"kty":"EC","crv":"P-256","kid":"ec1",
        "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;

    #[test]
    fn jwks_keys_are_taken_by_kid_and_type() {
        let text = format!(
            r#"{{"keys": [{EC_KEY},
                {{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}},
                {{"kty":"oct","kid":"geheim","k":"c2VjcmV0"}},
                {{"kty":"EC","crv":"P-256","kid":"enc1","use":"enc","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}}]}}"#
        );
        let v = OidcVerifier::from_jwks(&config(), "jwks.json", &text).unwrap();
        // Only the signing EC key with a kid; the HMAC key (symmetric: never accepted) is skipped.
        assert_eq!(v.keys.len(), 1);
        assert_eq!(v.keys["ec1"].1, Algorithm::ES256);
        for bad in [
            "",
            "{}",
            r#"{"keys": []}"#,
            r#"{"keys": [{"kty":"oct","kid":"a","k":"c2VjcmV0"}]}"#,
        ] {
            let e = OidcVerifier::from_jwks(&config(), "jwks.json", bad).unwrap_err();
            assert!(
                e.to_string().starts_with("[oidc] jwks_file jwks.json: "),
                "{e}"
            );
        }
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let v =
            OidcVerifier::from_jwks(&config(), "j", &format!(r#"{{"keys":[{EC_KEY}]}}"#)).unwrap();
        assert_eq!(v.verify("geen.jwt"), Err(Rejection::Header));
        assert_eq!(v.verify(""), Err(Rejection::Header));
        // {"alg":"ES256"} without kid, and {"alg":"ES256","kid":"x"}.
        assert_eq!(
            v.verify("eyJhbGciOiJFUzI1NiJ9.e30.AA"),
            Err(Rejection::NoKid)
        );
        assert_eq!(
            v.verify("eyJhbGciOiJFUzI1NiIsImtpZCI6IngifQ.e30.AA"),
            Err(Rejection::UnknownKid("x".into()))
        );
        // {"alg":"HS256","kid":"ec1"}: an HMAC token "signed" with the public key must never pass.
        assert_eq!(
            v.verify("eyJhbGciOiJIUzI1NiIsImtpZCI6ImVjMSJ9.e30.AA"),
            Err(Rejection::WrongAlgorithm(Algorithm::HS256))
        );
    }
}
