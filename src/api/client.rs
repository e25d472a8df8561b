//! The typed client of the API, over the very request and reply types the handlers take and give
//! (and the OpenAPI document is generated from): the demo, the load bench and the tests call the
//! service through it, so a change of a route's shape breaks them at compile time instead of in a
//! `json!` body (issue 13, item 6). Path segments (client codes, channel ids, SKUs) are
//! percent-encoded; a refusal comes back as [`ClientError::Refused`] with the problem's stable
//! [`Code`]; list routes are walked page by page by the `*_all` helpers.
//!
//! Tests that probe how the API meets a malformed request (a bad body, a missing token, a wrong
//! content type) send raw requests on purpose: this client only sends what the types allow.

use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::catalog::{CatalogBody, ImportReply};
use super::channels::{ChannelStatus, ChannelView, NewChannelBody};
use super::clients::{NewClient, PutCredential};
use super::error::Code;
use super::exceptions::{ExceptionsPage, ExceptionsQuery};
use super::journal::{JournalQuery, LedgerPage, OrdersPage};
use super::listings::{ExplainQuery, ExplainView, HistoryPage, HistoryQuery};
use super::members::{CreatedMember, MemberView, NewMember};
use super::paging::{NumberPageQuery, Page, PageQuery, SkuPageQuery, MAX_LIMIT};
use super::reorders::ReordersQuery;
use super::stock::{MovementReply, NewMovement, StockView};
use crate::clients::{ClientRecord, CredentialMetadata};
use crate::operations::audit::AuditEntry;
use crate::replenishment::{ReorderLine, ReorderSettings, ReorderSettingsBody};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The request could not be sent or its reply not read.
    #[error("{call}: {source}")]
    Http {
        /// `METHOD /path`.
        call: String,
        /// What reqwest said.
        #[source]
        source: reqwest::Error,
    },
    /// The API refused: its status and problem.
    #[error("{call}: {status} {code}: {detail}", code = code.map_or("(no code)", Code::name))]
    Refused {
        /// `METHOD /path`.
        call: String,
        /// The HTTP status.
        status: u16,
        /// The problem's code (`None` when the reply was not a problem).
        code: Option<Code>,
        /// The problem's detail, or the start of the body.
        detail: String,
    },
    /// A 2xx whose body is not the route's reply type.
    #[error("{call}: unreadable reply ({error}): {body}")]
    Reply {
        /// `METHOD /path`.
        call: String,
        /// What serde said.
        error: String,
        /// The start of the body.
        body: String,
    },
    /// A 2xx the route does not document for this call (a 200 where the route creates and
    /// answers 201, say): the API and its document disagree.
    #[error("{call}: answered {status}, the route documents {expected:?}")]
    UnexpectedStatus {
        /// `METHOD /path`.
        call: String,
        /// The status received.
        status: u16,
        /// The statuses the route documents for success.
        expected: &'static [u16],
    },
    /// The base URL is not one a path can be joined to.
    #[error("{0:?} is not an http(s) base URL")]
    BaseUrl(String),
}

impl ClientError {
    /// The problem's code of a refusal.
    pub fn code(&self) -> Option<Code> {
        match self {
            ClientError::Refused { code, .. } => *code,
            ClientError::Http { .. }
            | ClientError::Reply { .. }
            | ClientError::UnexpectedStatus { .. }
            | ClientError::BaseUrl(_) => None,
        }
    }

    /// The problem's detail of a refusal.
    pub fn detail(&self) -> Option<&str> {
        match self {
            ClientError::Refused { detail, .. } => Some(detail),
            ClientError::Http { .. }
            | ClientError::Reply { .. }
            | ClientError::UnexpectedStatus { .. }
            | ClientError::BaseUrl(_) => None,
        }
    }

    /// The status of a refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Refused { status, .. } => Some(*status),
            ClientError::Http { .. }
            | ClientError::Reply { .. }
            | ClientError::UnexpectedStatus { .. }
            | ClientError::BaseUrl(_) => None,
        }
    }
}

