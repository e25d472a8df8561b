//! The operator console through HTTP (issue 16): sign-in with a member's token into an
//! `HttpOnly`, `SameSite=Strict` session cookie, a Content-Security-Policy on every page, the
//! overview's figures equal to the API's, an exception resolved from the client page (with the
//! session's CSRF token) gone from the open list and recorded with its member, a forged post and
//! a viewer's post refused with nothing changed, another team's client a 404, sign-out ending
//! the session. (The same stories in a real browser are `.ci/browser`.)

use reqwest::header::{HeaderMap, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use shelfsync::auth::Role;

use crate::api_support::{Api, ADMIN};
use crate::api_webhooks::{acme, deliver, get, order};

/// A browser without a cookie jar of its own: the test carries the cookies it was given.
struct Browser {
    http: Client,
    base: String,
    cookies: Vec<(String, String)>,
}

impl Browser {
    fn new(api: &Api) -> Browser {
        Browser {
            http: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: api.base_url(),
            cookies: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Keeps the cookies a reply sets (a removal drops it) and answers the raw `Set-Cookie`s.
    fn take_cookies(&mut self, reply: &Response) -> Vec<String> {
        let mut raw = Vec::new();
        for value in reply.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap().to_string();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(kept, _)| kept != name);
            if !value.is_empty() {
                self.cookies.push((name.to_string(), value.to_string()));
            }
            raw.push(text);
        }
        raw
    }

    async fn get(&mut self, path: &str) -> (StatusCode, String, HeaderMap) {
        let reply = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.take_cookies(&reply);
        let status = reply.status();
        let headers = reply.headers().clone();
        (status, reply.text().await.unwrap(), headers)
    }

    async fn post(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, String, Vec<String>, Option<String>) {
        let reply = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        let set = self.take_cookies(&reply);
        let status = reply.status();
        let location = reply
            .headers()
            .get(LOCATION)
            .map(|value| value.to_str().unwrap().to_string());
        (status, reply.text().await.unwrap(), set, location)
    }

    /// Signs in with `token`; answers the `Set-Cookie` of the session.
    async fn sign_in(&mut self, token: &str) -> String {
        let (status, page, _) = self.get("/signin").await;
        assert_eq!(status, 200);
        let csrf = hidden(&page, "csrf");
        let (status, _, set, location) = self
            .post("/signin", &[("csrf", &csrf), ("token", token)])
            .await;
        assert_eq!((status.as_u16(), location.as_deref()), (303, Some("/")));
        set.into_iter()
            .find(|cookie| cookie.starts_with("shelfsync_session="))
            .unwrap()
    }
}

/// The value of the first hidden input `name` of a page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    page[start..].split('"').next().unwrap().to_string()
}

