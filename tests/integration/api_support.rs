//! What the API tests share: an API server on a loopback port over a temporary data directory,
//! with a first admin, and a call helper.

use serde_json::Value;
use shelfsync::api::server::ApiServer;
use shelfsync::api::ApiState;
use shelfsync::auth::store::MemberStore;
use shelfsync::clients::ClientStore;
use shelfsync::vault::Vault;

/// The first admin's token.
pub const ADMIN: &str = "ssk_test-admin-token-0123456789abcdef";

/// A running API and its data directory.
pub struct Api {
    server: ApiServer,
    /// The data directory (scanned by the secret tests).
    pub dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl Api {
    /// Starts the API with a 64 KiB body limit.
    pub fn start() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path().join("db")).unwrap();
        let members = MemberStore::open(&db).unwrap();
        members
            .ensure_admin(Some(ADMIN), "2026-11-22T00:00:00Z")
            .unwrap();
        let clients = ClientStore::open(&db).unwrap();
        let vault = std::sync::Arc::new(Vault::open(dir.path(), None).unwrap());
        let state = ApiState {
            members,
            clients,
            vault,
            max_body_bytes: 64 * 1024,
        };
        let server = ApiServer::start("127.0.0.1:0".parse().unwrap(), state, 1).unwrap();
        Api {
            server,
            dir,
            http: reqwest::Client::new(),
        }
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

    /// Creates a member; returns its token.
    pub async fn member(&self, role: &str, clients: &[&str]) -> String {
        let body = serde_json::json!({ "name": format!("{role} member"), "role": role, "clients": clients });
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
