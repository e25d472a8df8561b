//! eBay's order notifications (issue 14; reference/marketplace-apis.md §5.2): the Notification
//! API's `ORDER_CONFIRMATION`, signed in `X-EBAY-SIGNATURE`, and the endpoint's challenge.
//!
//! Decisions:
//!
//! - **Signature.** `X-EBAY-SIGNATURE` is base64 of a JSON object `{alg, kid, signature,
//!   digest}`. The public key of `kid` comes from the Notification API's `public_key/{kid}`
//!   (`{algorithm: "ECDSA", digest: "SHA1", key: "-----BEGIN PUBLIC KEY-----…"}`); the signature
//!   is the base64 DER ECDSA signature over the SHA-1 digest of the raw body, on P-256 (the key
//!   eBay returns is a P-256 SubjectPublicKeyInfo). Only that pair (`ECDSA`, `SHA1`) is accepted:
//!   a header naming another algorithm is refused, never downgraded to something weaker. Fetching
//!   and caching the key belongs to the caller; this module checks a delivery against a key.
//! - **Challenge.** Before it sends anything, eBay calls the endpoint with
//!   `GET ?challenge_code=…`, to be answered `{"challengeResponse": hex(SHA-256(challenge code +
//!   verification token + endpoint URL))}` ([`challenge_response`]).

use base64::Engine as _;
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey as _;
use serde::Deserialize;
use sha1::Digest as _;
use shelfsync_actors::inventory::exceptions::bounded_text;

use crate::platforms::notify::Notice;

/// The only algorithm and digest eBay's notification keys use.
const ALGORITHM: &str = "ECDSA";
const DIGEST: &str = "SHA1";

/// The decoded `X-EBAY-SIGNATURE` header.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SignatureHeader {
    /// The algorithm (`ecdsa`).
    pub alg: String,
    /// The id of the public key to verify with.
    pub kid: String,
    /// The base64 DER signature.
    pub signature: String,
    /// The digest (`SHA1`).
    pub digest: String,
}

/// Why a delivery is not authentic (only logged: every refusal looks the same to the sender).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// No `X-EBAY-SIGNATURE` header.
    #[error("the X-EBAY-SIGNATURE header is missing")]
    MissingSignature,
    /// The header is not base64 of the `{alg, kid, signature, digest}` object.
    #[error("the X-EBAY-SIGNATURE header is malformed")]
    MalformedSignature,
    /// The header or the key names an algorithm or digest other than ECDSA with SHA-1.
    #[error("the signature's algorithm or digest is not ECDSA with SHA-1")]
    UnsupportedAlgorithm,
    /// The public key is not a P-256 key in PEM.
    #[error("the public key is not a P-256 PEM key")]
    BadKey,
    /// The signature does not match the body.
    #[error("the signature does not match the body")]
    BadSignature,
}

/// Decodes `X-EBAY-SIGNATURE`.
pub fn parse_signature(header: Option<&str>) -> Result<SignatureHeader, NotifyError> {
    let header = header.ok_or(NotifyError::MissingSignature)?;
    let json = base64::engine::general_purpose::STANDARD
        .decode(header.trim())
        .map_err(|_| NotifyError::MalformedSignature)?;
    let header: SignatureHeader =
        serde_json::from_slice(&json).map_err(|_| NotifyError::MalformedSignature)?;
    if !header.alg.eq_ignore_ascii_case(ALGORITHM) || !header.digest.eq_ignore_ascii_case(DIGEST) {
        return Err(NotifyError::UnsupportedAlgorithm);
    }
    Ok(header)
}

/// A public key as the Notification API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PublicKey {
    /// `ECDSA`.
    pub algorithm: String,
    /// `SHA1`.
    pub digest: String,
    /// The PEM key, with or without its line breaks.
    pub key: String,
}

/// The verifying key of a Notification API key.
pub fn verifying_key(key: &PublicKey) -> Result<VerifyingKey, NotifyError> {
    if !key.algorithm.eq_ignore_ascii_case(ALGORITHM) || !key.digest.eq_ignore_ascii_case(DIGEST) {
        return Err(NotifyError::UnsupportedAlgorithm);
    }
    // eBay returns the PEM on one line; the base64 between the markers is the DER key either way.
    let body: String = key
        .key
        .trim()
        .strip_prefix("-----BEGIN PUBLIC KEY-----")
        .and_then(|rest| rest.strip_suffix("-----END PUBLIC KEY-----"))
        .ok_or(NotifyError::BadKey)?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| NotifyError::BadKey)?;
    VerifyingKey::from_public_key_der(&der).map_err(|_| NotifyError::BadKey)
}

/// Checks a delivery's body against its decoded signature header and the key of its `kid`.
pub fn verify(
    key: &VerifyingKey,
    header: &SignatureHeader,
    body: &[u8],
) -> Result<(), NotifyError> {
    let der = base64::engine::general_purpose::STANDARD
        .decode(header.signature.trim())
        .map_err(|_| NotifyError::MalformedSignature)?;
    let signature = Signature::from_der(&der).map_err(|_| NotifyError::MalformedSignature)?;
    let digest = sha1::Sha1::digest(body);
    key.verify_prehash(&digest, &signature)
        .map_err(|_| NotifyError::BadSignature)
}

