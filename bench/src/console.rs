//! `shelfsync-bench console`: how long the operator console's overview takes to render for an
//! agency of many clients (issue 16, must-show 4: 100 clients × 1 000 SKUs under 300 ms).
//!
//! The real service in this process (`serve`'s own wiring, its own API threads), provisioned
//! through the API as an agency would: `--clients` clients, each with a credential, `--channels`
//! Walmart channels and a catalog of `--skus` SKUs listed on every channel. The channels point at
//! a closed loopback port: their pushes fail and back off, so every channel has live state to
//! report (pending listings, failures) without a marketplace's pace in the figure. Then a member
//! signs in to the console and asks for `GET /` `--requests` times, one after another, timing the
//! whole HTTP exchange. The first overview evaluates every client's launch checklist (it reads
//! the catalog and every channel's listings); later ones reuse that for 30 s, as the console does:
//! both figures are printed.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use serde_json::json;

use crate::percentiles::Percentiles;

/// Arguments of `shelfsync-bench console`.
#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// Clients of the agency.
    #[arg(long, default_value_t = 100)]
    pub clients: usize,
    /// SKUs per client, each listed on every channel.
    #[arg(long, default_value_t = 1000)]
    pub skus: usize,
    /// Channels per client.
    #[arg(long, default_value_t = 3)]
    pub channels: usize,
    /// Overviews asked for after the first.
    #[arg(long, default_value_t = 30)]
    pub requests: usize,
}

/// Runs the benchmark and prints its figures.
pub fn run(args: &ConsoleArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=1000).contains(&args.clients) && (1..=10_000).contains(&args.skus),
        "--clients 1 to 1000, --skus 1 to 10000"
    );
    anyhow::ensure!((1..=6).contains(&args.channels), "--channels 1 to 6");
    let dir = tempfile::tempdir()?;
    let (admin, _) = shelfsync::auth::new_token();
    let options = shelfsync::service::ServiceOptions {
        egress: shelfsync::platforms::egress::EgressPolicy::LOOPBACK_MOCKS,
        ..shelfsync::service::ServiceOptions::default()
    };
    let started = shelfsync::serve::start_service(
        dir.path(),
        None,
        Some(admin.expose()),
        shelfsync_actors::storage::DEFAULT_CACHE_BYTES,
        options,
        16 * 1024 * 1024,
        shelfsync::api::server::EdgeLimits::default(),
    )?;
    let server =
        shelfsync::api::server::ApiServer::start("127.0.0.1:0".parse()?, started.state, 2)?;
    let base = server.base_url();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let result = runtime.block_on(measure(args, &base, admin.expose()));
    server.stop();
    result
}

