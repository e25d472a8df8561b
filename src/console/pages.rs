//! The console's pages, server-rendered with `maud` (markup checked at compile time, every
//! interpolated value HTML-escaped). No inline script or style: the Content-Security-Policy
//! allows only the console's own embedded assets.

use maud::{html, Markup, DOCTYPE};

use super::overview::{ClientRow, SortKey};
use crate::api::exceptions::ExceptionView;
use crate::auth::Member;
use crate::operations::checklist::{ItemKind, ItemState};

/// Every resolution a person can pick, with its label.
const RESOLUTIONS: [(&str, &str); 5] = [
    ("fixed", "Fixed"),
    ("restocked", "Restocked"),
    ("order_cancelled", "Order cancelled"),
    ("client_informed", "Client informed"),
    ("no_action_needed", "No action needed"),
];

/// The page around every view.
pub fn layout(title: &str, signed_in: Option<(&Member, &str)>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · shelfsync" }
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
            }
            body {
                header {
                    a.brand href="/" { "shelfsync" }
                    @if let Some((member, csrf)) = signed_in {
                        span.who { (member.name) " · " (wire_name(&member.role)) }
                        form.signout method="post" action="/signout" {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The sign-in form; `csrf` is the double-submit token also set in its cookie.
pub fn signin(csrf: &str, error: Option<&str>) -> Markup {
    layout(
        "Sign in",
        None,
        html! {
            h1 { "Sign in" }
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            form #signin method="post" action="/signin" {
                input type="hidden" name="csrf" value=(csrf);
                label for="token" { "Member token" }
                input #token type="password" name="token" autocomplete="off" required;
                button type="submit" { "Sign in" }
            }
            p.hint { "Your token (ssk_…) is sent once; the browser then keeps only a session cookie." }
        },
    )
}

/// `text` as one segment of a path or a query value: everything but letters and digits
/// percent-encoded (a SKU may hold `/`, `?`, `#`, `&` or spaces).
pub fn encoded(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A value's name as serde writes it (`admin`, `missing_sku`).
fn wire_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn seconds(value: f64) -> String {
    if value <= 0.0 {
        "–".to_string()
    } else if value < 120.0 {
        format!("{value:.1} s")
    } else if value < 7200.0 {
        format!("{:.0} min", value / 60.0)
    } else {
        format!("{:.1} h", value / 3600.0)
    }
}

/// The overview's rows (also the fragment the page refreshes).
pub fn overview_rows(rows: &[ClientRow]) -> Markup {
    html! {
        @for row in rows {
            tr data-client=(row.code) {
                td { a href={ "/clients/" (row.code) } { (row.code) } br; small { (row.name) } }
                td.health {
                    @if row.healthy() {
                        span.ok { "syncing (" (row.channels.len()) ")" }
                    } @else {
                        @for channel in row.channels.iter().filter(|c| c.problem.is_some()) {
                            span.bad { (channel.channel) ": " (channel.problem.as_deref().unwrap_or_default()) }
                            br;
                        }
                    }
                }
                td.num data-field="exposure" { (row.exposure_units) }
                td.num data-field="at_risk" { (row.skus_at_risk) }
                td.num { (seconds(row.oldest_pending_seconds)) }
                td.num data-field="exceptions" { (row.open_exceptions) }
                td.num { (seconds(row.oldest_past_due_seconds)) }
                td.num data-field="launch" { (row.launch_done) "/" (row.launch_total) }
                td.num data-field="credentials_due" { (row.credentials_due) }
                td { (row.tier.as_str()) }
            }
        }
    }
}

/// The overview: one row per client.
pub fn overview(
    member: &Member,
    csrf: &str,
    rows: &[ClientRow],
    sort: SortKey,
    filter: &str,
) -> Markup {
    let header = |key: SortKey, label: &str| {
        html! {
            th {
                @if key == sort { (label) " ▾" } @else {
                    a href={ "/?sort=" (key.as_str()) "&q=" (filter) } { (label) }
                }
            }
        }
    };
    layout(
        "Clients",
        Some((member, csrf)),
        html! {
            h1 { "Clients" }
            form.filter method="get" action="/" {
                input type="hidden" name="sort" value=(sort.as_str());
                input type="search" name="q" value=(filter) placeholder="Filter by code or name";
                button type="submit" { "Filter" }
            }
            table #overview data-refresh={ "/console/rows?sort=" (sort.as_str()) "&q=" (filter) } {
                thead {
                    tr {
                        (header(SortKey::Code, "Client"))
                        (header(SortKey::Health, "Health"))
                        (header(SortKey::Exposure, "Exposure"))
                        th { "At risk" }
                        (header(SortKey::Pending, "Oldest pending"))
                        (header(SortKey::Exceptions, "Exceptions"))
                        th { "Oldest past due" }
                        (header(SortKey::Launch, "Launch"))
                        th { "Credentials due" }
                        th { "Tier" }
                    }
                }
                tbody #rows { (overview_rows(rows)) }
            }
        },
    )
}

/// One channel on the client page.
#[derive(Debug, Clone)]
pub struct ChannelLine {
    /// Its id.
    pub id: String,
    /// Its platform.
    pub platform: String,
    /// Syncing, or why not.
    pub problem: Option<String>,
    /// Its last error.
    pub last_error: Option<String>,
    /// When it last read from its marketplace.
    pub last_read: Option<String>,
    /// When an authentic notification last arrived for it (since the service started).
    pub last_notification: Option<String>,
    /// Pending listings.
    pub pending: usize,
}

/// Everything a client's page shows.
#[derive(Debug)]
pub struct ClientPage<'a> {
    /// The client's code.
    pub code: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Its channels.
    pub channels: Vec<ChannelLine>,
    /// Its exceptions to work.
    pub exceptions: Vec<ExceptionView>,
    /// Its checklists, evaluated now.
    pub checklists: Vec<crate::service::checklists::EvaluatedChecklist>,
    /// Its profile, if one was written.
    pub profile: Option<crate::operations::profile::ClientProfile>,
    /// Its credentials and where each stands against its rotate-by date.
    pub credentials: Vec<(String, crate::operations::rotation::Rotation)>,
    /// Its escalation rules, if set.
    pub escalation: Option<crate::operations::escalation::EscalationRules>,
    /// Its latest deliveries, newest first.
    pub deliveries: Vec<crate::operations::escalation::Delivery>,
    /// Its SKUs whose reorder alert is on.
    pub reorders: Vec<crate::replenishment::ReorderLine>,
    /// Whether the member may write for it.
    pub may_write: bool,
    /// The members an exception may be assigned to (id, name); empty for a viewer.
    pub assignees: Vec<(String, String)>,
    /// A page of its stock.
    pub stock: StockTable,
    /// The current month (its report, and the one before, are linked).
    pub month: crate::report::Month,
}

/// A page of a client's stock table.
#[derive(Debug, Clone, Default)]
pub struct StockTable {
    /// The SKUs, each with every channel's target, listed and pending.
    pub rows: Vec<crate::api::stock::StockView>,
    /// The search (a SKU prefix), empty for none.
    pub q: String,
    /// The last SKU of the page, when another page follows.
    pub next: Option<String>,
}

/// A client's page: channels, the exception queue (with its forms for a member who may write),
/// checklists with their evidence, the profile and access record, escalation rules and their
/// delivery log, the reorder alerts.
pub fn client(member: &Member, csrf: &str, view: &ClientPage<'_>) -> Markup {
    let code = view.code;
    let may_write = view.may_write;
    layout(
        code,
        Some((member, csrf)),
        html! {
            h1 { (code) " · " (view.name) }
            p.actions #reports {
                "Monthly report: "
                a href={ "/clients/" (code) "/reports/" (view.month) } { (view.month) " (to date)" }
                " · "
                a href={ "/clients/" (code) "/reports/" (view.month.previous()) } { (view.month.previous()) }
            }
            h2 { "Channels" }
            table #channels {
                thead { tr { th { "Channel" } th { "State" } th { "Pending" } th { "Last read" } th title="Since the service started" { "Last notification" } th { "Last error" } } }
                tbody {
                    @for channel in &view.channels {
                        tr data-channel=(channel.id) {
                            td { (channel.id) " (" (channel.platform) ")" }
                            td { @if let Some(problem) = &channel.problem { span.bad { (problem) } } @else { span.ok { "syncing" } } }
                            td.num { (channel.pending) }
                            td { (channel.last_read.as_deref().unwrap_or("–")) }
                            td { (channel.last_notification.as_deref().unwrap_or("–")) }
                            td { (channel.last_error.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
            h2 { "Exceptions to work" }
            @if view.exceptions.is_empty() {
                p #no-exceptions { "Nothing to work." }
            } @else {
                table #exceptions {
                    thead { tr { th { "#" } th { "Kind" } th { "SKU / order" } th { "Detail" } th { "State" } th { "Due" } @if may_write { th { "Work" } } } }
                    tbody {
                        @for exception in &view.exceptions {
                            tr data-exception=(exception.id) {
                                td { (exception.id) }
                                td { (exception.kind) }
                                td {
                                    @if let Some(sku) = &exception.sku { a href={ "/clients/" (code) "/skus/" (encoded(sku.as_str())) } { (sku) } " " }
                                    (exception.order_id.as_deref().unwrap_or(""))
                                }
                                td { (exception.detail.clone().or(exception.reason.map(|reason| wire_name(&reason))).unwrap_or_default()) }
                                td { (exception.state) @if exception.overdue { " " span.bad { "overdue" } } }
                                td { (exception.due_at) }
                                @if may_write {
                                    td {
                                        form.work method="post" action={ "/clients/" (code) "/exceptions/" (exception.id) } {
                                            input type="hidden" name="csrf" value=(csrf);
                                            select name="action" {
                                                option value="acknowledge" { "Acknowledge" }
                                                option value="assign" { "Assign to" }
                                                option value="resolve" selected { "Resolve" }
                                            }
                                            select name="assignee" aria-label="Assignee" {
                                                @for (id, name) in &view.assignees {
                                                    option value=(id) selected[exception.assignee.as_deref() == Some(id.as_str())] { (name) }
                                                }
                                            }
                                            select name="resolution" {
                                                @for (value, label) in RESOLUTIONS { option value=(value) { (label) } }
                                            }
                                            input type="text" name="note" maxlength="1000" placeholder="Note";
                                            button type="submit" { "Apply" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Stock" }
            form.search method="get" action={ "/clients/" (code) } {
                label for="stock-q" { "SKU begins with" }
                input #stock-q type="search" name="q" value=(view.stock.q) maxlength="64";
                button type="submit" { "Search" }
            }
            @let channel_ids: Vec<&str> = view.channels.iter().map(|channel| channel.id.as_str()).collect();
            table #stock {
                thead {
                    tr {
                        th { "SKU" } th { "On hand" } th { "Reserved" } th { "Available" }
                        @for id in &channel_ids { th { (id) " target / listed" } }
                    }
                }
                tbody {
                    @for row in &view.stock.rows {
                        tr data-sku=(row.sku) {
                            td { a href={ "/clients/" (code) "/skus/" (encoded(row.sku.as_str())) } { (row.sku) } }
                            td.num { (row.on_hand) } td.num { (row.reserved) } td.num { (row.available) }
                            @for id in &channel_ids {
                                td.num {
                                    @if let Some(listing) = row.channels.get(*id) {
                                        (listing.target) " / " (listing.listed.map_or("?".to_string(), |listed| listed.to_string()))
                                        @if listing.pending { " " span.bad { "pending" } }
                                    } @else { "–" }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = &view.stock.next {
                p { a #stock-next href={ "/clients/" (code) "?q=" (encoded(&view.stock.q)) "&after=" (encoded(next)) } { "Next SKUs →" } }
            }
            h2 { "Checklists" }
            @for checklist in &view.checklists {
                @let done = checklist.items.iter().filter(|item| item.state == ItemState::Done).count();
                h3 data-checklist=(checklist.record.id) { (checklist.record.template.title()) " · " (done) "/" (checklist.items.len()) }
                table.checklist {
                    tbody {
                        @for item in &checklist.items {
                            tr data-item=(item.def.key) {
                                td { (item.def.title) }
                                td { span class=(state_class(item.state)) { (wire_name(&item.state)) } }
                                td { (item.detail) }
                                td {
                                    @if may_write && item.def.kind == ItemKind::Manual {
                                        form.tick method="post" action={ "/clients/" (code) "/checklists/" (checklist.record.id) "/items/" (item.def.key) } {
                                            input type="hidden" name="csrf" value=(csrf);
                                            input type="hidden" name="done" value=(if item.state == ItemState::Done { "false" } else { "true" });
                                            button type="submit" { @if item.state == ItemState::Done { "Untick" } @else { "Tick" } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Profile and access" }
            @if let Some(profile) = &view.profile {
                @let profile_input = &profile.profile;
                dl.profile {
                    dt { "Legal name" } dd { (profile_input.legal_name.as_deref().unwrap_or("–")) }
                    dt { "Billing e-mail" } dd { (profile_input.billing_email.as_deref().unwrap_or("–")) }
                    dt { "Account manager" } dd { (profile_input.account_manager.as_deref().unwrap_or("–")) }
                    dt { "Fulfilment" } dd { (profile_input.fulfilment_notes.as_deref().unwrap_or("–")) }
                    dt { "Support scope" } dd { (profile_input.support_scope.as_deref().unwrap_or("–")) }
                }
                @if !profile_input.access.is_empty() {
                    table #access {
                        thead { tr { th { "Platform" } th { "Level" } th { "Granted by" } th { "On" } th { "2FA kept" } th { "Credential" } } }
                        tbody {
                            @for grant in &profile_input.access {
                                tr {
                                    td { (grant.platform) } td { (wire_name(&grant.level)) } td { (grant.granted_by) }
                                    td { (grant.granted_on) } td { (grant.two_factor_location.as_deref().unwrap_or("–")) }
                                    td { (grant.credential.as_deref().unwrap_or("–")) }
                                }
                            }
                        }
                    }
                }
            } @else {
                p { "No profile yet (PUT /v1/clients/" (code) "/profile)." }
            }
            table #credentials {
                thead { tr { th { "Credential" } th { "Rotation" } } }
                tbody { @for (name, rotation) in &view.credentials { tr { td { (name) } td { (wire_name(rotation)) } } } }
            }
            h2 { "Escalation" }
            @if let Some(rules) = &view.escalation {
                p #escalation {
                    "Sent to the client at once: "
                    (rules.escalate.iter().map(|kind| kind.as_str()).collect::<Vec<_>>().join(", "))
                    " · format " (wire_name(&rules.format))
                    @if rules.remind_when_overdue { " · reminder when overdue" }
                    @if let Some(from) = rules.monthly_report_from { " · the monthly report on the first of each month, from " (from) "'s" }
                }
            } @else {
                p #escalation { "No escalation rules: every exception stays the agency's." }
            }
            @if !view.deliveries.is_empty() {
                table #deliveries {
                    thead { tr { th { "Delivery" } th { "Exception" } th { "Reason" } th { "State" } th { "Attempts" } th { "Last status" } } }
                    tbody {
                        @for delivery in &view.deliveries {
                            tr {
                                td { (delivery.id) } td { @if let Some(month) = delivery.month { "report " (month) } @else { "#" (delivery.exception_id) } } td { (wire_name(&delivery.reason)) }
                                td { (wire_name(&delivery.state)) } td.num { (delivery.attempts) }
                                td { (delivery.last_status.map(|status| status.to_string()).unwrap_or_default()) }
                            }
                        }
                    }
                }
            }
            h2 { "Reorder alerts" }
            @if view.reorders.is_empty() {
                p #no-reorders { "No SKU needs reordering." }
            } @else {
                table #reorders {
                    thead { tr { th { "SKU" } th { "Available" } th { "Sold / day (7 d, 28 d)" } th { "Days of cover" } th { "Stock-out" } th { "Reorder by" } } }
                    tbody {
                        @for line in &view.reorders {
                            tr data-sku=(line.sku) {
                                td { a href={ "/clients/" (code) "/skus/" (encoded(line.sku.as_str())) } { (line.sku) } } td.num { (line.available) }
                                td.num { (format!("{:.1}, {:.1}", line.velocity_7d, line.velocity_28d)) }
                                td.num { (line.days_of_cover.map(|days| format!("{days:.1}")).unwrap_or_else(|| "–".into())) }
                                td { (line.projected_stockout.map(|day| day.to_string()).unwrap_or_else(|| "–".into())) }
                                td { (line.reorder_by.map(|day| day.to_string()).unwrap_or_else(|| "–".into())) }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// One channel's answer to "why did it show that then".
#[derive(Debug)]
pub struct Why {
    /// The channel.
    pub channel: String,
    /// The explain query's answer.
    pub explained: crate::api::listings::ExplainView,
}

/// A SKU's page: the timeline, and for a chosen instant each channel's "why".
pub fn sku(
    member: &Member,
    csrf: &str,
    code: &str,
    sku: &str,
    chart: Markup,
    at: Option<&str>,
    whys: &[Why],
) -> Markup {
    layout(
        sku,
        Some((member, csrf)),
        html! {
            h1 { a href={ "/clients/" (code) } { (code) } " · " (sku) }
            (chart)
            form.at method="get" {
                label for="at" { "Why did each channel show what it showed at (RFC 3339)" }
                input #at type="text" name="at" value=(at.unwrap_or("")) placeholder="2026-12-04T14:02:00Z";
                button type="submit" { "Explain" }
            }
            @if let Some(at) = at {
                h2 { "At " (at) }
                table #why {
                    thead { tr { th { "Channel" } th { "Showed" } th { "Since" } th { "Computed from" } th { "Newer number pending" } } }
                    tbody {
                        @for why in whys {
                            @let explained = &why.explained;
                            tr data-channel=(why.channel) {
                                td { (why.channel) }
                                td.num data-field="shown" { (explained.shown.map(|shown| shown.to_string()).unwrap_or_else(|| "nothing recorded".into())) }
                                td { (explained.since.map(crate::timestamp::rfc3339).unwrap_or_default()) }
                                td {
                                    @if let Some(from) = &explained.computed_from {
                                        "ledger entry " (from.ledger_seq)
                                        @if let Some(level) = &from.available_at_seq {
                                            " (available " (level.available) ", on hand " (level.on_hand) ", reserved " (level.reserved) ")"
                                        }
                                        @if let Some(policy) = &from.policy { " · policy " (wire_json(policy)) }
                                        ul {
                                            @for entry in from.entries.iter().rev().take(5) {
                                                li { "#" (entry.seq) " " (wire_name(&entry.kind())) " " (entry.quantity()) " at " (crate::timestamp::rfc3339_ms(entry.at_ms)) }
                                            }
                                        }
                                    } @else if explained.shown.is_some() {
                                        "the marketplace's own number (a read)"
                                    }
                                }
                                td {
                                    @if let Some(pending) = &explained.pending {
                                        (pending.target) " from entry " (pending.ledger_seq) " since " (crate::timestamp::rfc3339(pending.since)) ": " (wire_json(&pending.why))
                                    } @else { "–" }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// A value as compact JSON, for a person.
fn wire_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn state_class(state: ItemState) -> &'static str {
    match state {
        ItemState::Done => "ok",
        ItemState::Red => "bad",
        ItemState::Open => "open",
    }
}

/// A refusal or failure, as a page.
pub fn problem(member: Option<(&Member, &str)>, title: &str, detail: &str) -> Markup {
    layout(
        title,
        member,
        html! {
            h1 { (title) }
            p.error role="alert" { (detail) }
            p { a href="/" { "Back to the clients" } }
        },
    )
}
