//! The mock's side of TikTok Shop's signatures: the `sign` query parameter of every call (§6.4)
//! and the `Authorization` header of every webhook (§6.2).

use actix_web::HttpRequest;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::TikTokKnobs;
use crate::platforms::mock::constant_time_eq;

/// Hex HMAC-SHA256 of `message` keyed with `key`, lower case.
fn hex_hmac(key: &[u8], message: &[&[u8]]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    for part in message {
        mac.update(part);
    }
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The `sign` of a call (§6.4): `path`, then every `(key, value)` of `query` except `sign` and
/// `access_token` sorted by key as `{key}{value}`, then the raw `body`, wrapped in `app_secret`
/// on both sides, hex HMAC-SHA256 keyed with `app_secret`.
pub fn request_sign(
    app_secret: &str,
    path: &str,
    query: &[(String, String)],
    body: &[u8],
) -> String {
    let mut params: Vec<&(String, String)> = query
        .iter()
        .filter(|(key, _)| key != "sign" && key != "access_token")
        .collect();
    params.sort_by(|a, b| a.0.cmp(&b.0));
    let mut base = String::from(path);
    for (key, value) in params {
        base.push_str(key);
        base.push_str(value);
    }
    hex_hmac(
        app_secret.as_bytes(),
        &[
            app_secret.as_bytes(),
            base.as_bytes(),
            body,
            app_secret.as_bytes(),
        ],
    )
}

/// The `Authorization` header of a webhook (§6.2): hex HMAC-SHA256 of `app_key + body` keyed with
/// the app secret.
pub fn webhook_signature(app_key: &str, app_secret: &str, body: &[u8]) -> String {
    hex_hmac(app_secret.as_bytes(), &[app_key.as_bytes(), body])
}

/// The query of a request, decoded; `None` when a key comes twice (its value would be ambiguous
/// in the signed string).
pub fn query_pairs(query: &str) -> Option<Vec<(String, String)>> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let mut keys: Vec<&str> = pairs.iter().map(|(key, _)| key.as_str()).collect();
    keys.sort_unstable();
    let before = keys.len();
    keys.dedup();
    (keys.len() == before).then_some(pairs)
}

/// Checks a call's `app_key`, `timestamp` and `sign` against `knobs`; `Err` says what is wrong
/// (in the reply's message: it names no secret).
pub fn check(knobs: &TikTokKnobs, request: &HttpRequest, body: &[u8]) -> Result<(), String> {
    let query = query_pairs(request.query_string())
        .ok_or_else(|| "a query parameter is given twice".to_string())?;
    let value = |name: &str| {
        query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let app_key = value("app_key").ok_or("app_key is required")?;
    if !constant_time_eq(app_key.as_bytes(), knobs.app_key.as_bytes()) {
        return Err("app_key is not an app of this shop".into());
    }
    let timestamp = value("timestamp")
        .and_then(|text| text.parse::<i64>().ok())
        .and_then(|seconds| DateTime::<Utc>::from_timestamp(seconds, 0))
        .ok_or("timestamp is required, in unix seconds")?;
    let tolerance = chrono::Duration::from_std(knobs.timestamp_tolerance).unwrap_or_default();
    if (Utc::now() - timestamp).abs() > tolerance {
        return Err("timestamp is expired".into());
    }
    let given = value("sign").ok_or("sign is required")?;
    let expected = request_sign(&knobs.app_secret, request.path(), &query, body);
    if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err("sign is invalid".into())
    }
}
