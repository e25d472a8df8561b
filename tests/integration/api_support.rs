//! What the API tests share: an API server on a loopback port over a temporary data directory,
//! with a first admin; the typed client to call it with, and the provisioning steps tests repeat
//! (a client, a credential, a mock channel, a catalog, a movement) as one typed call each. Raw
//! calls ([`Api::call`], [`Api::send_raw`]) are for what the typed client cannot send: malformed
//! bodies, missing or wrong tokens, other content types and methods.

use std::time::Duration;

use serde_json::Value;
use shelfsync::api::catalog::{CatalogBody, CatalogItem, ImportReply};
use shelfsync::api::channels::{ChannelView, NewChannelBody};
use shelfsync::api::client::{ApiClient, ClientError};
use shelfsync::api::clients::{NewClient, PutCredential};
use shelfsync::api::error::Code;
use shelfsync::api::journal::{JournalQuery, LedgerEntry};
use shelfsync::api::members::NewMember;
use shelfsync::api::server::ApiServer;
use shelfsync::api::stock::{MovementReply, NewMovement};
use shelfsync::api::ApiState;
use shelfsync::auth::store::MemberStore;
use shelfsync::auth::Role;
use shelfsync::clients::{ClientRecord, ClientStore, CredentialMetadata};
use shelfsync::platforms::egress::EgressPolicy;
use shelfsync::platforms::Platform;
use shelfsync::service::{Service, ServiceOptions};
use shelfsync::vault::Vault;
use shelfsync_actors::inventory::ledger::MovementKind;
use shelfsync_actors::ratelimit::ServiceTier;

/// The first admin's token.
pub const ADMIN: &str = "ssk_test-admin-token-0123456789abcdef";

/// How long one typed call may take: generous, as the machine running the tests may be busy; a
/// hung call fails the test instead of hanging it.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A running API and its data directory.
pub struct Api {
    server: ApiServer,
    /// The engine behind it.
    pub service: std::sync::Arc<Service>,
    /// The data directory (scanned by the secret tests).
    pub dir: tempfile::TempDir,
    /// The database the service runs on (fault-injection tests damage a client's tree).
    pub db: sled::Db,
    http: reqwest::Client,
    admin: ApiClient,
}

impl Api {
    /// Starts the API and the engine with a 64 KiB body limit, allowing connections to loopback
    /// (the tests' mock marketplaces run there).
    pub async fn start() -> Api {
        Api::start_loopback(tempfile::tempdir().unwrap()).await
    }

    /// Starts the API and the engine with `options` (one arbiter) over a new data directory.
    pub async fn start_with(options: ServiceOptions) -> Api {
        Api::start_in(tempfile::tempdir().unwrap(), options).await
    }

    /// As [`Api::start_with`], with the given edge bounds.
    pub async fn start_with_edge(
        edge: shelfsync::api::server::EdgeLimits,
        options: ServiceOptions,
    ) -> Api {
        let options = ServiceOptions {
            egress: EgressPolicy::LOOPBACK_MOCKS,
            ..options
        };
        Api::start_configured(tempfile::tempdir().unwrap(), options, 64 * 1024, edge).await
    }

    /// Stops the API and the engine and hands back the data directory, to start again on it.
    pub fn stop(mut self) -> tempfile::TempDir {
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }

    /// Starts the API and the engine (loopback egress, as [`Api::start`]) over `dir`, kept by
    /// [`Api::stop`] or written by the test.
    pub async fn start_loopback(dir: tempfile::TempDir) -> Api {
        let options = ServiceOptions {
            egress: EgressPolicy::LOOPBACK_MOCKS,
            ..ServiceOptions::default()
        };
        Api::start_in(dir, options).await
    }

    /// Starts the API and the engine with `options` (one arbiter) over `dir`, new or kept by
    /// [`Api::stop`].
    pub async fn start_in(dir: tempfile::TempDir, options: ServiceOptions) -> Api {
        Api::start_configured(dir, options, 64 * 1024, Default::default()).await
    }

    /// Starts the API (loopback egress) with a body limit of `max_body_bytes`.
    pub async fn start_with_body_limit(max_body_bytes: usize) -> Api {
        let options = ServiceOptions {
            egress: EgressPolicy::LOOPBACK_MOCKS,
            ..ServiceOptions::default()
        };
        Api::start_configured(
            tempfile::tempdir().unwrap(),
            options,
            max_body_bytes,
            Default::default(),
        )
        .await
    }

