//! A client's profile and access record (issue 15; `reference/agency-operations.md`, "Access and
//! credentials" and the partner dashboard): business details, stores' payment and logistics
//! status, fulfilment notes, the primary account manager, the tier's response target and the
//! support scope, and per platform the access the agency holds: level, who granted it and when,
//! where the 2FA device or backup codes are kept, and which stored credential it is.
//!
//! **Notes, never secrets.** The 2FA field says *where* codes are kept ("1Password vault ACME,
//! item 'Etsy 2FA'"); a value holding a run of six or more digits looks like a code and is
//! refused, so a hurried person cannot paste backup codes into a record every viewer reads.
//! Secrets go to the vault through `PUT …/credentials/{name}`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use shelfsync_actors::platform::Platform;

/// The longest short text (a name, a status, an e-mail), in bytes (also written as a literal in
/// the schema attributes below, which take no constant).
pub const MAX_SHORT: usize = 200;
/// The longest note, in bytes.
pub const MAX_NOTE: usize = 4_000;
/// The most entries of a list (contacts, stores, access grants).
pub const MAX_ENTRIES: usize = 32;
/// The longest response target a profile may set, in hours (a month).
pub const MAX_RESPONSE_HOURS: u16 = 744;

/// A person at the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// Their name.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// What they do for the client ("owner", "warehouse lead").
    #[serde(default)]
    #[schema(max_length = 200)]
    pub role: Option<String>,
    /// Their e-mail.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub email: Option<String>,
    /// Their phone.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub phone: Option<String>,
}

/// A store's state beyond stock ("Shopify Payments on hold", "3PL onboarding").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreStatus {
    /// The platform.
    #[schema(schema_with = crate::api::openapi::schemas::platform)]
    pub platform: Platform,
    /// The payment gateway's state.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub payments: Option<String>,
    /// The logistics state.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub logistics: Option<String>,
}

/// The access level the agency holds on a platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccessLevel {
    /// The account itself (to be avoided: the client cannot revoke it without a password change).
    Owner,
    /// Full administration.
    Admin,
    /// A staff account.
    Staff,
    /// A collaborator or partner account the client can revoke.
    Collaborator,
    /// Read only.
    ReadOnly,
}

/// Access the agency holds on one platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessGrant {
    /// The platform.
    #[schema(schema_with = crate::api::openapi::schemas::platform)]
    pub platform: Platform,
    /// The level held.
    pub level: AccessLevel,
    /// Who at the client granted it.
    #[schema(min_length = 1, max_length = 200)]
    pub granted_by: String,
    /// When (a day).
    #[schema(value_type = String, format = Date)]
    pub granted_on: NaiveDate,
    /// Where the 2FA device or backup codes are kept: a note, never the codes.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub two_factor_location: Option<String>,
    /// The stored credential used with it (its rotate-by date is the credential's).
    #[serde(default)]
    #[schema(max_length = 200)]
    pub credential: Option<String>,
}

/// A client's profile and access record, as `PUT …/profile` takes it (the whole record).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    /// The legal name.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub legal_name: Option<String>,
    /// The people at the client.
    #[serde(default)]
    #[schema(max_items = 32)]
    pub contacts: Vec<Contact>,
    /// Where invoices go.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub billing_email: Option<String>,
    /// The client's domain.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub domain: Option<String>,
    /// Per store, payments and logistics state.
    #[serde(default)]
    #[schema(max_items = 32)]
    pub stores: Vec<StoreStatus>,
    /// How orders are fulfilled (who picks, which 3PL, cut-off times).
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub fulfilment_notes: Option<String>,
    /// The primary account manager (a member's id).
    #[serde(default)]
    #[schema(max_length = 200)]
    pub account_manager: Option<String>,
    /// The agency's response target for this client's exceptions, in hours (the tier's default
    /// when absent).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 744)]
    pub response_target_hours: Option<u16>,
    /// What the agency does and does not do for the client.
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub support_scope: Option<String>,
    /// The access the agency holds, per platform.
    #[serde(default)]
    #[schema(max_items = 32)]
    pub access: Vec<AccessGrant>,
}

/// A stored profile: the input, and when and by whom it was last changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientProfile {
    /// What was given.
    pub profile: ProfileInput,
    /// When it was last written.
    pub updated_at: DateTime<Utc>,
    /// By which member.
    pub updated_by: String,
}

/// Why a profile is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// A field is not valid.
    #[error("{field}: {reason}")]
    Invalid {
        /// Which field.
        field: String,
        /// Why.
        reason: String,
    },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ProfileError {
    ProfileError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

fn text(field: &str, value: &Option<String>, max: usize) -> Result<(), ProfileError> {
    if let Some(value) = value {
        required(field, value, max)?;
    }
    Ok(())
}

fn required(field: &str, value: &str, max: usize) -> Result<(), ProfileError> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(invalid(field, format!("must be at most {max} bytes")));
    }
    let allowed_control = |c: char| matches!(c, '\n' | '\t') && max == MAX_NOTE;
    if value.chars().any(|c| c.is_control() && !allowed_control(c)) {
        return Err(invalid(field, "must not hold control characters"));
    }
    Ok(())
}

fn email(field: &str, value: &Option<String>) -> Result<(), ProfileError> {
    text(field, value, MAX_SHORT)?;
    if let Some(value) = value {
        let ok = value
            .split_once('@')
            .is_some_and(|(user, host)| !user.is_empty() && host.contains('.'))
            && !value.contains(char::is_whitespace);
        if !ok {
            return Err(invalid(field, "must be an e-mail address"));
        }
    }
    Ok(())
}

