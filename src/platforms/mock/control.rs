//! The control surface every mock serves under `/_mock/`, without platform auth: listings,
//! orders, shoppers, webhooks, faults, and the ground truth (DESIGN §7). Errors are JSON
//! `{"code", "message"}` with a 4xx; a refused call changes nothing.

use std::time::Instant;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::world::{NewListing, OrderRefusal};
use super::{rfc3339, FaultSettings, MockError, MockState, ShopperSettings};

/// The largest control request body (a catalog of listings).
pub const MAX_CONTROL_BODY: usize = 32 * 1024 * 1024;

/// The `/_mock` scope.
pub fn scope() -> actix_web::Scope {
    web::scope("/_mock")
        .app_data(
            web::JsonConfig::default()
                .limit(MAX_CONTROL_BODY)
                .error_handler(|error, _| {
                    MockError::BadControlRequest {
                        message: error.to_string(),
                    }
                    .into()
                }),
        )
        .route("/info", web::get().to(info))
        .route("/listings", web::post().to(create_listings))
        .route("/listings", web::get().to(listings))
        .route("/orders", web::post().to(place_order))
        .route("/orders", web::get().to(orders))
        .route("/orders/{order_id}/cancel", web::post().to(cancel_order))
        .route("/shoppers", web::post().to(set_shoppers))
        .route("/shoppers", web::get().to(shoppers))
        .route("/webhooks", web::post().to(subscribe))
        .route("/webhooks", web::get().to(subscriptions))
        .route("/faults", web::post().to(set_faults))
        .route("/faults", web::get().to(faults))
        .route("/stats", web::get().to(stats))
        .route("/credential", web::post().to(set_credential))
        .route("/credential", web::get().to(credential))
}

/// `GET /_mock/info`: the platform, its account ids, API version, plan and limits.
async fn info(state: web::Data<MockState>) -> HttpResponse {
    let platform = state.platform();
    HttpResponse::Ok().json(json!({
        "platform": platform.platform(),
        "api_version": platform.api_version(),
        "account": platform.account(),
        "plan": state.options().plan,
        "limits": platform.limits(),
        "webhooks": platform.sends_webhooks(),
    }))
}

/// `POST /_mock/listings`: creates listings, all or none.
async fn create_listings(
    state: web::Data<MockState>,
    body: web::Json<Vec<NewListing>>,
) -> Result<HttpResponse, MockError> {
    let now = state.now();
    let platform = state.platform().clone();
    let created = state.world().create_listings(&body, now, |number, sku| {
        platform.listing_identity(number, sku)
    })?;
    let created: Vec<_> = created
        .into_iter()
        .map(|listing| {
            json!({
                "sku": listing.sku,
                "quantity": listing.quantity,
                "ids": listing.ids,
                "listing_ref": listing.listing_ref,
            })
        })
        .collect();
    Ok(HttpResponse::Created().json(created))
}

/// `GET /_mock/listings`: every listing and what it shows now.
async fn listings(state: web::Data<MockState>) -> HttpResponse {
    let world = state.world();
    let listings: Vec<_> = world
        .listings()
        .map(|listing| {
            json!({
                "sku": listing.sku,
                "quantity": listing.quantity,
                "listing_ref": listing.listing_ref,
                "ids": listing.ids,
                "updated_at": rfc3339(listing.updated_at),
            })
        })
        .collect();
    HttpResponse::Ok().json(listings)
}

/// One order asked for by `POST /_mock/orders`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaceOrder {
    sku: String,
    quantity: i64,
}

/// `POST /_mock/orders`: one order now; sold, or refused when the listing shows too little.
async fn place_order(
    state: web::Data<MockState>,
    body: web::Json<PlaceOrder>,
) -> Result<HttpResponse, MockError> {
    if !(1..=super::shoppers::MAX_UNITS).contains(&body.quantity) {
        return Err(MockError::BadControlRequest {
            message: format!(
                "quantity {} is outside 1..={}",
                body.quantity,
                super::shoppers::MAX_UNITS
            ),
        });
    }
    match state.place_order(&body.sku, body.quantity) {
        Ok(order) => Ok(HttpResponse::Created().json(json!({
            "outcome": "sold",
            "order_id": order.order_id,
            "sku": order.sku,
            "quantity": order.quantity,
        }))),
        Err(OrderRefusal::UnknownSku) => Err(MockError::UnknownSku { sku: body.sku.clone() }),
        Err(OrderRefusal::InsufficientQuantity { listed }) => Ok(HttpResponse::Conflict().json(json!({
            "outcome": "refused",
            "code": "insufficient_quantity",
            "message": format!("the listing of {:?} shows {listed}, fewer than {}", body.sku, body.quantity),
            "listed": listed,
        }))),
    }
}