/// ACME's unresolved exceptions, as the API shows them.
async fn open_exceptions(api: &Api) -> Vec<Value> {
    get(api, "/v1/clients/ACME/exceptions?state=unresolved").await["exceptions"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_member_signs_in_works_an_exception_and_signs_out_and_nothing_else_gets_through() {
    let api = Api::start().await;
    acme(&api).await;
    // ACME-CAP has 4: a sale of 6 oversells 2; a line of 0 units cannot be applied.
    assert_eq!(
        deliver(
            &api,
            &order(7001, json!([{"sku": "ACME-CAP", "quantity": 6}])),
            "c-1"
        )
        .await
        .0,
        200
    );
    assert_eq!(
        deliver(
            &api,
            &order(7002, json!([{"sku": "ACME-CAP", "quantity": 0}])),
            "c-2"
        )
        .await
        .0,
        200
    );
    let before = open_exceptions(&api).await;
    assert_eq!(before.len(), 2);

    // Not signed in: every page sends to the sign-in form.
    let mut browser = Browser::new(&api);
    let (status, _, headers) = browser.get("/").await;
    assert_eq!(
        (
            status.as_u16(),
            headers.get(LOCATION).unwrap().to_str().unwrap()
        ),
        (303, "/signin")
    );
    let (status, page, headers) = browser.get("/signin").await;
    assert_eq!(status, 200);
    let csp = headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("script-src 'self'")
            && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    // A wrong token, and a form whose token is not the cookie's, start nothing.
    let csrf = hidden(&page, "csrf");
    let (status, _, set, _) = browser
        .post("/signin", &[("csrf", &csrf), ("token", "ssk_wrong")])
        .await;
    assert_eq!(status, 401);
    assert!(!set
        .iter()
        .any(|cookie| cookie.starts_with("shelfsync_session=")));
    let (status, _, set, _) = browser
        .post("/signin", &[("csrf", "forged"), ("token", ADMIN)])
        .await;
    assert_eq!(status, 401);
    assert!(!set
        .iter()
        .any(|cookie| cookie.starts_with("shelfsync_session=")));

    let session = browser.sign_in(ADMIN).await;
    let lower = session.to_lowercase();
    assert!(
        lower.contains("httponly") && lower.contains("samesite=strict") && lower.contains("path=/"),
        "{session}"
    );
    assert!(!session.contains(ADMIN), "the token is never the cookie");

    // The overview: ACME with the API's figures.
    let (status, overview, _) = browser.get("/").await;
    assert_eq!(status, 200);
    assert!(overview.contains("data-client=\"ACME\""), "{overview}");
    let exceptions_cell = format!("data-field=\"exceptions\">{}<", before.len());
    assert!(overview.contains(&exceptions_cell), "{overview}");
    assert!(
        !overview.contains("http://") && !overview.contains("https://"),
        "nothing from elsewhere: {overview}"
    );
    let (status, rows, _) = browser.get("/console/rows?sort=exceptions").await;
    assert_eq!(status, 200);
    assert!(rows.starts_with("<tr"), "{rows}");

    // The client page lists both, with the forms to work them.
    let (status, page, _) = browser.get("/clients/ACME").await;
    assert_eq!(status, 200);
    let oversold = before.iter().find(|e| e["kind"] == "oversold").unwrap()["id"]
        .as_u64()
        .unwrap();
    assert!(
        page.contains(&format!("data-exception=\"{oversold}\"")),
        "{page}"
    );
    assert!(page.contains("class=\"work\""), "an admin may work them");
    let csrf = hidden(&page, "csrf");
    let path = format!("/clients/ACME/exceptions/{oversold}");

    // A forged post (no token, another token) is refused and changes nothing.
    let (status, _, _, _) = browser
        .post(&path, &[("action", "resolve"), ("resolution", "fixed")])
        .await;
    assert_eq!(status, 400);
    let (status, _, _, _) = browser
        .post(
            &path,
            &[
                ("csrf", "0000"),
                ("action", "resolve"),
                ("resolution", "fixed"),
            ],
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(open_exceptions(&api).await, before);

    // Resolved from the page: gone from the open list, with who and why.
    let (status, _, _, location) = browser
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("action", "resolve"),
                ("resolution", "order_cancelled"),
                ("note", "refunded the buyer"),
            ],
        )
        .await;
    assert_eq!(
        (status.as_u16(), location.as_deref()),
        (303, Some("/clients/ACME"))
    );
    let after = open_exceptions(&api).await;
    assert_eq!(after.len(), 1);
    assert!(after.iter().all(|e| e["id"] != oversold));
    let resolved =
        get(&api, "/v1/clients/ACME/exceptions?state=resolved").await["exceptions"][0].clone();
    assert_eq!(
        (
            resolved["resolution"].as_str(),
            resolved["trail"][0]["note"].as_str()
        ),
        (Some("order_cancelled"), Some("refunded the buyer"))
    );
    let (_, page, _) = browser.get("/clients/ACME").await;
    assert!(!page.contains(&format!("data-exception=\"{oversold}\"")));

    // A viewer sees no write control, and the server refuses their post with their own token.
    let viewer_token = api.member(Role::Viewer, &["ACME"]).await;
    let mut viewer = Browser::new(&api);
    viewer.sign_in(&viewer_token).await;
    let (status, page, _) = viewer.get("/clients/ACME").await;
    assert_eq!(status, 200);
    assert!(
        !page.contains("class=\"work\"") && !page.contains("<select"),
        "{page}"
    );
    let viewer_csrf = hidden(&page, "csrf");
    let other = after[0]["id"].as_u64().unwrap();
    let (status, _, _, _) = viewer
        .post(
            &format!("/clients/ACME/exceptions/{other}"),
            &[("csrf", &viewer_csrf), ("action", "acknowledge")],
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(open_exceptions(&api).await, after);

    // A SKU's page: its timeline, and for an instant each channel's "why" (these channels'
    // marketplaces never confirmed a push: nothing recorded, as the API's explain says).
    let instant = shelfsync::timestamp::rfc3339(chrono::Utc::now());
    let (status, page, _) = browser
        .get(&format!("/clients/ACME/skus/ACME-CAP?at={instant}"))
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("<svg") && page.contains("data-series=\"available\""),
        "{page}"
    );
    assert!(page.contains("data-channel=\"shop\""), "{page}");
    let explained = get(
        &api,
        &format!("/v1/clients/ACME/channels/shop/listings/ACME-CAP/explain?at={instant}"),
    )
    .await;
    assert!(explained["shown"].is_null(), "{explained}");
    assert!(page.contains("nothing recorded"), "{page}");
    let (status, _, _) = browser
        .get("/clients/ACME/skus/ACME-CAP?at=yesterday")
        .await;
    assert_eq!(status, 400);
    let (status, _, _) = browser.get("/clients/ACME/skus/ACME-NOPE").await;
    assert_eq!(status, 404);

    // Checklists on the client page: a manual item ticked with the session's token.
    let (_, page, _) = browser.get("/clients/ACME").await;
    assert!(page.contains("data-item=\"client_signed_off\""), "{page}");
    let (status, _, _, location) = browser
        .post(
            "/clients/ACME/checklists/launch/items/client_signed_off",
            &[("csrf", &csrf), ("done", "true")],
        )
        .await;
    assert_eq!(
        (status.as_u16(), location.as_deref()),
        (303, Some("/clients/ACME"))
    );
    let launch = get(&api, "/v1/clients/ACME/checklists/launch").await;
    let signed = launch["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["key"] == "client_signed_off")
        .unwrap()
        .clone();
    assert_eq!(signed["state"], "done", "{signed}");
    let (status, _, _, _) = browser
        .post(
            "/clients/ACME/checklists/launch/items/catalog",
            &[("csrf", &csrf), ("done", "true")],
        )
        .await;
    assert_eq!(status, 409, "a computed item is the service's");

    // Another team's manager: ACME does not exist for them.
    crate::api_support::create_client(&api.client(), "ZETA", "Zeta").await;
    let zeta = api.member(Role::Manager, &["ZETA"]).await;
    let mut outsider = Browser::new(&api);
    outsider.sign_in(&zeta).await;
    let (status, _, _) = outsider.get("/clients/ACME").await;
    assert_eq!(status, 404);
    let (_, overview, _) = outsider.get("/").await;
    assert!(
        !overview.contains("ACME") && overview.contains("data-client=\"ZETA\""),
        "{overview}"
    );

    // The audit log names the member who resolved it.
    let audit = get(&api, "/v1/clients/ACME/audit?limit=1000").await;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|entry| entry["action"] == "transition_exception" && entry["member"].is_string()),
        "{audit}"
    );

    // Sign-out needs the session's token, then ends the session for good.
    let (status, _, _, _) = browser.post("/signout", &[("csrf", "forged")]).await;
    assert_eq!(status, 403);
    let kept = browser.cookies.clone();
    let (status, _, _, location) = browser.post("/signout", &[("csrf", &csrf)]).await;
    assert_eq!(
        (status.as_u16(), location.as_deref()),
        (303, Some("/signin"))
    );
    browser.cookies = kept;
    let (status, _, _) = browser.get("/").await;
    assert_eq!(status, 303, "the old cookie no longer signs in");
}

