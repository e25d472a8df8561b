//! Schemas of the engine's types that the API reads or shows (`shelfsync-actors` stays free of
//! the HTTP document): each is derived from the type's own table of values (`Platform::ALL`,
//! `MovementKind::ALL`, …, serialised by serde as the API sends them) or states the parser's rule,
//! so a value the document allows is one the service accepts.

use serde::Serialize;
use shelfsync_actors::channel::scheduler::PushOrder;
use shelfsync_actors::inventory::ledger::{MovementKind, MAX_QUANTITY};
use shelfsync_actors::platform::Operation;
use shelfsync_actors::platform::Platform;
use shelfsync_actors::ratelimit::ServiceTier;
use utoipa::openapi::schema::{
    AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::RefOr;

/// Characters `char::is_control` refuses, as a regular-expression class body.
const CONTROL: &str = r"\x00-\x1f\x7f-\x9f";

/// A string of one of `values`, as serde writes them.
fn one_of<T: Serialize>(values: impl IntoIterator<Item = T>, description: &str) -> Schema {
    let values: Vec<serde_json::Value> = values
        .into_iter()
        .filter_map(|value| serde_json::to_value(value).ok())
        .collect();
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .description(Some(description))
        .into()
}

/// A string of `min`..=`max` characters matching `pattern`.
fn text(pattern: String, min: usize, max: usize, description: &str) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .min_length(Some(min))
        .max_length(Some(max))
        .description(Some(description))
        .into()
}

/// A name for people (member, client): printable, not blank.
pub fn printable_name() -> Schema {
    text(
        format!(r"^[^{CONTROL}]*[^\s{CONTROL}][^{CONTROL}]*$"),
        1,
        100,
        "1 to 100 printable characters, not only white space",
    )
}

/// An idempotency key: 1 to 200 printable characters, not only white space.
pub fn idempotency_key() -> Schema {
    text(
        format!(r"^[^{CONTROL}]*[^\s{CONTROL}][^{CONTROL}]*$"),
        1,
        200,
        "1 to 200 printable characters; the same key again answers the first result",
    )
}

/// A list's cursor: the `next` of the previous page.
pub fn cursor() -> Schema {
    text(
        format!(r"^[^{CONTROL}]+$"),
        1,
        crate::api::paging::MAX_CURSOR,
        "The `next` of the previous page: 1 to 128 printable characters",
    )
}

/// The cursor of `GET /v1/exceptions`: the `{client}/{id}` of the previous page's `next`.
pub fn exceptions_cursor() -> Schema {
    text(
        "^[A-Z0-9]{2,16}/[0-9]{1,19}$".into(),
        4,
        36,
        "The `next` of the previous page: a client code, '/', an exception id",
    )
}

/// An exception queue's `state` filter (`operations::queue::WorkState`, plus `unresolved`: open
/// or acknowledged, and `any`).
pub fn exception_state_filter() -> Schema {
    one_of(
        crate::operations::queue::WorkState::ALL
            .iter()
            .map(|state| state.as_str())
            .chain(["unresolved", "any"]),
        "Only exceptions in this state (`unresolved`: open or acknowledged)",
    )
}

/// What a person does to an exception (`exceptions::transition`).
pub fn exception_action() -> Schema {
    one_of(
        ["acknowledge", "assign", "resolve", "reopen"],
        "`acknowledge`, `assign` (with `assignee`), `resolve` (with `resolution`) or `reopen`",
    )
}

/// `operations::queue::QueueKind::ALL`.
pub fn exception_kind() -> Schema {
    one_of(
        crate::operations::queue::QueueKind::ALL,
        "Only exceptions of this kind",
    )
}

/// A list of exception kinds (escalation rules' `escalate`; repeats are one).
pub fn exception_kinds() -> Schema {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(RefOr::T(exception_kind()))
        .description(Some("The kinds sent to the client at once"))
        .into()
}

/// An http(s) URL a notification is posted to, as `escalation::put` checks it before parsing:
/// `http://` or `https://`, then printable ASCII without spaces (a host in another script is
/// given in its `xn--` form), at most `MAX_ENDPOINT_LEN`.
/// Whether the URL parses and its host is allowed is the deployment's egress policy's to say.
pub fn endpoint_url() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^https?://[!-~]+$".to_string()))
        .max_length(Some(crate::operations::escalation::MAX_ENDPOINT_LEN))
        .description(Some(
            "Where deliveries are posted: an http(s) URL the deployment's egress policy allows",
        ))
        .into()
}

/// `ClientCode::parse`'s rule.
pub fn client_code() -> Schema {
    text(
        "^[A-Z0-9]{2,16}$".into(),
        2,
        16,
        "A client code: 2 to 16 of A-Z and 0-9",
    )
}

/// `Month::parse`'s rule (`crate::report`): a month of the years 2000 to 9999.
pub fn month() -> Schema {
    text(
        "^[2-9][0-9]{3}-(0[1-9]|1[0-2])$".into(),
        7,
        7,
        "A calendar month in UTC, YYYY-MM (years 2000 to 9999)",
    )
}

/// `ChannelId::parse`'s rule.
pub fn channel_id() -> Schema {
    text(
        "^[a-z0-9][a-z0-9_-]{0,31}$".into(),
        1,
        32,
        "A channel id: 1 to 32 of a-z, 0-9, '-' and '_', starting with a letter or digit",
    )
}

/// `Sku::parse`'s rule (it trims and upper-cases what it is given, so white space around the 1 to
/// 64 characters is not counted).
pub fn sku() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!(
            r"^\s*[^\s{CONTROL}]([^{CONTROL}]{{0,62}}[^\s{CONTROL}])?\s*$"
        )))
        .description(Some(
            "A SKU: 1 to 64 printable characters (trimmed and upper-cased)",
        ))
        .into()
}

