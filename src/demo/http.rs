//! The demo's HTTP client of the service's API (bearer token, JSON, problem details as errors).

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use super::DemoError;
use crate::platforms::mock::MockServer;

/// Calls the service's API and the mocks' control surfaces.
pub(super) struct Http {
    pub(super) client: reqwest::Client,
    pub(super) api_url: String,
    pub(super) token: String,
}

impl Http {
    pub(super) fn new(api_url: &str, token: &str) -> Result<Http, DemoError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|source| DemoError::Http {
                what: "the HTTP client".into(),
                source,
            })?;
        Ok(Http {
            client,
            api_url: api_url.to_string(),
            token: token.to_string(),
        })
    }

    /// One call to `url`; the JSON reply of a 2xx, else [`DemoError::Status`].
    pub(super) async fn send(
        &self,
        method: Method,
        url: &str,
        bearer: bool,
        body: Option<&Value>,
    ) -> Result<Value, DemoError> {
        let what = format!("{method} {url}");
        let mut request = self.client.request(method, url);
        if bearer {
            request = request.bearer_auth(&self.token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let reply = request.send().await.map_err(|source| DemoError::Http {
            what: what.clone(),
            source,
        })?;
        let status = reply.status();
        let text = reply.text().await.map_err(|source| DemoError::Http {
            what: what.clone(),
            source,
        })?;
        if !status.is_success() {
            return Err(DemoError::Status {
                what,
                status: status.as_u16(),
                body: text,
            });
        }
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|_| DemoError::Reply { what, reply: text })
    }

    /// A call to the service's API with the admin token.
    pub(super) async fn api(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, DemoError> {
        let url = format!("{}{path}", self.api_url);
        self.send(method, &url, true, body).await
    }

    /// A call to a mock's control surface (no auth there).
    pub(super) async fn control(
        &self,
        mock: &MockServer,
        method: Method,
        route: &str,
        body: Option<&Value>,
    ) -> Result<Value, DemoError> {
        let url = format!("{}/_mock/{route}", mock.base_url());
        self.send(method, &url, false, body).await
    }

    /// The Prometheus text of the service's `/metrics`.
    pub(super) async fn metrics(&self) -> Result<String, DemoError> {
        let url = format!("{}/metrics", self.api_url);
        let reply = self
            .client
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|source| DemoError::Http {
                what: format!("GET {url}"),
                source,
            })?;
        reply.text().await.map_err(|source| DemoError::Http {
            what: format!("GET {url}"),
            source,
        })
    }
}

/// A field of a reply, or [`DemoError::Reply`].
pub(super) fn field<'a>(reply: &'a Value, name: &str, what: &str) -> Result<&'a Value, DemoError> {
    reply
        .get(name)
        .filter(|value| !value.is_null())
        .ok_or_else(|| DemoError::Reply {
            what: format!("{what} (no {name:?})"),
            reply: reply.to_string(),
        })
}
