//! The console's pages, server-rendered with `maud` (markup checked at compile time, every
//! interpolated value HTML-escaped). No inline script or style: the Content-Security-Policy
//! allows only the console's own embedded assets.

use maud::{html, Markup, DOCTYPE};

use super::overview::{ClientRow, SortKey};
use crate::api::exceptions::ExceptionView;
use crate::auth::Member;

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
    /// Pending listings.
    pub pending: usize,
}

/// A client's page: channels and the exception queue (with its forms for a member who may
/// write).
pub fn client(
    member: &Member,
    csrf: &str,
    code: &str,
    name: &str,
    channels: &[ChannelLine],
    exceptions: &[ExceptionView],
    may_write: bool,
) -> Markup {
    layout(
        code,
        Some((member, csrf)),
        html! {
            h1 { (code) " · " (name) }
            h2 { "Channels" }
            table #channels {
                thead { tr { th { "Channel" } th { "State" } th { "Pending" } th { "Last read" } th { "Last error" } } }
                tbody {
                    @for channel in channels {
                        tr {
                            td { (channel.id) " (" (channel.platform) ")" }
                            td { @if let Some(problem) = &channel.problem { span.bad { (problem) } } @else { span.ok { "syncing" } } }
                            td.num { (channel.pending) }
                            td { (channel.last_read.as_deref().unwrap_or("–")) }
                            td { (channel.last_error.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
            h2 { "Exceptions to work" }
            @if exceptions.is_empty() {
                p #no-exceptions { "Nothing to work." }
            } @else {
                table #exceptions {
                    thead { tr { th { "#" } th { "Kind" } th { "SKU / order" } th { "Detail" } th { "State" } th { "Due" } @if may_write { th { "Work" } } } }
                    tbody {
                        @for exception in exceptions {
                            tr data-exception=(exception.id) {
                                td { (exception.id) }
                                td { (exception.kind) }
                                td { (exception.sku.as_ref().map(|sku| sku.to_string()).unwrap_or_default()) " " (exception.order_id.as_deref().unwrap_or("")) }
                                td { (exception.detail.clone().or(exception.reason.map(|reason| wire_name(&reason))).unwrap_or_default()) }
                                td { (exception.state) @if exception.overdue { " " span.bad { "overdue" } } }
                                td { (exception.due_at) }
                                @if may_write {
                                    td {
                                        form.work method="post" action={ "/clients/" (code) "/exceptions/" (exception.id) } {
                                            input type="hidden" name="csrf" value=(csrf);
                                            select name="action" {
                                                option value="acknowledge" { "Acknowledge" }
                                                option value="resolve" selected { "Resolve" }
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
        },
    )
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
