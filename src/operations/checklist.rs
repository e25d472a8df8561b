//! Checklists computed from what the system has seen (issue 15; `reference/agency-operations.md`,
//! "Onboarding a new client"): a client's launch checklist, and others made from templates
//! (holiday preparation, platform migration). An item is either **computed** (done only while, or
//! once, the service has seen its condition happen) or **manual** (a person ticks it, with who and
//! when).
//!
//! # How a computed item's state is decided
//!
//! Each check gives a [`Verdict`] from the [`Evidence`] the service gathers (channels' live state,
//! credentials, catalog, the end-to-end sync test, exceptions):
//!
//! - **holds** → `done` (and the first time is recorded, with its evidence);
//! - **broken** (a channel failing, a credential refused or missing) → `red`, done before or not;
//! - **missing** → `open` if the item was never done. Once done, an item of an *event* (a live
//!   read, a notification, a passed sync test: [`Check::sticky`]) stays done, since the event
//!   happened, and an item of a *state* (credentials stored, catalog clean, nothing overdue) turns
//!   `red`, since what was true no longer is.
//!
//! A checklist is complete when every item is done.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shelfsync_actors::ids::{ChannelId, Sku};
use shelfsync_actors::platform::Platform;

use super::sync_test::{SyncPhase, SyncTest};

/// The id of a client's launch checklist (every client has one).
pub const LAUNCH_ID: &str = "launch";

/// The most checklists a client keeps beside its launch checklist.
pub const MAX_CHECKLISTS: usize = 50;

/// Which checklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    /// Going live: credentials, channels, notifications, catalog, a sync test, sign-off.
    Launch,
    /// Before a peak season: channels live, credentials not due, nothing overdue, reorders done.
    HolidayPreparation,
    /// Moving a client to a new platform or account.
    PlatformMigration,
}

impl Template {
    /// What a person reads.
    pub fn title(self) -> &'static str {
        match self {
            Template::Launch => "Launch",
            Template::HolidayPreparation => "Holiday preparation",
            Template::PlatformMigration => "Platform migration",
        }
    }
}

/// A condition the service checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Every channel's credential is stored.
    Credentials,
    /// A channel was verified by a live read from its marketplace and is not failing.
    ChannelLive,
    /// A channel's notifications arrive (an authentic delivery was seen).
    Notifications,
    /// The catalog is imported: SKUs exist, each is listed somewhere, the last import refused no
    /// row and left no marketplace listing unmanaged.
    Catalog,
    /// The end-to-end sync test passed.
    SyncTest,
    /// No credential is past or near its rotate-by date.
    CredentialRotation,
    /// No exception is past its due time.
    NothingOverdue,
    /// No reorder alert is open.
    ReordersPlaced,
}

impl Check {
    /// Whether the check is of an event (once seen, it happened) rather than of a state.
    pub fn sticky(self) -> bool {
        matches!(
            self,
            Check::ChannelLive | Check::Notifications | Check::SyncTest
        )
    }
}

/// What an item is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemKind {
    /// Checked by the service.
    Computed(Check),
    /// Ticked by a person.
    Manual,
}

/// One item of a checklist, as its template makes it for a client's channels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemDef {
    /// Stable within the checklist (`channel_live:etsy`, `client_signed_off`).
    pub key: String,
    /// What a person reads.
    pub title: String,
    /// Computed or manual.
    pub kind: ItemKind,
    /// The channel it is about, if one.
    pub channel: Option<ChannelId>,
}

/// What the service knows of one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelEvidence {
    /// Its id.
    pub id: ChannelId,
    /// Its platform.
    pub platform: Platform,
    /// The credential it authenticates with.
    pub credential: String,
    /// Whether that credential is stored.
    pub credential_stored: bool,
    /// Whether its actor runs.
    pub running: bool,
    /// When a read from the marketplace last succeeded.
    pub last_read: Option<DateTime<Utc>>,
    /// Why it is failing now, if it is.
    pub failing: Option<String>,
    /// Whether that failure is the marketplace refusing the credential.
    pub credential_refused: bool,
    /// Whether it has a webhook secret (notifications can be verified and received).
    pub notifications_configured: bool,
    /// When an authentic notification last arrived.
    pub last_notification: Option<DateTime<Utc>>,
}

/// What the service knows of the catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogEvidence {
    /// SKUs in the ledger.
    pub skus: usize,
    /// SKUs listed on no channel (the first few).
    pub listed_nowhere: Vec<Sku>,
    /// How many SKUs are listed on no channel.
    pub listed_nowhere_count: usize,
    /// The last import, if any.
    pub last_import: Option<ImportSummary>,
}