    async fn start_configured(
        dir: tempfile::TempDir,
        options: ServiceOptions,
        max_body_bytes: usize,
        edge: shelfsync::api::server::EdgeLimits,
    ) -> Api {
        // After [`Api::stop`] the engine's threads may hold the database's file lock a moment
        // longer: retry for a bounded while.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        let db = loop {
            match sled::open(dir.path().join("db")) {
                Ok(db) => break db,
                Err(error) if std::time::Instant::now() < deadline => {
                    let _ = error;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(error) => panic!("the database does not open again: {error}"),
            }
        };
        let members = MemberStore::open(&db).unwrap();
        members
            .ensure_admin(Some(ADMIN), options.clock.now())
            .unwrap();
        let clients = ClientStore::open(&db).unwrap();
        let vault = std::sync::Arc::new(Vault::open(dir.path(), None).unwrap());
        let options = ServiceOptions {
            arbiters: 1,
            ..options
        };
        let service = Service::start(&db, clients.clone(), vault.clone(), options)
            .await
            .unwrap();
        let service = std::sync::Arc::new(service);
        let state = ApiState {
            members,
            clients,
            vault,
            max_body_bytes,
            edge,
            service: service.clone(),
        };
        let server = ApiServer::start("127.0.0.1:0".parse().unwrap(), state, 1).unwrap();
        let admin = ApiClient::new(&server.base_url(), ADMIN, CALL_TIMEOUT).unwrap();
        Api {
            server,
            service,
            dir,
            db,
            http: reqwest::Client::new(),
            admin,
        }
    }

    /// The typed client, calling as the first admin.
    pub fn client(&self) -> ApiClient {
        self.admin.clone()
    }

    /// The typed client, calling as the member of `token`.
    pub fn client_as(&self, token: &str) -> ApiClient {
        self.admin.as_member(token)
    }

    /// `http://ADDR` of the API.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// One call with a raw body and content type: status and JSON reply (or null).
    pub async fn send_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
        headers: &[(&str, String)],
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.server.base_url()))
            .header("content-type", content_type)
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let reply = request.send().await.unwrap();
        let status = reply.status().as_u16();
        (status, reply.json().await.unwrap_or(Value::Null))
    }

    /// One call: status, JSON reply (or null) and content type.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> (u16, Value, String) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.server.base_url()));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let reply = request.send().await.unwrap();
        let status = reply.status().as_u16();
        let content_type = reply
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (
            status,
            reply.json().await.unwrap_or(Value::Null),
            content_type,
        )
    }

    /// Imports `csv` into client `code`'s catalog as `token`: status and JSON reply (raw: the
    /// typed client sends JSON catalogs only).
    pub async fn import_csv(&self, token: &str, code: &str, csv: &str) -> (u16, Value) {
        let path = format!("/v1/clients/{code}/catalog");
        let body = csv.as_bytes().to_vec();
        self.send_raw(
            reqwest::Method::PUT,
            &path,
            Some(token),
            "text/csv",
            body,
            &[],
        )
        .await
    }

    /// Creates a member scoped to `clients` (which must exist); returns its token.
    pub async fn member(&self, role: Role, clients: &[&str]) -> String {
        self.member_from(new_member(&format!("{role:?} member"), role, clients))
            .await
    }

    /// Creates a manager that may create clients (and manages those it creates); returns its
    /// token.
    pub async fn client_creating_manager(&self) -> String {
        self.member_from(NewMember {
            may_create_clients: true,
            ..new_member("manager who creates clients", Role::Manager, &[])
        })
        .await
    }

    /// Creates `member` as the admin; returns its token.
    pub async fn member_from(&self, member: NewMember) -> String {
        self.admin.create_member(&member).await.unwrap().token
    }
}

/// The body creating a member `name` of `role` scoped to `clients`, who may not create clients.
pub fn new_member(name: &str, role: Role, clients: &[&str]) -> NewMember {
    NewMember {
        name: name.into(),
        role,
        clients: clients.iter().map(|code| code.to_string()).collect(),
        may_create_clients: false,
    }
}

/// The body creating client `code` named `name` in the default tier.
pub fn new_client(code: &str, name: &str) -> NewClient {
    NewClient {
        code: code.into(),
        name: name.into(),
        tier: ServiceTier::default(),
    }
}

