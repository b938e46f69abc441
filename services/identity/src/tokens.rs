//! Token minting: EdDSA access tokens (JWT) and opaque refresh tokens.
//!
//! Only identity holds the private key; the JWK set it publishes is all anyone needs to verify.
//! One key signs; the set also publishes verification-only keys, so that tokens signed by the
//! previous key keep working through a rotation (docs/deploy.md). Refresh tokens are 256 random
//! bits; only their SHA-256 is stored.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use ed25519_dalek::{
    SigningKey as DalekKey, VerifyingKey,
    pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, spki::der::pem::LineEnding},
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::RngCore;
use sha2::{Digest, Sha256};
use swatter_common::auth::{Actor, Claims, TYP_ACCESS, TYP_SERVICE};
use swatter_proto::identity::v1::Jwk;
use uuid::Uuid;

/// The Ed25519 key that signs access tokens, with its public JWK.
pub struct SigningKey {
    encoding: EncodingKey,
    jwk: Jwk,
}

impl SigningKey {
    /// Loads a PKCS#8 PEM Ed25519 private key (as written by `swatter-identity keygen` or
    /// `openssl genpkey -algorithm ed25519`).
    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        let key = DalekKey::from_pkcs8_pem(pem)
            .map_err(|e| anyhow::anyhow!("not a PKCS#8 PEM Ed25519 private key: {e}"))?;
        Ok(SigningKey {
            encoding: EncodingKey::from_ed_pem(pem.as_bytes())?,
            jwk: public_jwk(&key.verifying_key()),
        })
    }

    /// A new random key as PKCS#8 PEM.
    pub fn generate_pem() -> anyhow::Result<String> {
        let key = DalekKey::generate(&mut rand_core::OsRng);
        Ok(key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| anyhow::anyhow!("encode key: {e}"))?
            .to_string())
    }

    /// The public half, as a JWK.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    pub fn kid(&self) -> &str {
        &self.jwk.kid
    }
}

/// The JWK of an Ed25519 public key; its `kid` is derived from the key, so the same key has the
/// same id wherever it is loaded.
fn public_jwk(key: &VerifyingKey) -> Jwk {
    let public = key.to_bytes();
    Jwk {
        kty: "OKP".into(),
        crv: "Ed25519".into(),
        x: URL_SAFE_NO_PAD.encode(public),
        kid: URL_SAFE_NO_PAD.encode(&Sha256::digest(public)[..12]),
        alg: "EdDSA".into(),
        r#use: "sig".into(),
    }
}

/// The public JWK of a verification-only key, from its PKCS#8 private key PEM (the previous
/// signing key file as it is) or its SPKI public key PEM (`openssl pkey -pubout`).
pub fn verification_jwk(pem: &str) -> anyhow::Result<Jwk> {
    let key = match DalekKey::from_pkcs8_pem(pem) {
        Ok(private) => private.verifying_key(),
        Err(_) => VerifyingKey::from_public_key_pem(pem).map_err(|e| {
            anyhow::anyhow!("neither a PKCS#8 private nor an SPKI public Ed25519 key PEM: {e}")
        })?,
    };
    Ok(public_jwk(&key))
}

/// Seconds a token held by a service on a user's behalf lives: long enough to gather one report,
/// short enough that a leaked one is soon worthless.
pub const DELEGATED_TOKEN_TTL_SECS: i64 = 120;

/// Issues access tokens for one issuer and audience.
pub struct TokenIssuer {
    key: SigningKey,
    /// Published and accepted, never used to sign.
    verification_only: Vec<Jwk>,
    issuer: String,
    audience: String,
    access_ttl_secs: i64,
}

/// What an access token stands for.
#[derive(Clone, Copy)]
pub enum Subject<'a> {
    User {
        id: Uuid,
        username: &'a str,
        admin: bool,
        acting_service: Option<&'a str>,
    },
    Service {
        client_id: &'a str,
    },
}

impl TokenIssuer {
    pub fn new(key: SigningKey, issuer: &str, audience: &str, access_ttl_secs: i64) -> Self {
        TokenIssuer {
            key,
            verification_only: Vec::new(),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            access_ttl_secs,
        }
    }