/// What a catalog import left behind (kept by the service at each import).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSummary {
    /// When.
    pub at: DateTime<Utc>,
    /// Rows imported.
    pub imported: usize,
    /// Rows refused.
    pub rejected: usize,
    /// Marketplace listings the refused rows left mapped to no SKU.
    pub unmanaged: usize,
}

/// Everything the checks read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// The client's channels.
    pub channels: Vec<ChannelEvidence>,
    /// Its catalog.
    pub catalog: CatalogEvidence,
    /// Its last sync test.
    pub sync_test: Option<SyncTest>,
    /// Credentials past or near their rotate-by date.
    pub rotation_due: Vec<String>,
    /// Unresolved exceptions past their due time.
    pub overdue_exceptions: usize,
    /// Open reorder alerts.
    pub open_reorders: usize,
}

/// A check's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It holds; the evidence.
    Holds(String),
    /// Not seen (yet); why.
    Missing(String),
    /// Something is broken; what.
    Broken(String),
}

/// An item's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    /// Not done.
    Open,
    /// Done.
    Done,
    /// Done before, or expected, and broken now.
    Red,
}

/// What is stored of an item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRecord {
    /// When it was (first) done.
    pub done_at: Option<DateTime<Utc>>,
    /// Who ticked it (a manual item's member id).
    pub done_by: Option<String>,
    /// Their name then.
    pub done_by_name: Option<String>,
    /// A computed item's evidence when first done; a manual item's note.
    pub note: Option<String>,
}

/// A stored checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistRecord {
    /// [`LAUNCH_ID`] or a number.
    pub id: String,
    /// Its template.
    pub template: Template,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// By whom (`service` for the launch checklist).
    pub created_by: String,
    /// Per item key.
    pub items: BTreeMap<String, ItemRecord>,
}

impl ChecklistRecord {
    /// A new checklist.
    pub fn new(id: String, template: Template, at: DateTime<Utc>, by: String) -> Self {
        Self {
            id,
            template,
            created_at: at,
            created_by: by,
            items: BTreeMap::new(),
        }
    }
}

/// One item as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemStatus {
    /// Its definition.
    pub def: ItemDef,
    /// Its state.
    pub state: ItemState,
    /// The evidence, or why it is not done.
    pub detail: String,
    /// What is stored of it.
    pub record: ItemRecord,
}

fn computed(key: String, title: String, check: Check, channel: Option<ChannelId>) -> ItemDef {
    ItemDef {
        key,
        title,
        kind: ItemKind::Computed(check),
        channel,
    }
}

fn manual(key: &str, title: &str) -> ItemDef {
    ItemDef {
        key: key.to_string(),
        title: title.to_string(),
        kind: ItemKind::Manual,
        channel: None,
    }
}

/// The items of `template` for a client with `channels`.
pub fn items(template: Template, channels: &[ChannelEvidence]) -> Vec<ItemDef> {
    let per_channel = |check: Check, what: &str| {
        channels
            .iter()
            .map(move |channel| {
                computed(
                    format!("{}:{}", key_of(check), channel.id),
                    format!("{} ({} {})", what, channel.platform, channel.id),
                    check,
                    Some(channel.id.clone()),
                )
            })
            .collect::<Vec<_>>()
    };
    let one =
        |check: Check, title: &str| computed(key_of(check).to_string(), title.into(), check, None);
    let mut items = Vec::new();
    match template {
        Template::Launch => {
            items.push(one(
                Check::Credentials,
                "A credential for every connected platform",
            ));
            items.extend(per_channel(Check::ChannelLive, "Verified by a live read"));
            items.extend(per_channel(Check::Notifications, "Notifications arriving"));
            items.push(one(
                Check::Catalog,
                "Catalog imported, no unmanaged listings",
            ));
            items.push(one(Check::SyncTest, "End-to-end sync test passed"));
            items.push(manual(
                "fulfilment_documented",
                "Fulfilment workflow documented",
            ));
            items.push(manual("client_signed_off", "Client signed off"));
        }
        Template::HolidayPreparation => {
            items.extend(per_channel(Check::ChannelLive, "Verified by a live read"));
            items.push(one(
                Check::CredentialRotation,
                "No credential due for rotation",
            ));
            items.push(one(Check::NothingOverdue, "No exception past due"));
            items.push(one(Check::ReordersPlaced, "No reorder alert open"));
            items.push(manual(
                "safety_stock_raised",
                "Safety stock raised for best sellers",
            ));
            items.push(manual(
                "carrier_cutoffs_agreed",
                "Carrier and 3PL cut-off dates agreed",
            ));
            items.push(manual(
                "client_approved_plan",
                "Client approved the holiday plan",
            ));
        }
        Template::PlatformMigration => {
            items.push(one(
                Check::Credentials,
                "A credential for every connected platform",
            ));
            items.extend(per_channel(Check::ChannelLive, "Verified by a live read"));
            items.extend(per_channel(Check::Notifications, "Notifications arriving"));
            items.push(one(
                Check::Catalog,
                "Catalog imported, no unmanaged listings",
            ));
            items.push(one(Check::SyncTest, "End-to-end sync test passed"));
            items.push(manual(
                "old_listings_paused",
                "Old platform's listings paused or delisted",
            ));
            items.push(manual(
                "redirects_checked",
                "Redirects and search listings checked",
            ));
            items.push(manual("client_signed_off", "Client signed off"));
        }
    }
    items
}