/// [`sku`], or `null`.
pub fn optional_sku() -> Schema {
    let Schema::Object(mut object) = sku() else {
        unreachable!("sku() is an object schema")
    };
    object.schema_type = SchemaType::from_iter([Type::String, Type::Null]);
    Schema::Object(object)
}

/// The templates a checklist may be made from (`operations::checklist::Template`, but the
/// launch checklist, which every client has).
pub fn new_checklist_template() -> Schema {
    use crate::operations::checklist::Template;
    one_of(
        [Template::HolidayPreparation, Template::PlatformMigration],
        "The template",
    )
}

/// `validate_credential_name`'s rule.
pub fn credential_name() -> Schema {
    text(
        "^[a-z0-9._-]{1,64}$".into(),
        1,
        crate::clients::MAX_CREDENTIAL_NAME,
        "A credential's name: 1 to 64 of a-z, 0-9, '-', '_', '.'",
    )
}

/// The body of a movement: the quantity's range depends on the kind (`Change::new`'s rule).
pub fn new_movement() -> Schema {
    let range = |min: i64, max: i64| {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(min))
            .maximum(Some(max))
    };
    let variant = |kinds: &[MovementKind], quantity: RefOr<Schema>| {
        ObjectBuilder::new()
            .property(
                "kind",
                one_of(kinds.iter().copied(), "The kind of movement"),
            )
            .required("kind")
            .property("quantity", quantity)
            .required("quantity")
            .property(
                "reason",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .pattern(Some(format!(r"^[^{CONTROL}]*$")))
                    .max_length(Some(500))
                    .description(Some(
                        "Why, for the journal: at most 500 printable characters",
                    )),
            )
            .property("idempotency_key", idempotency_key())
            .required("idempotency_key")
            .property(
                "create",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .description(Some("Create the SKU when the client has never had it")),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
    };
    let units = range(1, MAX_QUANTITY);
    let delta = OneOfBuilder::new()
        .item(range(-MAX_QUANTITY, -1))
        .item(range(1, MAX_QUANTITY));
    OneOfBuilder::new()
        .item(variant(
            &[MovementKind::Receipt, MovementKind::Ship],
            units.into(),
        ))
        .item(variant(&[MovementKind::Adjustment], delta.into()))
        .item(variant(
            &[MovementKind::Count],
            range(0, MAX_QUANTITY).into(),
        ))
        .description(Some(
            "A receipt or a shipment moves 1 to 1e9 units, an adjustment a non-zero delta of at \
             most 1e9 either way, a count sets the on-hand to 0 to 1e9",
        ))
        .into()
}

/// A credential's hosts: `Origin::parse`'s common forms, `https://host[:port]`, `http://host[:port]`
/// or a bare `host[:port]` (https); at least one when given.
pub fn origins() -> Schema {
    let label = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    // A last label of digits would make the URL parser read the host as an IPv4 address.
    let last = "[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    let port =
        "(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})";
    let origin = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!(
            r"^(https?://)?({label}\.)*{last}\.?(:{port})?/?$"
        )))
        .max_length(Some(300));
    utoipa::openapi::schema::ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(origin)
        .min_items(Some(1))
        .description(Some(
            "The origins the secret may be sent to; left out, the credential keeps its bindings",
        ))
        .into()
}

/// `Platform::ALL`.
pub fn platform() -> Schema {
    one_of(Platform::ALL, "The marketplace")
}

/// Every service tier.
pub fn tier() -> Schema {
    one_of(
        [
            ServiceTier::Standard,
            ServiceTier::Premium,
            ServiceTier::Enterprise,
        ],
        "The client's share of an app-wide rate-limit budget (standard 1, premium 2, enterprise 4)",
    )
}

/// Every push order.
pub fn push_order() -> Schema {
    one_of(
        [PushOrder::RiskFirst, PushOrder::Fifo],
        "The order in which pending listings are pushed",
    )
}

/// Every journal movement kind.
pub fn movement_kind() -> Schema {
    one_of(MovementKind::ALL, "The kind of movement")
}

/// `ListingPolicy`: how much of the available stock a channel lists.
pub fn listing_policy() -> Schema {
    let count = || {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
            .maximum(Some(u32::MAX))
    };
    ObjectBuilder::new()
        .property("buffer", count().description(Some("Units kept back")))
        .property(
            "percent",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .maximum(Some(100))
                .description(Some("The share of the rest listed (100 by default)")),
        )
        .property(
            "max",
            count()
                .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
                .description(Some("Never list more")),
        )
        .property(
            "zero_below",
            count().description(Some("List nothing below this many available")),
        )
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .description(Some("How much of the available stock the channel lists"))
        .into()
}

/// `RateLimitOverrides`: per operation, the fields that replace the documented default.
pub fn rate_limit_overrides() -> Schema {
    let change = || {
        ObjectBuilder::new()
            .property(
                "per_second",
                ObjectBuilder::new()
                    .schema_type(Type::Number)
                    .exclusive_minimum(Some(0)),
            )
            .property(
                "burst",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1)),
            )
            .property(
                "per_day",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1)),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
    };
    let mut overrides =
        ObjectBuilder::new().additional_properties(Some(AdditionalProperties::FreeForm(false)));
    for operation in Operation::ALL {
        if let Ok(serde_json::Value::String(name)) = serde_json::to_value(operation) {
            overrides = overrides.property(name, change());
        }
    }
    overrides
        .description(Some(
            "Changes to the platform's documented rate limits, per operation (a budget the \
             platform shares across an app cannot be changed per channel)",
        ))
        .into()
}

/// Any JSON object (a marketplace's own account settings, a webhook delivery).
pub fn any_object() -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::Object).into()
}