/// The answer to eBay's endpoint challenge: hex SHA-256 of the challenge code, the verification
/// token and the endpoint URL, concatenated.
pub fn challenge_response(
    challenge_code: &str,
    verification_token: &str,
    endpoint: &str,
) -> String {
    let mut hash = sha2::Sha256::new();
    hash.update(challenge_code.as_bytes());
    hash.update(verification_token.as_bytes());
    hash.update(endpoint.as_bytes());
    hash.finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The longest order id taken from a notification (eBay's are `12-34567-89012`).
const MAX_ORDER_ID: usize = 64;

/// What an authentic notification asks for: the order an `ORDER_CONFIRMATION` names, or the topic
/// of any other (acknowledged).
pub fn read_notice(body: &[u8]) -> Result<Notice, String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|error| format!("not JSON: {error}"))?;
    let topic = value["metadata"]["topic"].as_str().unwrap_or_default();
    if topic != "ORDER_CONFIRMATION" {
        return Ok(Notice::Ignored(bounded_text(topic, 64)));
    }
    let order_id = value["notification"]["data"]["orderId"]
        .as_str()
        .ok_or("an ORDER_CONFIRMATION without notification.data.orderId")?;
    // The id goes into a path of the connector's own base URL: only eBay's id characters.
    if order_id.is_empty()
        || order_id.len() > MAX_ORDER_ID
        || !order_id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
    {
        return Err("the orderId is not an eBay order id".into());
    }
    Ok(Notice::Read(vec![order_id.to_string()]))
}

/// eBay's [`Challenge`](crate::platforms::notify::Challenge): the reply to `GET
/// ?challenge_code=` on the endpoint, `{"challengeResponse": …}` (§5.2).
pub fn answer_challenge(
    challenge_code: &str,
    verification_token: &str,
    endpoint: &str,
) -> serde_json::Value {
    serde_json::json!({
        "challengeResponse": challenge_response(challenge_code, verification_token, endpoint)
    })
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::signature::hazmat::PrehashSigner as _;
    use p256::ecdsa::SigningKey;
    use p256::pkcs8::EncodePublicKey as _;

    use super::*;

    fn signing_key(seed: u8) -> SigningKey {
        SigningKey::from_slice(&[seed; 32]).unwrap()
    }

    /// The key as eBay returns it: the PEM on one line.
    fn public_key(signing: &SigningKey) -> PublicKey {
        let pem = signing
            .verifying_key()
            .to_public_key_pem(p256::pkcs8::LineEnding::LF)
            .unwrap();
        PublicKey {
            algorithm: "ECDSA".into(),
            digest: "SHA1".into(),
            key: pem.replace('\n', ""),
        }
    }

    /// The `X-EBAY-SIGNATURE` eBay would send for `body`.
    fn header_for(signing: &SigningKey, body: &[u8]) -> String {
        let signature: Signature = signing.sign_prehash(&sha1::Sha1::digest(body)).unwrap();
        let json = serde_json::json!({
            "alg": "ecdsa",
            "kid": "99345a5b-1a3f-4c5e-8b40-9c1b1c1e2f3a",
            "signature": base64::engine::general_purpose::STANDARD.encode(signature.to_der()),
            "digest": "SHA1",
        });
        base64::engine::general_purpose::STANDARD.encode(json.to_string())
    }

    const BODY: &[u8] = br#"{"metadata":{"topic":"ORDER_CONFIRMATION"},"notification":{"data":{"orderId":"12-34567-89012"}}}"#;

    #[test]
    fn a_signed_body_verifies_with_its_key_only() {
        let signing = signing_key(7);
        let header = parse_signature(Some(&header_for(&signing, BODY))).unwrap();
        let key = verifying_key(&public_key(&signing)).unwrap();
        assert_eq!(verify(&key, &header, BODY), Ok(()));
        let mut changed = BODY.to_vec();
        changed[20] ^= 1;
        assert_eq!(
            verify(&key, &header, &changed),
            Err(NotifyError::BadSignature)
        );
        let other = verifying_key(&public_key(&signing_key(8))).unwrap();
        assert_eq!(
            verify(&other, &header, BODY),
            Err(NotifyError::BadSignature)
        );
    }

    #[test]
    fn a_malformed_header_or_another_algorithm_is_refused() {
        assert_eq!(parse_signature(None), Err(NotifyError::MissingSignature));
        for header in ["not base64!", "e30=", "bm90IGpzb24="] {
            assert_eq!(
                parse_signature(Some(header)),
                Err(NotifyError::MalformedSignature),
                "{header}"
            );
        }
        let other =
            serde_json::json!({"alg": "rsa", "kid": "k", "signature": "AA==", "digest": "SHA1"});
        let other = base64::engine::general_purpose::STANDARD.encode(other.to_string());
        assert_eq!(
            parse_signature(Some(&other)),
            Err(NotifyError::UnsupportedAlgorithm)
        );
        let key = PublicKey {
            digest: "SHA256".into(),
            ..public_key(&signing_key(7))
        };
        assert_eq!(
            verifying_key(&key).err(),
            Some(NotifyError::UnsupportedAlgorithm)
        );
        let key = PublicKey {
            key: "-----BEGIN PUBLIC KEY-----AAAA-----END PUBLIC KEY-----".into(),
            ..public_key(&signing_key(7))
        };
        assert_eq!(verifying_key(&key).err(), Some(NotifyError::BadKey));
    }

    #[test]
    fn the_challenge_is_answered_with_the_hash_of_code_token_and_endpoint() {
        // Computed independently with Python's hashlib.sha256 over the three strings.
        assert_eq!(
            challenge_response(
                "a8628072-3d33-45ee-9004-bee86830a22d",
                "71745723-d031-455c-bfa5-f90d11b4f20a",
                "https://www.testendpoint.com/webhook"
            ),
            "a1d8c12dc8f31594e78e3f2c7032c34746144c28ffbdee1cd9cbd4fd2fc618c6"
        );
    }
}