/// The part of a problem a caller reads.
#[derive(Debug, Deserialize)]
struct ProblemReply {
    code: String,
    detail: String,
}

/// How much of an unexpected body an error keeps.
const BODY_EXCERPT: usize = 500;

/// A client of one service, calling as one member.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: reqwest::Url,
    token: Option<String>,
}

/// The success statuses of a read or an update.
const OK: &[u16] = &[200];
/// Of a route that creates what it is sent.
const CREATED: &[u16] = &[201];
/// Of a delete.
const NO_CONTENT: &[u16] = &[204];
/// Of a movement: 201 applied, 200 the idempotency key was used already (the first result).
const APPLIED_OR_SEEN: &[u16] = &[201, 200];

/// No query string.
const NO_QUERY: Option<&()> = None;
/// No body.
const NO_BODY: Option<&()> = None;

impl ApiClient {
    /// A client of the service at `base_url` (`http://host:port`) calling with `token`, each call
    /// bounded by `timeout`.
    pub fn new(base_url: &str, token: &str, timeout: Duration) -> Result<ApiClient, ClientError> {
        let base = reqwest::Url::parse(base_url)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && !url.cannot_be_a_base())
            .ok_or_else(|| ClientError::BaseUrl(base_url.to_string()))?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|source| ClientError::Http {
                call: "building the HTTP client".into(),
                source,
            })?;
        Ok(ApiClient {
            http,
            base,
            token: Some(token.to_string()),
        })
    }

    /// The same service called as the member of `token` (sharing the connection pool).
    pub fn as_member(&self, token: &str) -> ApiClient {
        ApiClient {
            token: Some(token.to_string()),
            ..self.clone()
        }
    }

    /// `http://host:port` of the service.
    pub fn base_url(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_string()
    }

    /// The URL of `segments` under the base, each segment percent-encoded.
    fn url(&self, segments: &[&str]) -> reqwest::Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// One call; the reply of a 2xx decoded as `R` (an empty body as JSON `null`). A 2xx other
    /// than the route's documented `success` statuses is an error: callers (tests among them)
    /// rely on the client for the status as much as for the body.
    async fn send<R: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: Option<&impl Serialize>,
        body: Option<&impl Serialize>,
        success: &'static [u16],
    ) -> Result<R, ClientError> {
        let url = self.url(segments);
        let call = format!("{method} {}", url.path());
        let mut request = self.http.request(method, url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(query) = query {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let http_error = |source| ClientError::Http {
            call: call.clone(),
            source,
        };
        let reply = request.send().await.map_err(http_error)?;
        let status = reply.status();
        let text = reply.text().await.map_err(http_error)?;
        if !status.is_success() {
            let problem = serde_json::from_str::<ProblemReply>(&text).ok();
            return Err(ClientError::Refused {
                call,
                status: status.as_u16(),
                code: problem
                    .as_ref()
                    .and_then(|problem| Code::from_name(&problem.code)),
                detail: problem.map_or_else(
                    || text.chars().take(BODY_EXCERPT).collect(),
                    |problem| problem.detail,
                ),
            });
        }
        if !success.contains(&status.as_u16()) {
            return Err(ClientError::UnexpectedStatus {
                call,
                status: status.as_u16(),
                expected: success,
            });
        }
        let text = if text.is_empty() { "null" } else { &text };
        serde_json::from_str(text).map_err(|error| ClientError::Reply {
            call,
            error: error.to_string(),
            body: text.chars().take(BODY_EXCERPT).collect(),
        })
    }

    /// A `GET`.
    async fn read<R: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: Option<&impl Serialize>,
    ) -> Result<R, ClientError> {
        self.send(Method::GET, segments, query, NO_BODY, OK).await
    }

    /// Every item of a paged list, walking its pages in order.
    async fn every_page<T: DeserializeOwned>(
        &self,
        segments: &[&str],
    ) -> Result<Vec<T>, ClientError> {
        let mut items = Vec::new();
        let mut query = PageQuery {
            cursor: None,
            limit: Some(MAX_LIMIT),
        };
        loop {
            let page: Page<T> = self.read(segments, Some(&query)).await?;
            items.extend(page.items);
            match page.next {
                // A `next` that names the page just read would loop for ever (a server bug, or
                // one that is not shelfsync): an error of the reply instead.
                Some(next) if query.cursor.as_deref() == Some(next.as_str()) => {
                    return Err(ClientError::Reply {
                        call: format!("GET /{}", segments.join("/")),
                        error: "the page's next cursor is the cursor it was read with".into(),
                        body: next,
                    })
                }
                Some(next) => query.cursor = Some(next),
                None => return Ok(items),
            }
        }
    }

    /// `POST /v1/members`: the member and its token.
    pub async fn create_member(&self, member: &NewMember) -> Result<CreatedMember, ClientError> {
        self.send(
            Method::POST,
            &["v1", "members"],
            NO_QUERY,
            Some(member),
            CREATED,
        )
        .await
    }

    /// `GET /v1/members`: one page.
    pub async fn members_page(&self, query: &PageQuery) -> Result<Page<MemberView>, ClientError> {
        self.read(&["v1", "members"], Some(query)).await
    }

    /// Every member.
    pub async fn members(&self) -> Result<Vec<MemberView>, ClientError> {
        self.every_page(&["v1", "members"]).await
    }

    /// `DELETE /v1/members/{id}`.
    pub async fn delete_member(&self, id: &str) -> Result<(), ClientError> {
        self.send(
            Method::DELETE,
            &["v1", "members", id],
            NO_QUERY,
            NO_BODY,
            NO_CONTENT,
        )
        .await
    }

    /// `POST /v1/clients`.
    pub async fn create_client(&self, client: &NewClient) -> Result<ClientRecord, ClientError> {
        self.send(
            Method::POST,
            &["v1", "clients"],
            NO_QUERY,
            Some(client),
            CREATED,
        )
        .await
    }

    /// `GET /v1/clients`: one page.
    pub async fn clients_page(&self, query: &PageQuery) -> Result<Page<ClientRecord>, ClientError> {
        self.read(&["v1", "clients"], Some(query)).await
    }

    /// Every client the member may see.
    pub async fn clients(&self) -> Result<Vec<ClientRecord>, ClientError> {
        self.every_page(&["v1", "clients"]).await
    }

    /// `GET /v1/clients/{code}`.
    pub async fn client(&self, code: &str) -> Result<ClientRecord, ClientError> {
        self.read(&["v1", "clients", code], NO_QUERY).await
    }

    /// `PUT /v1/clients/{code}/credentials/{name}`.
    pub async fn put_credential(
        &self,
        code: &str,
        name: &str,
        credential: &PutCredential,
    ) -> Result<CredentialMetadata, ClientError> {
        let path = ["v1", "clients", code, "credentials", name];
        self.send(Method::PUT, &path, NO_QUERY, Some(credential), OK)
            .await
    }

    /// `GET /v1/clients/{code}/credentials`.
    pub async fn credentials(&self, code: &str) -> Result<Vec<CredentialMetadata>, ClientError> {
        self.read(&["v1", "clients", code, "credentials"], NO_QUERY)
            .await
    }

    /// `POST /v1/clients/{code}/channels`.
    pub async fn create_channel(
        &self,
        code: &str,
        channel: &NewChannelBody,
    ) -> Result<ChannelView, ClientError> {
        let path = ["v1", "clients", code, "channels"];
        self.send(Method::POST, &path, NO_QUERY, Some(channel), CREATED)
            .await
    }

    /// `GET /v1/clients/{code}/channels`: one page.
    pub async fn channels_page(
        &self,
        code: &str,
        query: &PageQuery,
    ) -> Result<Page<ChannelStatus>, ClientError> {
        self.read(&["v1", "clients", code, "channels"], Some(query))
            .await
    }

    /// Every channel of a client, with its live state.
    pub async fn channels(&self, code: &str) -> Result<Vec<ChannelStatus>, ClientError> {
        self.every_page(&["v1", "clients", code, "channels"]).await
    }

    /// `PUT /v1/clients/{code}/catalog` (JSON).
    pub async fn import_catalog(
        &self,
        code: &str,
        catalog: &CatalogBody,
    ) -> Result<ImportReply, ClientError> {
        let path = ["v1", "clients", code, "catalog"];
        self.send(Method::PUT, &path, NO_QUERY, Some(catalog), OK)
            .await
    }

    /// `GET /v1/clients/{code}/stock`: one page.
    pub async fn stock_page(
        &self,
        code: &str,
        query: &SkuPageQuery,
    ) -> Result<Page<StockView>, ClientError> {
        self.read(&["v1", "clients", code, "stock"], Some(query))
            .await
    }

    /// Every SKU of a client that has a balance.
    pub async fn stock(&self, code: &str) -> Result<Vec<StockView>, ClientError> {
        self.every_page(&["v1", "clients", code, "stock"]).await
    }

    /// `GET /v1/clients/{code}/stock/{sku}`.
    pub async fn sku_stock(&self, code: &str, sku: &str) -> Result<StockView, ClientError> {
        self.read(&["v1", "clients", code, "stock", sku], NO_QUERY)
            .await
    }

    /// `POST /v1/clients/{code}/stock/{sku}/movements`.
    pub async fn post_movement(
        &self,
        code: &str,
        sku: &str,
        movement: &NewMovement,
    ) -> Result<MovementReply, ClientError> {
        let path = ["v1", "clients", code, "stock", sku, "movements"];
        self.send(
            Method::POST,
            &path,
            NO_QUERY,
            Some(movement),
            APPLIED_OR_SEEN,
        )
        .await
    }

    /// `GET /v1/clients/{code}/ledger`: one page of the journal.
    pub async fn ledger(
        &self,
        code: &str,
        query: &JournalQuery,
    ) -> Result<LedgerPage, ClientError> {
        self.read(&["v1", "clients", code, "ledger"], Some(query))
            .await
    }

    /// `GET /v1/clients/{code}/orders`: one page of marketplace order events.
    pub async fn orders(
        &self,
        code: &str,
        query: &JournalQuery,
    ) -> Result<OrdersPage, ClientError> {
        self.read(&["v1", "clients", code, "orders"], Some(query))
            .await
    }

    /// `GET /v1/clients/{code}/exceptions`: one page of order exceptions.
    pub async fn exceptions(
        &self,
        code: &str,
        query: &ExceptionsQuery,
    ) -> Result<ExceptionsPage, ClientError> {
        self.read(&["v1", "clients", code, "exceptions"], Some(query))
            .await
    }

    /// `PUT /v1/clients/{code}/stock/{sku}/reorder`: the settings as stored.
    pub async fn put_reorder_settings(
        &self,
        code: &str,
        sku: &str,
        settings: &ReorderSettingsBody,
    ) -> Result<ReorderSettings, ClientError> {
        let path = ["v1", "clients", code, "stock", sku, "reorder"];
        self.send(Method::PUT, &path, NO_QUERY, Some(settings), OK)
            .await
    }

    /// `DELETE /v1/clients/{code}/stock/{sku}/reorder`.
    pub async fn delete_reorder_settings(&self, code: &str, sku: &str) -> Result<(), ClientError> {
        let path = ["v1", "clients", code, "stock", sku, "reorder"];
        self.send(Method::DELETE, &path, NO_QUERY, NO_BODY, NO_CONTENT)
            .await
    }

    /// `GET /v1/clients/{code}/reorders`: one page of the reorder list.
    pub async fn reorders_page(
        &self,
        code: &str,
        query: &ReordersQuery,
    ) -> Result<Page<ReorderLine>, ClientError> {
        self.read(&["v1", "clients", code, "reorders"], Some(query))
            .await
    }

    /// `GET /v1/clients/{code}/reports/{month}`: the client's monthly report.
    pub async fn monthly_report(
        &self,
        code: &str,
        month: &str,
    ) -> Result<crate::report::MonthlyReport, ClientError> {
        self.read(&["v1", "clients", code, "reports", month], NO_QUERY)
            .await
    }

    /// `GET /v1/clients/{code}/reports/{month}/pdf`: the same report as PDF bytes (refused
    /// unless the reply says `application/pdf`).
    pub async fn monthly_report_pdf(
        &self,
        code: &str,
        month: &str,
    ) -> Result<Vec<u8>, ClientError> {
        let url = self.url(&["v1", "clients", code, "reports", month, "pdf"]);
        let call = format!("GET {}", url.path());
        let mut request = self.http.get(url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let http_error = |source| ClientError::Http {
            call: call.clone(),
            source,
        };
        let reply = request.send().await.map_err(http_error)?;
        let status = reply.status().as_u16();
        let pdf = reply
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .is_some_and(|value| value.as_bytes() == b"application/pdf");
        let bytes = reply.bytes().await.map_err(http_error)?.to_vec();
        if status != 200 || !pdf {
            return Err(ClientError::UnexpectedStatus {
                call,
                status,
                expected: OK,
            });
        }
        Ok(bytes)
    }

    /// The whole reorder list of a client.
    pub async fn reorders(&self, code: &str) -> Result<Vec<ReorderLine>, ClientError> {
        self.every_page(&["v1", "clients", code, "reorders"]).await
    }

    /// `GET /v1/clients/{code}/channels/{channel}/listings/{sku}/history`: one page of a
    /// listing's history.
    pub async fn listing_history(
        &self,
        code: &str,
        channel: &str,
        sku: &str,
        query: &HistoryQuery,
    ) -> Result<HistoryPage, ClientError> {
        let path = [
            "v1", "clients", code, "channels", channel, "listings", sku, "history",
        ];
        self.read(&path, Some(query)).await
    }

    /// `GET /v1/clients/{code}/channels/{channel}/listings/{sku}/explain`: what the listing
    /// showed at `query.at` (now when absent) and why.
    pub async fn explain_listing(
        &self,
        code: &str,
        channel: &str,
        sku: &str,
        query: &ExplainQuery,
    ) -> Result<ExplainView, ClientError> {
        let path = [
            "v1", "clients", code, "channels", channel, "listings", sku, "explain",
        ];
        self.read(&path, Some(query)).await
    }

    /// `GET /v1/clients/{code}/audit`: a page of the client's audit log.
    pub async fn client_audit(
        &self,
        code: &str,
        query: &NumberPageQuery,
    ) -> Result<Page<AuditEntry>, ClientError> {
        self.read(&["v1", "clients", code, "audit"], Some(query))
            .await
    }

    /// `GET /v1/audit`: a page of the agency's audit log (admins).
    pub async fn agency_audit(
        &self,
        query: &NumberPageQuery,
    ) -> Result<Page<AuditEntry>, ClientError> {
        self.read(&["v1", "audit"], Some(query)).await
    }

    /// `GET /metrics`: the Prometheus text.
    pub async fn metrics(&self) -> Result<String, ClientError> {
        let url = self.url(&["metrics"]);
        let call = format!("GET {}", url.path());
        let http_error = |source| ClientError::Http {
            call: call.clone(),
            source,
        };
        let reply = self.http.get(url).send().await.map_err(http_error)?;
        let reply = reply.error_for_status().map_err(http_error)?;
        reply.text().await.map_err(http_error)
    }
}
