//! Paging of the list routes through the typed client (issue 13, item 5): walking a list with a
//! small `limit` gives every item once, in key order, each page at most `limit` long, each cursor
//! the last key of its page and `next: null` on the last page; a manager pages only over the
//! clients it may see; a bad `limit` or cursor is a 400 with its code, on every list route.

use std::future::Future;

use shelfsync::api::client::{ApiClient, ClientError};
use shelfsync::api::error::Code;
use shelfsync::api::paging::{Page, PageQuery, SkuPageQuery, MAX_LIMIT};
use shelfsync::auth::Role;

use crate::api_support::{assert_refused, create_client, import, item, new_member, Api};

/// Walks a list page by page, `limit` items a page, from `page(cursor)`; checks each page's
/// shape and answers the keys (by `key`) in the order the pages gave them.
async fn walk<T, Fut>(
    limit: usize,
    mut page: impl FnMut(Option<String>) -> Fut,
    key: impl Fn(&T) -> String,
) -> Vec<String>
where
    Fut: Future<Output = Result<Page<T>, ClientError>>,
{
    let mut keys = Vec::new();
    let mut cursor = None;
    // Bounded: a cursor that never reaches `null` fails the test instead of hanging it.
    for _ in 0..100 {
        let Page { items, next } = page(cursor.clone()).await.unwrap();
        assert!(
            items.len() <= limit,
            "{} items on a page of {limit}",
            items.len()
        );
        let last = items.last().map(&key);
        keys.extend(items.iter().map(&key));
        match next {
            None => return keys,
            Some(next) => {
                assert_eq!(items.len(), limit, "a page another follows is full");
                assert_eq!(
                    Some(&next),
                    last.as_ref(),
                    "the cursor is the page's last key"
                );
                cursor = Some(next);
            }
        }
    }
    panic!("the list did not end after 100 pages: {keys:?}")
}

/// The query of a page of `limit` items after `cursor`.
fn page_query(cursor: Option<String>, limit: usize) -> PageQuery {
    PageQuery {
        cursor,
        limit: Some(limit),
    }
}

#[tokio::test]
async fn walking_the_stock_with_a_small_limit_gives_every_sku_once_in_order() {
    let api = Api::start().await;
    let admin = api.client();
    create_client(&admin, "ACME", "Acme").await;
    let skus: Vec<String> = (1..=25).map(|n| format!("ACME-P{n:02}")).collect();
    // Imported out of order: the pages come in SKU order whatever the order of arrival.
    let catalog: Vec<_> = skus.iter().rev().map(|sku| item(sku, 3, &[])).collect();
    assert_eq!(import(&admin, "ACME", &catalog).await.imported, skus.len());

    for limit in [1, 7, 25, 26] {
        let walked = walk(
            limit,
            |cursor| {
                let admin = admin.clone();
                async move {
                    let query = SkuPageQuery {
                        cursor,
                        limit: Some(limit),
                    };
                    admin.stock_page("ACME", &query).await
                }
            },
            |level| level.sku.to_string(),
        )
        .await;
        assert_eq!(walked, skus, "pages of {limit}");
    }
    let whole: Vec<String> = admin
        .stock("ACME")
        .await
        .unwrap()
        .iter()
        .map(|level| level.sku.to_string())
        .collect();
    assert_eq!(whole, skus, "the client's own walk");

    // A cursor between two SKUs starts at the next one: a position, not an offset.
    let query = SkuPageQuery {
        cursor: Some("ACME-P10A".into()),
        limit: Some(2),
    };
    let page = admin.stock_page("ACME", &query).await.unwrap();
    let after: Vec<String> = page
        .items
        .iter()
        .map(|level| level.sku.to_string())
        .collect();
    assert_eq!(after, ["ACME-P11", "ACME-P12"]);
    assert_eq!(page.next.as_deref(), Some("ACME-P12"));
}

