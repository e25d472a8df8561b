//! Validated identifiers: every id is parsed once at the edge and travels as a newtype after that,
//! so no code deeper in the engine handles a raw `String` id.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a value is not a valid identifier. Each variant says what is wrong in its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The client code is not 2–16 characters of `A-Z0-9`.
    #[error("client code {value:?} is invalid: {reason}")]
    InvalidClientCode { value: String, reason: &'static str },
    /// The channel id is not 1–32 characters of `a-z0-9`, `-`, `_`.
    #[error("channel id {value:?} is invalid: {reason}")]
    InvalidChannelId { value: String, reason: &'static str },
    /// The SKU is empty, too long, or holds a control character.
    #[error("sku {value:?} is invalid: {reason}")]
    InvalidSku { value: String, reason: &'static str },
}

impl IdError {
    /// Returns a stable, bounded name of the error, for metric labels and API error codes.
    pub fn kind(&self) -> &'static str {
        match self {
            IdError::InvalidClientCode { .. } => "invalid_client_code",
            IdError::InvalidChannelId { .. } => "invalid_channel_id",
            IdError::InvalidSku { .. } => "invalid_sku",
        }
    }
}

/// The code of one agency client, such as `ACME`: 2–16 characters of `A-Z0-9`.
///
/// The code names the client's sled tree and appears in every per-client metric label, so it is
/// kept short and strictly upper-case: nothing is normalised, a lower-case code is an error rather
/// than silently a second client.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientCode(String);

impl ClientCode {
    /// The shortest accepted code.
    pub const MIN_LEN: usize = 2;
    /// The longest accepted code.
    pub const MAX_LEN: usize = 16;

    /// Parses a client code, saying what is wrong when it is not one.
    pub fn parse(value: &str) -> Result<Self, IdError> {
        let invalid = |reason| IdError::InvalidClientCode {
            value: value.to_string(),
            reason,
        };
        if value.len() < Self::MIN_LEN {
            return Err(invalid("shorter than 2 characters"));
        }
        if value.len() > Self::MAX_LEN {
            return Err(invalid("longer than 16 characters"));
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return Err(invalid("only A-Z and 0-9 are allowed"));
        }
        Ok(Self(value.to_string()))
    }

    /// Returns the code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The id of one marketplace connection of a client, such as `shopify-main` or `etsy`:
/// 1–32 characters of `a-z0-9`, `-`, `_`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChannelId(String);

impl ChannelId {
    /// The longest accepted channel id.
    pub const MAX_LEN: usize = 32;

    /// Parses a channel id, saying what is wrong when it is not one.
    pub fn parse(value: &str) -> Result<Self, IdError> {
        let invalid = |reason| IdError::InvalidChannelId {
            value: value.to_string(),
            reason,
        };
        let Some(first) = value.bytes().next() else {
            return Err(invalid("empty"));
        };
        if value.len() > Self::MAX_LEN {
            return Err(invalid("longer than 32 characters"));
        }
        if !(first.is_ascii_lowercase() || first.is_ascii_digit()) {
            return Err(invalid("must start with a-z or 0-9"));
        }
        let allowed =
            |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_';
        if !value.bytes().all(allowed) {
            return Err(invalid("only a-z, 0-9, '-' and '_' are allowed"));
        }
        Ok(Self(value.to_string()))
    }

    /// Returns the id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stock keeping unit, trimmed and upper-cased: 1–64 characters, none of them a control
/// character.
///
/// Upper-casing makes `acme-hat-red-l` and `ACME-HAT-RED-L` one SKU, which is what an agency means
/// when two marketplaces spell the same product differently. The exclusion of control characters
/// keeps a NUL byte free for use as a separator in ledger keys (see `inventory::store`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sku(String);

/// The parts of a SKU that follows the agency convention `CLIENT-PRODUCT-VARIANT`
/// (for example `ACME-HAT-RED-L`: client `ACME`, product `HAT`, variant `RED-L`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuConvention<'a> {
    /// The leading client code.
    pub client: &'a str,
    /// The product part.
    pub product: &'a str,
    /// Everything after the product part.
    pub variant: &'a str,
}

impl Sku {
    /// The longest accepted SKU, in characters.
    pub const MAX_CHARS: usize = 64;

    /// Parses a SKU: trims surrounding white space, upper-cases, then checks length and characters.
    pub fn parse(value: &str) -> Result<Self, IdError> {
        let invalid = |reason| IdError::InvalidSku {
            value: value.to_string(),
            reason,
        };
        let normalised = value.trim().to_uppercase();
        if normalised.is_empty() {
            return Err(invalid("empty"));
        }
        if normalised.chars().count() > Self::MAX_CHARS {
            return Err(invalid("longer than 64 characters"));
        }
        if normalised.chars().any(char::is_control) {
            return Err(invalid("contains a control character"));
        }
        Ok(Self(normalised))
    }

    /// Returns the SKU as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Recognises the agency convention `CLIENT-PRODUCT-VARIANT`. The convention is reported, never
    /// enforced: a SKU that does not follow it is just as valid.
    pub fn convention(&self) -> Option<SkuConvention<'_>> {
        let mut parts = self.0.splitn(3, '-');
        let client = parts.next()?;
        let product = parts.next()?;
        let variant = parts.next()?;
        let well_formed = ClientCode::parse(client).is_ok()
            && !product.is_empty()
            && !variant.is_empty()
            && !variant.split('-').any(str::is_empty);
        well_formed.then_some(SkuConvention {
            client,
            product,
            variant,
        })
    }

    /// Tells whether the SKU follows the convention with a client code other than `client`: a
    /// likely catalog mistake (one client's SKU imported into another's ledger) worth reporting.
    pub fn names_other_client(&self, client: &ClientCode) -> bool {
        self.convention()
            .is_some_and(|parts| parts.client != client.as_str())
    }
}

macro_rules! id_conversions {
    ($($ty:ident),*) => {$(
        impl TryFrom<String> for $ty {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }
        impl std::str::FromStr for $ty {
            type Err = IdError;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::parse(value)
            }
        }
        impl From<$ty> for String {
            fn from(id: $ty) -> String {
                id.0
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

id_conversions!(ClientCode, ChannelId, Sku);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_code_accepts_upper_alphanumerics_of_2_to_16() {
        for good in ["AC", "ACME", "A1B2", "ABCDEFGHIJKLMNOP"] {
            assert_eq!(ClientCode::parse(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn client_code_rejects_with_the_reason() {
        let cases = [
            ("A", "shorter than 2 characters"),
            ("", "shorter than 2 characters"),
            ("ABCDEFGHIJKLMNOPQ", "longer than 16 characters"),
            ("acme", "only A-Z and 0-9 are allowed"),
            ("AC-ME", "only A-Z and 0-9 are allowed"),
            ("ÄCME", "only A-Z and 0-9 are allowed"),
        ];
        for (bad, reason) in cases {
            let err = ClientCode::parse(bad).unwrap_err();
            assert_eq!(
                err,
                IdError::InvalidClientCode {
                    value: bad.into(),
                    reason
                },
                "{bad:?}"
            );
            assert_eq!(err.kind(), "invalid_client_code");
        }
    }

    #[test]
    fn channel_id_rules() {
        assert!(ChannelId::parse("shopify-main").is_ok());
        assert!(ChannelId::parse("etsy_2").is_ok());
        assert!(ChannelId::parse("").is_err());
        assert!(ChannelId::parse("-x").is_err());
        assert!(ChannelId::parse("Shopify").is_err());
        assert!(ChannelId::parse(&"a".repeat(33)).is_err());
    }

    #[test]
    fn sku_is_trimmed_and_upper_cased() {
        assert_eq!(
            Sku::parse("  acme-hat-red-l\t").unwrap().as_str(),
            "ACME-HAT-RED-L"
        );
        assert_eq!(Sku::parse("ß-1").unwrap().as_str(), "SS-1");
    }

    #[test]
    fn sku_rejects_empty_long_and_control_characters() {
        assert_eq!(
            Sku::parse("   ").unwrap_err().to_string(),
            r#"sku "   " is invalid: empty"#
        );
        assert!(Sku::parse(&"X".repeat(64)).is_ok());
        assert!(Sku::parse(&"X".repeat(65)).is_err());
        assert!(Sku::parse("A\0B").is_err());
        assert!(Sku::parse("A\nB").is_err());
    }

    #[test]
    fn sku_convention_is_recognised_not_forced() {
        let sku = Sku::parse("ACME-HAT-RED-L").unwrap();
        let parts = sku.convention().unwrap();
        assert_eq!(
            (parts.client, parts.product, parts.variant),
            ("ACME", "HAT", "RED-L")
        );
        assert!(Sku::parse("HAT").unwrap().convention().is_none());
        assert!(Sku::parse("ACME-HAT").unwrap().convention().is_none());
        assert!(Sku::parse("ACME--RED").unwrap().convention().is_none());
        assert!(
            Sku::parse("A-HAT-RED").unwrap().convention().is_none(),
            "client code too short"
        );
        let acme = ClientCode::parse("ACME").unwrap();
        let bolt = ClientCode::parse("BOLT").unwrap();
        assert!(!sku.names_other_client(&acme));
        assert!(sku.names_other_client(&bolt));
        assert!(!Sku::parse("HAT").unwrap().names_other_client(&bolt));
    }

    #[test]
    fn ids_deserialize_through_validation() {
        let sku: Sku = serde_json::from_str(r#"" acme-1 ""#).unwrap();
        assert_eq!(sku.as_str(), "ACME-1");
        assert!(serde_json::from_str::<ClientCode>(r#""acme""#).is_err());
    }
}