/// `GET /_mock/orders`: every order, placement order.
async fn orders(state: web::Data<MockState>) -> HttpResponse {
    let world = state.world();
    HttpResponse::Ok().json(world.orders())
}

/// `POST /_mock/orders/{order_id}/cancel`: cancels an order and restocks its listing.
async fn cancel_order(
    state: web::Data<MockState>,
    order_id: web::Path<String>,
) -> Result<HttpResponse, MockError> {
    let order = state.cancel_order(&order_id)?;
    Ok(HttpResponse::Ok().json(order))
}

/// `POST /_mock/shoppers`: starts, changes or (with `orders_per_sec: 0`) stops the shoppers.
async fn set_shoppers(
    state: web::Data<MockState>,
    body: web::Json<ShopperSettings>,
) -> Result<HttpResponse, MockError> {
    body.validate()?;
    state.shoppers().send_replace(body.0.clone());
    Ok(HttpResponse::Ok().json(body.0))
}

/// `GET /_mock/shoppers`: the shoppers' settings.
async fn shoppers(state: web::Data<MockState>) -> HttpResponse {
    HttpResponse::Ok().json(state.shoppers().borrow().clone())
}

/// A receiver asked for by `POST /_mock/webhooks`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Subscribe {
    url: String,
    secret: String,
    /// The receiver's choice of authentication, where the platform offers one (an unknown
    /// method is refused as malformed).
    #[serde(default)]
    auth: Option<super::WebhookAuth>,
}

/// `POST /_mock/webhooks`: subscribes a receiver (platforms with webhooks only).
async fn subscribe(
    state: web::Data<MockState>,
    body: web::Json<Subscribe>,
) -> Result<HttpResponse, MockError> {
    if !state.platform().sends_webhooks() {
        return Err(MockError::WebhooksUnsupported {
            platform: state.platform().platform(),
        });
    }
    state.platform().check_auth(body.auth, &body.secret)?;
    state
        .platform()
        .check_subscription(&body.url, &body.secret)
        .await?;
    let view = state
        .webhooks()
        .subscribe_with_auth(&body.url, &body.secret, body.auth)?;
    Ok(HttpResponse::Created().json(view))
}

/// `GET /_mock/webhooks`: the receivers, never their secrets.
async fn subscriptions(state: web::Data<MockState>) -> HttpResponse {
    HttpResponse::Ok().json(state.webhooks().views())
}

/// `POST /_mock/faults`: replaces the injected faults (a field left out is off).
async fn set_faults(
    state: web::Data<MockState>,
    body: web::Json<FaultSettings>,
) -> Result<HttpResponse, MockError> {
    let now = Instant::now();
    let mut faults = state.faults();
    faults.set(body.0, now)?;
    Ok(HttpResponse::Ok().json(faults.settings(now)))
}

/// `GET /_mock/faults`: the faults in force.
async fn faults(state: web::Data<MockState>) -> HttpResponse {
    HttpResponse::Ok().json(state.faults().settings(Instant::now()))
}

/// The body and reply of `/_mock/credential`: whether the seller has revoked the agency's
/// access (the launch checklist's "a broken credential turns the channel red").
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialState {
    revoked: bool,
}

/// `POST /_mock/credential`: `{"revoked": true}` refuses every platform call as a bad token
/// is refused; `{"revoked": false}` grants access again.
async fn set_credential(
    state: web::Data<MockState>,
    body: web::Json<CredentialState>,
) -> HttpResponse {
    state.set_credential_revoked(body.revoked);
    HttpResponse::Ok().json(body.0)
}

/// `GET /_mock/credential`: whether access is revoked.
async fn credential(state: web::Data<MockState>) -> HttpResponse {
    HttpResponse::Ok().json(CredentialState {
        revoked: state.credential_revoked(),
    })
}

/// The ground truth of `GET /_mock/stats`.
#[derive(Debug, Serialize)]
struct StatsView<'a> {
    platform: shelfsync_actors::platform::Platform,
    listings: usize,
    #[serde(flatten)]
    stats: &'a super::world::Stats,
}

/// `GET /_mock/stats`: orders, units sold per SKU, refusals, requests and throttled replies per
/// operation, compare-and-set conflicts, webhook deliveries.
async fn stats(state: web::Data<MockState>) -> HttpResponse {
    let world = state.world();
    HttpResponse::Ok().json(StatsView {
        platform: state.platform().platform(),
        listings: world.listing_count(),
        stats: &world.stats,
    })
}