#[tokio::test]
async fn a_bad_limit_or_cursor_is_a_400_with_its_code_on_every_list_route() {
    let api = Api::start().await;
    let admin = api.client();
    create_client(&admin, "ACME", "Acme").await;
    import(&admin, "ACME", &[item("ACME-MUG", 1, &[])]).await;
    for limit in [0, MAX_LIMIT + 1] {
        let what = format!("limit={limit}");
        let query = page_query(None, limit);
        let stock_query = SkuPageQuery {
            cursor: None,
            limit: Some(limit),
        };
        let refusals = [
            admin.members_page(&query).await.map(drop),
            admin.clients_page(&query).await.map(drop),
            admin.channels_page("ACME", &query).await.map(drop),
            admin.stock_page("ACME", &stock_query).await.map(drop),
        ];
        for refused in refusals {
            assert_refused(refused, 400, Code::InvalidField, &what);
        }
    }
    // The bounds themselves are pages.
    for limit in [1, MAX_LIMIT] {
        let page = admin.clients_page(&page_query(None, limit)).await.unwrap();
        assert_eq!(page.items.len(), 1, "limit={limit}");
    }
    // A stock cursor is a SKU: one that is not is refused as a SKU.
    for cursor in ["  ", "ACME\u{1}MUG"] {
        let query = SkuPageQuery {
            cursor: Some(cursor.into()),
            limit: None,
        };
        assert_refused(
            admin.stock_page("ACME", &query).await,
            400,
            Code::InvalidSku,
            &format!("{cursor:?}"),
        );
    }
    // Other cursors are keys of the list's own kind: an empty or unprintable one is refused.
    for cursor in ["", "m\u{1}"] {
        let query = page_query(Some(cursor.into()), 10);
        assert_refused(
            admin.members_page(&query).await,
            400,
            Code::InvalidField,
            &format!("{cursor:?}"),
        );
    }
}

/// The codes of the clients `caller` sees, walked `limit` a page.
async fn client_codes(caller: &ApiClient, limit: usize) -> Vec<String> {
    let page = |cursor| {
        let caller = caller.clone();
        async move { caller.clients_page(&page_query(cursor, limit)).await }
    };
    walk(limit, page, |client| client.code.clone()).await
}

#[tokio::test]
async fn a_manager_pages_only_over_the_clients_it_may_see() {
    let api = Api::start().await;
    let admin = api.client();
    let codes: Vec<String> = (1..=9).map(|n| format!("C{n:02}")).collect();
    for code in &codes {
        create_client(&admin, code, code).await;
    }
    // Every other client, so that the hidden ones fall between the visible ones.
    let visible: Vec<String> = codes.iter().step_by(2).cloned().collect();
    let scope: Vec<&str> = visible.iter().map(String::as_str).collect();
    let manager = api.client_as(&api.member(Role::Manager, &scope).await);
    for limit in [1, 2, 5] {
        let walked = client_codes(&manager, limit).await;
        assert_eq!(walked, visible, "pages of {limit}");
    }
    let all = client_codes(&admin, 4).await;
    assert_eq!(all, codes, "the admin sees every client");
    // A cursor naming a client the manager cannot see tells it nothing: the page starts after it.
    let page = manager
        .clients_page(&page_query(Some("C02".into()), 1))
        .await
        .unwrap();
    let first: Vec<&str> = page
        .items
        .iter()
        .map(|client| client.code.as_str())
        .collect();
    assert_eq!(first, ["C03"]);
}

#[tokio::test]
async fn walking_the_members_gives_each_once_in_id_order() {
    let api = Api::start().await;
    let admin = api.client();
    create_client(&admin, "ACME", "Acme").await;
    for n in 0..6 {
        let member = new_member(&format!("viewer {n}"), Role::Viewer, &["ACME"]);
        admin.create_member(&member).await.unwrap();
    }
    let mut ids: Vec<String> = admin
        .members()
        .await
        .unwrap()
        .into_iter()
        .map(|member| member.id)
        .collect();
    assert_eq!(ids.len(), 7, "the first admin and six viewers");
    let walked = walk(
        3,
        |cursor| {
            let admin = admin.clone();
            async move { admin.members_page(&page_query(cursor, 3)).await }
        },
        |member| member.id.clone(),
    )
    .await;
    ids.sort();
    assert_eq!(walked, ids);
}

/// A server (not shelfsync) whose every page names itself as the next: the typed client's walk
/// of a whole list stops with an error of the reply instead of asking for ever.
#[actix_web::test]
async fn a_next_cursor_that_does_not_advance_is_an_error_not_a_loop() {
    use actix_web::{web, App, HttpResponse, HttpServer};
    let server = HttpServer::new(|| {
        App::new().route(
            "/v1/members",
            web::get().to(|| async {
                HttpResponse::Ok().json(serde_json::json!({"items": [], "next": "m1"}))
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    let running = server.run();
    let handle = running.handle();
    actix_web::rt::spawn(running);
    let client = ApiClient::new(
        &format!("http://{addr}"),
        "token",
        std::time::Duration::from_secs(5),
    )
    .unwrap();
    let refused = client.members().await.unwrap_err();
    assert!(
        matches!(&refused, ClientError::Reply { error, .. } if error.contains("next cursor")),
        "{refused}"
    );
    handle.stop(true).await;
}