/// A check's key.
pub fn key_of(check: Check) -> &'static str {
    match check {
        Check::Credentials => "credentials",
        Check::ChannelLive => "channel_live",
        Check::Notifications => "notifications",
        Check::Catalog => "catalog",
        Check::SyncTest => "sync_test",
        Check::CredentialRotation => "credential_rotation",
        Check::NothingOverdue => "nothing_overdue",
        Check::ReordersPlaced => "reorders_placed",
    }
}

fn time(at: DateTime<Utc>) -> String {
    crate::timestamp::rfc3339(at)
}

/// The verdict of `check` (about `channel`, for a per-channel check) on `evidence`.
pub fn verdict(check: Check, channel: Option<&ChannelId>, evidence: &Evidence) -> Verdict {
    let channel = channel.and_then(|id| evidence.channels.iter().find(|c| &c.id == id));
    match check {
        Check::Credentials => {
            if evidence.channels.is_empty() {
                return Verdict::Missing("no channel is connected".into());
            }
            let missing: Vec<String> = evidence
                .channels
                .iter()
                .filter(|c| !c.credential_stored)
                .map(|c| format!("{} ({})", c.credential, c.id))
                .collect();
            let refused: Vec<String> = evidence
                .channels
                .iter()
                .filter(|c| c.credential_refused)
                .map(|c| c.id.to_string())
                .collect();
            if !missing.is_empty() {
                Verdict::Broken(format!("not stored: {}", missing.join(", ")))
            } else if !refused.is_empty() {
                Verdict::Broken(format!(
                    "refused by the marketplace: {}",
                    refused.join(", ")
                ))
            } else {
                Verdict::Holds(format!(
                    "{} channel(s), each credential stored",
                    evidence.channels.len()
                ))
            }
        }
        Check::ChannelLive => {
            let Some(channel) = channel else {
                return Verdict::Missing("the channel is gone".into());
            };
            if let Some(failing) = &channel.failing {
                return Verdict::Broken(format!("failing: {failing}"));
            }
            if !channel.running {
                return Verdict::Broken("the channel does not run".into());
            }
            match channel.last_read {
                Some(at) => Verdict::Holds(format!("read from the marketplace at {}", time(at))),
                None => Verdict::Missing("no read from the marketplace yet".into()),
            }
        }
        Check::Notifications => {
            let Some(channel) = channel else {
                return Verdict::Missing("the channel is gone".into());
            };
            if !channel.notifications_configured {
                return Verdict::Missing(
                    "no webhook secret: the channel is only polled; subscribe its notifications"
                        .into(),
                );
            }
            match channel.last_notification {
                Some(at) => Verdict::Holds(format!("last notification at {}", time(at))),
                None => Verdict::Missing("no notification received yet".into()),
            }
        }
        Check::Catalog => catalog_verdict(&evidence.catalog),
        Check::SyncTest => match &evidence.sync_test {
            None => Verdict::Missing("no sync test run yet (POST …/sync-test)".into()),
            Some(test) => match test.phase {
                SyncPhase::Passed => Verdict::Holds(format!(
                    "test change on {} seen on {} channel(s), then undone; passed at {}",
                    test.sku,
                    test.channels.len(),
                    test.finished_at.map(time).unwrap_or_default()
                )),
                SyncPhase::Failed => Verdict::Missing(format!(
                    "the last sync test failed: {}",
                    test.why.clone().unwrap_or_default()
                )),
                SyncPhase::Lowering | SyncPhase::Restoring => {
                    Verdict::Missing(format!("a sync test on {} is running", test.sku))
                }
            },
        },
        Check::CredentialRotation => {
            if evidence.rotation_due.is_empty() {
                Verdict::Holds("no credential past or near its rotate-by date".into())
            } else {
                Verdict::Broken(format!("due: {}", evidence.rotation_due.join(", ")))
            }
        }
        Check::NothingOverdue => match evidence.overdue_exceptions {
            0 => Verdict::Holds("no exception past its due time".into()),
            n => Verdict::Broken(format!("{n} exception(s) past due")),
        },
        Check::ReordersPlaced => match evidence.open_reorders {
            0 => Verdict::Holds("no reorder alert open".into()),
            n => Verdict::Missing(format!("{n} reorder alert(s) open")),
        },
    }
}