async fn measure(args: &ConsoleArgs, base: &str, admin: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let call = |method: reqwest::Method, path: String| {
        http.request(method, format!("{base}{path}"))
            .bearer_auth(admin)
    };
    let provisioning = Instant::now();
    for n in 0..args.clients {
        let code = format!("C{n:03}");
        ok(call(reqwest::Method::POST, "/v1/clients".into())
            .json(&json!({"code": code, "name": format!("Client {n}")})))
        .await?;
        ok(call(
            reqwest::Method::PUT,
            format!("/v1/clients/{code}/credentials/walmart"),
        )
        .json(&json!({"secret": "s-walmart"})))
        .await?;
        for c in 0..args.channels {
            ok(call(
                reqwest::Method::POST,
                format!("/v1/clients/{code}/channels"),
            )
            .json(&json!({
                "id": format!("walmart{c}"), "platform": "walmart",
                // Nothing listens on port 9: pushes fail and back off (see the module doc).
                "base_url": "http://127.0.0.1:9", "credential": "walmart",
                "account": {"partner_id": "1", "ship_node": "2"},
                "poll_interval_ms": 300_000
            })))
            .await?;
        }
        let mut csv = String::from("sku,on_hand");
        for c in 0..args.channels {
            csv.push_str(&format!(",walmart{c}"));
        }
        csv.push('\n');
        for s in 0..args.skus {
            csv.push_str(&format!("{code}-SKU{s:05},{}", 1 + s % 50));
            for c in 0..args.channels {
                csv.push_str(&format!(",w{c}-{s}"));
            }
            csv.push('\n');
        }
        ok(
            call(reqwest::Method::PUT, format!("/v1/clients/{code}/catalog"))
                .header("content-type", "text/csv")
                .body(csv),
        )
        .await?;
    }
    println!(
        "console: provisioned {} clients × {} SKUs × {} channels in {:.1} s",
        args.clients,
        args.skus,
        args.channels,
        provisioning.elapsed().as_secs_f64()
    );

    // Sign in as a browser does (the double-submit token from the form's cookie).
    let form = http.get(format!("{base}/signin")).send().await?;
    let signin_cookie = cookie_of(&form, "shelfsync_signin")?;
    let page = form.text().await?;
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).context("no csrf in the sign-in form")? + marker.len();
    let csrf = page[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string();
    let signed = http
        .post(format!("{base}/signin"))
        .header("cookie", format!("shelfsync_signin={signin_cookie}"))
        .form(&[("csrf", csrf.as_str()), ("token", admin)])
        .send()
        .await?;
    anyhow::ensure!(
        signed.status().as_u16() == 303,
        "sign-in: {}",
        signed.status()
    );
    let session = cookie_of(&signed, "shelfsync_session")?;

    let overview = || async {
        let sent = Instant::now();
        let reply = http
            .get(format!("{base}/"))
            .header("cookie", format!("shelfsync_session={session}"))
            .send()
            .await?;
        anyhow::ensure!(reply.status().is_success(), "overview: {}", reply.status());
        let body = reply.text().await?;
        let rows = body.matches("<tr data-client=").count();
        Ok::<_, anyhow::Error>((sent.elapsed().as_secs_f64() * 1000.0, rows))
    };
    let (first_ms, rows) = overview().await?;
    anyhow::ensure!(rows == args.clients, "the overview listed {rows} clients");
    let mut times = Vec::with_capacity(args.requests);
    for _ in 0..args.requests {
        let (ms, rows) = overview().await?;
        anyhow::ensure!(rows == args.clients, "the overview listed {rows} clients");
        times.push(ms);
    }
    let figures = Percentiles::of(&times, 0.001);
    println!(
        "console: overview of {} clients: first (evaluating every launch checklist) {:.1} ms; then p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} requests",
        args.clients, first_ms, figures.p50, figures.p99, figures.max, figures.count
    );

    // One client's monthly report, as a page and as a PDF (made on request from its journal,
    // listing history and exception log).
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    for path in [
        format!("/clients/C000/reports/{month}"),
        format!("/clients/C000/reports/{month}/pdf"),
    ] {
        let sent = Instant::now();
        let reply = http
            .get(format!("{base}{path}"))
            .header("cookie", format!("shelfsync_session={session}"))
            .send()
            .await?;
        anyhow::ensure!(reply.status().is_success(), "{path}: {}", reply.status());
        let bytes = reply.bytes().await?.len();
        println!(
            "console: {path} ({} SKUs): {:.1} ms, {bytes} bytes",
            args.skus,
            sent.elapsed().as_secs_f64() * 1000.0
        );
    }
    Ok(())
}

async fn ok(request: reqwest::RequestBuilder) -> anyhow::Result<()> {
    let reply = request.send().await?;
    let status = reply.status();
    if !status.is_success() {
        anyhow::bail!(
            "provisioning: {status}: {}",
            reply.text().await.unwrap_or_default()
        );
    }
    Ok(())
}

fn cookie_of(reply: &reqwest::Response, name: &str) -> anyhow::Result<String> {
    reply
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| {
            let pair = value.split(';').next()?;
            let (key, value) = pair.split_once('=')?;
            (key == name).then(|| value.to_string())
        })
        .with_context(|| format!("no {name} cookie"))
}