/// Creates client `code` named `name` (default tier) as `caller`.
pub async fn create_client(caller: &ApiClient, code: &str, name: &str) -> ClientRecord {
    create_client_in(caller, code, name, ServiceTier::default()).await
}

/// Creates client `code` named `name` in `tier` as `caller`.
pub async fn create_client_in(
    caller: &ApiClient,
    code: &str,
    name: &str,
    tier: ServiceTier,
) -> ClientRecord {
    let client = NewClient {
        tier,
        ..new_client(code, name)
    };
    caller.create_client(&client).await.unwrap()
}

/// Stores `secret` as credential `name` of client `code` (no hosts given: the first channel that
/// uses it binds it).
pub async fn put_secret(
    caller: &ApiClient,
    code: &str,
    name: &str,
    secret: &str,
) -> CredentialMetadata {
    let credential = PutCredential {
        secret: secret.into(),
        ..PutCredential::default()
    };
    caller
        .put_credential(code, name, &credential)
        .await
        .unwrap()
}

/// A channel `id` on the `platform` mock at `base_url` using credential `credential`, polling its
/// orders every 200 ms (the tests' mocks answer at once; the default would make them wait).
pub fn mock_channel(
    id: &str,
    platform: Platform,
    base_url: &str,
    credential: &str,
) -> NewChannelBody {
    NewChannelBody {
        id: id.into(),
        platform: platform.to_string(),
        base_url: base_url.into(),
        credential: credential.into(),
        poll_interval_ms: Some(200),
        ..NewChannelBody::default()
    }
}

/// A channel's account settings from a JSON object (a mock's `info.account`, or one the test
/// writes); anything else is no settings.
pub fn account(value: Value) -> serde_json::Map<String, Value> {
    match value {
        Value::Object(settings) => settings,
        _ => serde_json::Map::new(),
    }
}

/// Adds `channel` to client `code`.
pub async fn add_channel(caller: &ApiClient, code: &str, channel: &NewChannelBody) -> ChannelView {
    caller.create_channel(code, channel).await.unwrap()
}

/// A catalog row: `sku` counted at `on_hand`, listed as `listings` (channel id, listing ref).
pub fn item(sku: &str, on_hand: i64, listings: &[(&str, &str)]) -> CatalogItem {
    CatalogItem {
        sku: sku.into(),
        on_hand,
        listings: listings
            .iter()
            .map(|(channel, listing)| (channel.to_string(), listing.to_string()))
            .collect(),
        ..CatalogItem::default()
    }
}

/// Imports `items` into client `code`'s catalog (JSON).
pub async fn import(caller: &ApiClient, code: &str, items: &[CatalogItem]) -> ImportReply {
    caller
        .import_catalog(code, &CatalogBody::of(items))
        .await
        .unwrap()
}

/// The journal entries of `sku` in client `code` (a first page of up to a thousand), as
/// `caller` reads them.
pub async fn journal_of(caller: &ApiClient, code: &str, sku: &str) -> Vec<LedgerEntry> {
    let query = JournalQuery {
        sku: Some(sku.into()),
        limit: Some(1000),
        ..JournalQuery::default()
    };
    caller.ledger(code, &query).await.unwrap().entries
}

/// Posts a movement of `kind` by `quantity` of `sku` under `key`.
pub async fn post_movement(
    caller: &ApiClient,
    code: &str,
    sku: &str,
    kind: MovementKind,
    quantity: i64,
    key: &str,
) -> MovementReply {
    let movement = NewMovement::new(kind, quantity, key);
    caller.post_movement(code, sku, &movement).await.unwrap()
}

/// The problem's detail of a refusal (empty for any other error).
pub fn detail(error: &ClientError) -> &str {
    error.detail().unwrap_or_default()
}

/// Asserts that `result` is the API's refusal with `status` and `code` (`what` names the case);
/// answers the refusal.
pub fn assert_refused<T: std::fmt::Debug>(
    result: Result<T, ClientError>,
    status: u16,
    code: Code,
    what: &str,
) -> ClientError {
    let refused = result.expect_err(what);
    assert_eq!(
        (refused.status(), refused.code()),
        (Some(status), Some(code)),
        "{what}: {refused}"
    );
    refused
}

impl Drop for Api {
    fn drop(&mut self) {
        self.service.shutdown();
    }
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}