fn catalog_verdict(catalog: &CatalogEvidence) -> Verdict {
    let Some(import) = &catalog.last_import else {
        return Verdict::Missing("no catalog imported yet".into());
    };
    if catalog.skus == 0 {
        return Verdict::Missing("the catalog has no SKU".into());
    }
    let mut problems = Vec::new();
    if catalog.listed_nowhere_count > 0 {
        let first: Vec<&str> = catalog.listed_nowhere.iter().map(Sku::as_str).collect();
        problems.push(format!(
            "{} SKU(s) listed on no channel ({})",
            catalog.listed_nowhere_count,
            first.join(", ")
        ));
    }
    if import.rejected > 0 {
        problems.push(format!(
            "the last import refused {} row(s)",
            import.rejected
        ));
    }
    if import.unmanaged > 0 {
        problems.push(format!(
            "{} marketplace listing(s) map to no SKU",
            import.unmanaged
        ));
    }
    if problems.is_empty() {
        Verdict::Holds(format!(
            "{} SKU(s), each listed; imported at {}",
            catalog.skus,
            time(import.at)
        ))
    } else {
        Verdict::Missing(problems.join("; "))
    }
}

/// Evaluates every item of `record` against `evidence` at `now`: the items' states, and whether
/// the record changed (a computed item done for the first time, to be stored).
pub fn evaluate(
    record: &mut ChecklistRecord,
    defs: &[ItemDef],
    evidence: &Evidence,
    now: DateTime<Utc>,
) -> (Vec<ItemStatus>, bool) {
    let mut changed = false;
    let statuses = defs
        .iter()
        .map(|def| {
            let stored = record.items.entry(def.key.clone()).or_default();
            let (state, detail) = match &def.kind {
                ItemKind::Manual => match stored.done_at {
                    Some(at) => (
                        ItemState::Done,
                        format!(
                            "ticked by {} at {}",
                            stored.done_by_name.as_deref().unwrap_or("?"),
                            time(at)
                        ),
                    ),
                    None => (ItemState::Open, "to be ticked by a person".to_string()),
                },
                ItemKind::Computed(check) => {
                    match verdict(*check, def.channel.as_ref(), evidence) {
                        Verdict::Holds(evidence) => {
                            if stored.done_at.is_none() {
                                stored.done_at = Some(now);
                                stored.note = Some(evidence.clone());
                                changed = true;
                            }
                            (ItemState::Done, evidence)
                        }
                        Verdict::Broken(why) => (ItemState::Red, why),
                        Verdict::Missing(why) => match stored.done_at {
                            Some(at) if check.sticky() => (
                                ItemState::Done,
                                format!(
                                    "{} (seen at {})",
                                    stored.note.clone().unwrap_or_default(),
                                    time(at)
                                ),
                            ),
                            Some(_) => (ItemState::Red, why),
                            None => (ItemState::Open, why),
                        },
                    }
                }
            };
            ItemStatus {
                def: def.clone(),
                state,
                detail,
                record: stored.clone(),
            }
        })
        .collect();
    (statuses, changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn channel(failing: Option<&str>, read: bool) -> ChannelEvidence {
        ChannelEvidence {
            id: ChannelId::parse("shop").unwrap(),
            platform: Platform::Shopify,
            credential: "shopify".into(),
            credential_stored: true,
            running: true,
            last_read: read.then(|| at("2026-12-01T10:00:00Z")),
            failing: failing.map(str::to_string),
            credential_refused: failing.is_some(),
            notifications_configured: true,
            last_notification: None,
        }
    }

    fn state_of(statuses: &[ItemStatus], key: &str) -> ItemState {
        statuses.iter().find(|s| s.def.key == key).unwrap().state
    }

    #[test]
    fn a_live_read_completes_the_channel_item_and_a_refused_credential_turns_it_red() {
        let mut evidence = Evidence {
            channels: vec![channel(None, false)],
            ..Evidence::default()
        };
        let defs = items(Template::Launch, &evidence.channels);
        let mut record = ChecklistRecord::new(
            LAUNCH_ID.into(),
            Template::Launch,
            at("2026-12-01T00:00:00Z"),
            "service".into(),
        );
        let now = at("2026-12-01T11:00:00Z");

        let (statuses, changed) = evaluate(&mut record, &defs, &evidence, now);
        assert_eq!(state_of(&statuses, "channel_live:shop"), ItemState::Open);
        assert_eq!(state_of(&statuses, "credentials"), ItemState::Done);
        assert!(changed, "the credentials item was done for the first time");

        evidence.channels[0] = channel(None, true);
        let (statuses, changed) = evaluate(&mut record, &defs, &evidence, now);
        assert_eq!(state_of(&statuses, "channel_live:shop"), ItemState::Done);
        assert!(changed);

        // After a restart nothing has been read yet: the event stays seen.
        evidence.channels[0] = channel(None, false);
        let (statuses, changed) = evaluate(&mut record, &defs, &evidence, now);
        assert_eq!(state_of(&statuses, "channel_live:shop"), ItemState::Done);
        assert!(!changed);

        evidence.channels[0] = channel(Some("push_quantities failed (Permanent(Auth)): 401"), true);
        let (statuses, _) = evaluate(&mut record, &defs, &evidence, now);
        assert_eq!(state_of(&statuses, "channel_live:shop"), ItemState::Red);
        assert_eq!(state_of(&statuses, "credentials"), ItemState::Red);
    }

    #[test]
    fn a_state_item_done_before_turns_red_when_it_no_longer_holds() {
        let mut evidence = Evidence {
            channels: vec![channel(None, true)],
            catalog: CatalogEvidence {
                skus: 2,
                last_import: Some(ImportSummary {
                    at: at("2026-12-01T09:00:00Z"),
                    imported: 2,
                    rejected: 0,
                    unmanaged: 0,
                }),
                ..CatalogEvidence::default()
            },
            ..Evidence::default()
        };
        let defs = items(Template::Launch, &evidence.channels);
        let mut record = ChecklistRecord::new(
            LAUNCH_ID.into(),
            Template::Launch,
            at("2026-12-01T00:00:00Z"),
            "service".into(),
        );
        let now = at("2026-12-01T11:00:00Z");
        let (statuses, _) = evaluate(&mut record, &defs, &evidence, now);
        assert_eq!(state_of(&statuses, "catalog"), ItemState::Done);

        evidence.catalog.listed_nowhere = vec![Sku::parse("ACME-NEW").unwrap()];
        evidence.catalog.listed_nowhere_count = 1;
        let (statuses, _) = evaluate(&mut record, &defs, &evidence, now);
        assert_eq!(state_of(&statuses, "catalog"), ItemState::Red);

        // Never done: a missing state is only open.
        let mut fresh =
            ChecklistRecord::new(LAUNCH_ID.into(), Template::Launch, now, "service".into());
        let (statuses, _) = evaluate(&mut fresh, &defs, &evidence, now);
        assert_eq!(state_of(&statuses, "catalog"), ItemState::Open);
    }

    #[test]
    fn manual_items_are_done_only_when_ticked_and_templates_differ() {
        let channels = vec![channel(None, true)];
        let launch = items(Template::Launch, &channels);
        let holiday = items(Template::HolidayPreparation, &channels);
        assert!(launch.iter().any(|d| d.key == "client_signed_off"));
        assert!(holiday.iter().any(|d| d.key == "nothing_overdue"));
        assert!(!holiday.iter().any(|d| d.key == "sync_test"));
        let mut record = ChecklistRecord::new(
            LAUNCH_ID.into(),
            Template::Launch,
            at("2026-12-01T00:00:00Z"),
            "service".into(),
        );
        let evidence = Evidence {
            channels,
            ..Evidence::default()
        };
        let (statuses, _) = evaluate(&mut record, &launch, &evidence, at("2026-12-01T11:00:00Z"));
        assert_eq!(state_of(&statuses, "client_signed_off"), ItemState::Open);
        let item = record.items.get_mut("client_signed_off").unwrap();
        item.done_at = Some(at("2026-12-01T12:00:00Z"));
        item.done_by_name = Some("Ana".into());
        let (statuses, _) = evaluate(&mut record, &launch, &evidence, at("2026-12-01T13:00:00Z"));
        let signed = statuses
            .iter()
            .find(|s| s.def.key == "client_signed_off")
            .unwrap();
        assert_eq!(signed.state, ItemState::Done);
        assert!(signed.detail.contains("Ana"), "{}", signed.detail);
    }
}