/// Whether `text` holds a run of six or more digits (ignoring spaces and dashes inside it), as
/// backup and one-time codes do.
fn looks_like_a_code(text: &str) -> bool {
    let mut run = 0;
    for c in text.chars() {
        if c.is_ascii_digit() {
            run += 1;
            if run >= 6 {
                return true;
            }
        } else if c != ' ' && c != '-' {
            run = 0;
        }
    }
    false
}

impl ProfileInput {
    /// Checks every field; the first wrong one is named. Member and credential names are checked
    /// against the stores by the caller (they are not this type's to know).
    pub fn validate(&self) -> Result<(), ProfileError> {
        text("legal_name", &self.legal_name, MAX_SHORT)?;
        email("billing_email", &self.billing_email)?;
        text("domain", &self.domain, MAX_SHORT)?;
        if let Some(domain) = &self.domain {
            let ok = domain.contains('.')
                && domain
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
            if !ok {
                return Err(invalid(
                    "domain",
                    "must be a host name like shop.example.com",
                ));
            }
        }
        text("fulfilment_notes", &self.fulfilment_notes, MAX_NOTE)?;
        text("support_scope", &self.support_scope, MAX_NOTE)?;
        text("account_manager", &self.account_manager, MAX_SHORT)?;
        if let Some(hours) = self.response_target_hours {
            if !(1..=MAX_RESPONSE_HOURS).contains(&hours) {
                return Err(invalid(
                    "response_target_hours",
                    format!("must be 1 to {MAX_RESPONSE_HOURS}"),
                ));
            }
        }
        for (list, len) in [
            ("contacts", self.contacts.len()),
            ("stores", self.stores.len()),
            ("access", self.access.len()),
        ] {
            if len > MAX_ENTRIES {
                return Err(invalid(list, format!("at most {MAX_ENTRIES} entries")));
            }
        }
        for (index, contact) in self.contacts.iter().enumerate() {
            required(&format!("contacts[{index}].name"), &contact.name, MAX_SHORT)?;
            text(&format!("contacts[{index}].role"), &contact.role, MAX_SHORT)?;
            email(&format!("contacts[{index}].email"), &contact.email)?;
            text(
                &format!("contacts[{index}].phone"),
                &contact.phone,
                MAX_SHORT,
            )?;
        }
        for (index, store) in self.stores.iter().enumerate() {
            text(
                &format!("stores[{index}].payments"),
                &store.payments,
                MAX_SHORT,
            )?;
            text(
                &format!("stores[{index}].logistics"),
                &store.logistics,
                MAX_SHORT,
            )?;
        }
        for (index, grant) in self.access.iter().enumerate() {
            required(
                &format!("access[{index}].granted_by"),
                &grant.granted_by,
                MAX_SHORT,
            )?;
            let field = format!("access[{index}].two_factor_location");
            text(&field, &grant.two_factor_location, MAX_SHORT)?;
            if grant
                .two_factor_location
                .as_deref()
                .is_some_and(looks_like_a_code)
            {
                return Err(invalid(
                    field,
                    "say where the device or codes are kept, never the codes themselves",
                ));
            }
            text(
                &format!("access[{index}].credential"),
                &grant.credential,
                MAX_SHORT,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(two_factor: &str) -> AccessGrant {
        AccessGrant {
            platform: Platform::Etsy,
            level: AccessLevel::Collaborator,
            granted_by: "Ana (owner)".into(),
            granted_on: "2026-11-02".parse().unwrap(),
            two_factor_location: Some(two_factor.into()),
            credential: Some("etsy".into()),
        }
    }

    #[test]
    fn a_complete_profile_is_accepted() {
        let profile = ProfileInput {
            legal_name: Some("Acme Mugs Ltd".into()),
            contacts: vec![Contact {
                name: "Ana".into(),
                role: Some("owner".into()),
                email: Some("ana@acme.example".into()),
                phone: None,
            }],
            billing_email: Some("billing@acme.example".into()),
            domain: Some("acme.example".into()),
            stores: vec![StoreStatus {
                platform: Platform::Shopify,
                payments: Some("Shopify Payments on hold".into()),
                logistics: Some("3PL onboarding".into()),
            }],
            fulfilment_notes: Some("Picks at 14:00\nShips DPD".into()),
            account_manager: Some("m2".into()),
            response_target_hours: Some(4),
            support_scope: Some("Stock and listings; no ads".into()),
            access: vec![grant("1Password vault ACME, item 'Etsy 2FA'")],
        };
        assert_eq!(profile.validate(), Ok(()));
    }

    #[test]
    fn codes_bad_emails_and_oversize_fields_are_refused_by_name() {
        let mut profile = ProfileInput {
            access: vec![grant("backup codes 4812 9930 12")],
            ..ProfileInput::default()
        };
        let error = profile.validate().unwrap_err().to_string();
        assert!(
            error.starts_with("access[0].two_factor_location"),
            "{error}"
        );
        profile.access = vec![grant("codes: 481-299")];
        assert!(profile.validate().is_err());
        profile.access = vec![grant("YubiKey in the office safe, slot 2")];
        assert_eq!(profile.validate(), Ok(()));
        profile.billing_email = Some("billing".into());
        assert!(profile
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("billing_email"));
        profile.billing_email = None;
        profile.legal_name = Some("x".repeat(MAX_SHORT + 1));
        assert!(profile.validate().is_err());
        profile.legal_name = Some("a\u{7}b".into());
        assert!(profile.validate().is_err());
        profile.legal_name = None;
        profile.response_target_hours = Some(0);
        assert!(profile.validate().is_err());
        profile.response_target_hours = Some(MAX_RESPONSE_HOURS + 1);
        assert!(profile.validate().is_err());
    }
}