    /// Also publishes (and so accepts tokens of) `keys`, without signing with them; the signing
    /// key and repeated keys are listed once.
    pub fn with_verification_keys(mut self, keys: Vec<Jwk>) -> Self {
        for key in keys {
            let known = key.kid == self.key.kid()
                || self
                    .verification_only
                    .iter()
                    .any(|held| held.kid == key.kid);
            if !known {
                self.verification_only.push(key);
            }
        }
        self
    }

    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The JWK set: the signing key first, then the verification-only keys.
    pub fn jwks(&self) -> Vec<Jwk> {
        std::iter::once(self.key.jwk().clone())
            .chain(self.verification_only.iter().cloned())
            .collect()
    }

    /// Seconds an access token for `subject` lives.
    pub fn ttl_secs(&self, subject: Subject<'_>) -> i64 {
        match subject {
            Subject::User {
                acting_service: Some(_),
                ..
            } => DELEGATED_TOKEN_TTL_SECS.min(self.access_ttl_secs),
            _ => self.access_ttl_secs,
        }
    }

    /// Signs an access token for `subject`, valid from `now`.
    pub fn access_token(&self, subject: Subject<'_>, now: DateTime<Utc>) -> anyhow::Result<String> {
        let ttl = self.ttl_secs(subject);
        let (sub, username, admin, typ, act) = match subject {
            Subject::User {
                id,
                username,
                admin,
                acting_service,
            } => (
                id.to_string(),
                username.to_owned(),
                // A service acting for an admin gets no admin power.
                admin && acting_service.is_none(),
                TYP_ACCESS,
                acting_service.map(|s| Actor { sub: s.to_owned() }),
            ),
            Subject::Service { client_id } => (
                format!("service:{client_id}"),
                client_id.to_owned(),
                false,
                TYP_SERVICE,
                None,
            ),
        };
        let claims = Claims {
            sub,
            username,
            admin,
            typ: typ.to_owned(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now.timestamp(),
            exp: now.timestamp() + ttl,
            jti: Uuid::new_v4().to_string(),
            act,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.key.kid().to_owned());
        Ok(jsonwebtoken::encode(&header, &claims, &self.key.encoding)?)
    }
}

/// A fresh refresh token: what the client gets, and the hash that is stored.
pub fn new_refresh_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_refresh_token(&token);
    (token, hash)
}

/// The stored form of a refresh token.
pub fn hash_refresh_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::pkcs8::EncodePublicKey;

    use super::*;

    #[test]
    fn a_generated_key_loads_and_has_a_stable_kid() {
        let pem = SigningKey::generate_pem().unwrap();
        let a = SigningKey::from_pem(&pem).unwrap();
        let b = SigningKey::from_pem(&pem).unwrap();
        assert_eq!(a.kid(), b.kid());
        assert_eq!(a.jwk().x.len(), 43);
        let other = SigningKey::from_pem(&SigningKey::generate_pem().unwrap()).unwrap();
        assert_ne!(a.kid(), other.kid());
    }

    #[test]
    fn garbage_is_not_a_key() {
        assert!(SigningKey::from_pem("not a key").is_err());
        assert!(verification_jwk("not a key").is_err());
    }

    #[test]
    fn a_verification_key_has_the_same_jwk_from_its_private_or_public_pem() {
        let pem = SigningKey::generate_pem().unwrap();
        let signing = SigningKey::from_pem(&pem).unwrap();
        let public_pem = DalekKey::from_pkcs8_pem(&pem)
            .unwrap()
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();

        assert_eq!(&verification_jwk(&pem).unwrap(), signing.jwk());
        assert_eq!(&verification_jwk(&public_pem).unwrap(), signing.jwk());
    }

    #[test]
    fn the_jwk_set_lists_the_signing_key_first_and_each_key_once() {
        let current = SigningKey::from_pem(&SigningKey::generate_pem().unwrap()).unwrap();
        let current_jwk = current.jwk().clone();
        let previous = verification_jwk(&SigningKey::generate_pem().unwrap()).unwrap();
        let issuer =
            TokenIssuer::new(current, "swatter", "swatter", 900).with_verification_keys(vec![
                previous.clone(),
                current_jwk.clone(),
                previous.clone(),
            ]);

        assert_eq!(issuer.jwks(), [current_jwk, previous]);
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let (a, hash_a) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(hash_refresh_token(&a), hash_a);
        assert_eq!(hash_a.len(), 32);
    }
}
