//! What the API tests share: an API server on a loopback port over a temporary data directory,
//! with a first admin, and a call helper.

use serde_json::Value;
use shelfsync::api::server::ApiServer;
use shelfsync::api::ApiState;
use shelfsync::auth::store::MemberStore;
use shelfsync::clients::ClientStore;
use shelfsync::platforms::egress::EgressPolicy;
use shelfsync::service::{Service, ServiceOptions};
use shelfsync::vault::Vault;

/// The first admin's token.
pub const ADMIN: &str = "ssk_test-admin-token-0123456789abcdef";

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
}

impl Api {
    /// Starts the API and the engine with a 64 KiB body limit, allowing connections to loopback
    /// (the tests' mock marketplaces run there).
    pub async fn start() -> Api {
        Api::start_with(ServiceOptions {
            egress: EgressPolicy::LOOPBACK_MOCKS,
            ..ServiceOptions::default()
        })
        .await
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
        Api {
            server,
            service,
            dir,
            db,
            http: reqwest::Client::new(),
        }
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

    /// Creates a member scoped to `clients` (which must exist); returns its token.
    pub async fn member(&self, role: &str, clients: &[&str]) -> String {
        let body = serde_json::json!({ "name": format!("{role} member"), "role": role, "clients": clients });
        self.member_from(body).await
    }

    /// Creates a manager that may create clients (and manages those it creates); returns its
    /// token.
    pub async fn client_creating_manager(&self) -> String {
        let body = serde_json::json!({ "name": "manager who creates clients", "role": "manager", "may_create_clients": true });
        self.member_from(body).await
    }

    /// Creates the member `body` describes; returns its token.
    pub async fn member_from(&self, body: Value) -> String {
        let (status, created, _) = self
            .call(
                reqwest::Method::POST,
                "/v1/members",
                Some(ADMIN),
                Some(body.to_string()),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        created["token"].as_str().unwrap().to_string()
    }
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
