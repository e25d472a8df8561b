//! The demo's HTTP clients: the service's API through its typed client ([`ApiClient`]), and the
//! mocks' control surfaces (plain JSON, no auth), which are no part of the API.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use super::DemoError;
use crate::api::client::ApiClient;
use crate::platforms::mock::MockServer;

/// How long one call may take.
const TIMEOUT: Duration = Duration::from_secs(15);

/// Calls the service's API and the mocks' control surfaces.
pub(super) struct Http {
    client: reqwest::Client,
    /// The service's API, as the demo's admin.
    pub(super) api: ApiClient,
}

impl Http {
    pub(super) fn new(api_url: &str, token: &str) -> Result<Http, DemoError> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|source| DemoError::Http {
                what: "the HTTP client".into(),
                source,
            })?;
        let api = ApiClient::new(api_url, token, TIMEOUT)?;
        Ok(Http { client, api })
    }

    /// One call to a mock's control surface at `url`; the JSON reply of a 2xx, else
    /// [`DemoError::Status`].
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Value, DemoError> {
        let what = format!("{method} {url}");
        let mut request = self.client.request(method, url);
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

    /// Posts a signed Shopify `orders/create` notification of `order` to `url` (what a store
    /// sends when a merchant makes an order by hand); the service's status.
    pub(super) async fn shopify_notification(
        &self,
        url: &str,
        secret: &str,
        order: &Value,
    ) -> Result<u16, DemoError> {
        let body = order.to_string().into_bytes();
        let signature = crate::platforms::shopify::mock::sign(secret, &body);
        let reply = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("x-shopify-topic", "orders/create")
            .header("x-shopify-hmac-sha256", signature)
            .body(body)
            .send()
            .await
            .map_err(|source| DemoError::Http {
                what: format!("POST {url}"),
                source,
            })?;
        Ok(reply.status().as_u16())
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
        self.send(method, &url, body).await
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