#[tokio::test]
async fn the_console_serves_its_own_assets_and_nothing_else_under_its_paths() {
    let api = Api::start().await;
    let mut browser = Browser::new(&api);
    let (status, script, headers) = browser.get("/console/assets/console.js").await;
    assert_eq!(status, 200);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(
        !script.contains("http://") && !script.contains("https://"),
        "no request leaves the origin"
    );
    let (status, _, _) = browser.get("/console/assets/../../etc/passwd").await;
    assert_eq!(status, 404);
    let (status, _, _) = browser.get("/console/assets/secrets.txt").await;
    assert_eq!(status, 404);
    // The API's own routes are unchanged.
    let (status, _, _) = browser.get("/healthz").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_client_page_pages_its_stock_assigns_work_and_serves_the_monthly_report() {
    let api = Api::start().await;
    acme(&api).await;
    // ACME-CAP has 4: a sale of 6 oversells 2.
    let sale = order(7101, json!([{"sku": "ACME-CAP", "quantity": 6}]));
    assert_eq!(deliver(&api, &sale, "r-1").await.0, 200);
    let exception = open_exceptions(&api).await[0]["id"].as_u64().unwrap();
    let manager = api.member(Role::Manager, &["ACME"]).await;
    let viewer = api.member(Role::Viewer, &["ACME"]).await;

    let mut browser = Browser::new(&api);
    browser.sign_in(ADMIN).await;
    // The stock table: each SKU with every channel's target / listed, and a search by prefix.
    let (status, page, _) = browser.get("/clients/ACME").await;
    assert_eq!(status, 200);
    assert!(page.contains("<table id=\"stock\">"), "{page}");
    assert!(page.contains("data-sku=\"ACME-CAP\"") && page.contains("data-sku=\"ACME-MUG\""));
    assert!(page.contains("shop2 target / listed"), "{page}");
    // The channels: the shop's signed order webhook is its last notification; shop2 has none.
    let row = |id: &str| {
        let start = page.find(&format!("<tr data-channel=\"{id}\">")).unwrap();
        page[start..start + page[start..].find("</tr>").unwrap()].to_string()
    };
    // The fifth cell: last notification.
    let notified = |id: &str| {
        let row = row(id);
        let cell = row.split("<td>").nth(4).unwrap_or_default().to_string();
        cell.split("</td>").next().unwrap_or_default().to_string()
    };
    assert!(
        chrono::DateTime::parse_from_rfc3339(&notified("shop")).is_ok(),
        "{}",
        row("shop")
    );
    assert_eq!(notified("shop2"), "–", "{}", row("shop2"));
    let (_, found, _) = browser.get("/clients/ACME?q=acme-m").await;
    assert!(found.contains("data-sku=\"ACME-MUG\"") && !found.contains("data-sku=\"ACME-CAP\""));

    // Assign the oversell to the manager from the page.
    let csrf = hidden(&page, "csrf");
    let members = get(&api, "/v1/members").await;
    let manager_id = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|member| member["role"] == "manager")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        page.contains(&format!("<option value=\"{manager_id}\"")),
        "the manager is offered"
    );
    let path = format!("/clients/ACME/exceptions/{exception}");
    let (status, _, _, location) = browser
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("action", "assign"),
                ("assignee", &manager_id),
                ("resolution", "fixed"),
            ],
        )
        .await;
    assert_eq!(
        (status.as_u16(), location.as_deref()),
        (303, Some("/clients/ACME"))
    );
    let assigned = open_exceptions(&api).await;
    let assigned = assigned.iter().find(|e| e["id"] == exception).unwrap();
    assert_eq!(
        (assigned["assignee"].as_str(), assigned["state"].as_str()),
        (Some(manager_id.as_str()), Some("acknowledged"))
    );
    let (status, _, _, _) = browser
        .post(
            &path,
            &[("csrf", &csrf), ("action", "assign"), ("assignee", "")],
        )
        .await;
    assert_eq!(status, 400);
    drop(manager);

    // The month's report: a page with its charts, the PDF with the same totals, the API's
    // figures; a month not begun is refused.
    let month = shelfsync::report::Month::of(chrono::Utc::now()).to_string();
    let report = api.client().monthly_report("ACME", &month).await.unwrap();
    assert_eq!((report.sales.units, report.oversells.units), (6, 2));
    assert!(
        page.contains(&format!("/clients/ACME/reports/{month}")),
        "the client page links it"
    );
    let (status, html, headers) = browser.get(&format!("/clients/ACME/reports/{month}")).await;
    assert_eq!(status, 200, "{html}");
    assert!(headers.contains_key("content-security-policy"));
    assert!(html.matches("<svg").count() >= 3, "its charts: {html}");
    assert!(
        html.contains("<tr data-label=\"Units sold\"><th>Units sold</th><td>6</td></tr>"),
        "{html}"
    );
    let reply = browser
        .http
        .get(format!("{}/clients/ACME/reports/{month}/pdf", browser.base))
        .header(COOKIE, browser.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["content-type"], "application/pdf");
    let pdf = reply.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(String::from_utf8_lossy(&pdf).contains("(Units sold: 6) Tj"));
    let (status, _, _) = browser.get("/clients/ACME/reports/9999-12").await;
    assert_eq!(status, 400);
    let (status, _, _) = browser.get("/clients/ACME/reports/2026-13").await;
    assert_eq!(status, 400);
    let (status, _, _) = browser.get("/clients/NOPE/reports/2026-11").await;
    assert_eq!(status, 404);

    // A viewer reads the report, and is offered nobody to assign to and no form.
    let mut viewing = Browser::new(&api);
    viewing.sign_in(&viewer).await;
    let (status, _, _) = viewing.get(&format!("/clients/ACME/reports/{month}")).await;
    assert_eq!(status, 200);
    let (_, page, _) = viewing.get("/clients/ACME").await;
    assert!(!page.contains("name=\"assignee\""), "{page}");
}
