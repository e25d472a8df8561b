//! `shelfsync demo` (issue 5, must-show 7): in-process, the demo provisions its clients through
//! the API, orders flow from the mocks' shoppers into the ledgers, the listings end in step with
//! the ledgers and `/metrics` serves the engine's series; as a process, it prints its addresses and
//! token first, shows orders flowing, and exits 0 on SIGINT after its summary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use shelfsync::cli::DemoArgs;

#[test]
fn orders_flow_through_the_service_and_every_listing_ends_in_step() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("demo");
    let args = DemoArgs {
        duration: Some(4),
        clients: 2,
        data_dir: Some(data_dir.clone()),
        seed: 3,
        ..DemoArgs::default()
    };
    let summary = shelfsync::demo::run_demo(args, false).unwrap();

    assert_eq!(
        summary
            .clients
            .iter()
            .map(|client| client.code.as_str())
            .collect::<Vec<_>>(),
        ["ACME", "BOLT"]
    );
    // ACME sells on Shopify, Etsy and Amazon; BOLT on Shopify, Walmart and eBay.
    assert_eq!(summary.channels().count(), 6);
    assert!(summary.orders() > 0, "the shoppers bought: {summary:#?}");
    assert_eq!(
        summary.ledger_orders(),
        summary.orders(),
        "every marketplace order is a sale in its client's ledger: {summary:#?}"
    );
    assert!(summary.ledgers_complete, "{summary:#?}");
    let selling: Vec<&str> = summary
        .channels()
        .filter(|(_, channel)| channel.ledger_orders > 0)
        .map(|(_, channel)| channel.channel.as_str())
        .collect();
    assert!(
        selling.contains(&"shopify") && selling.len() >= 3,
        "sales came from several channels (webhooks and polled feeds): {selling:?}"
    );
    assert!(summary.in_step, "{summary:#?}");
    // The agency's side, live in the view: ACME's hand-made Shopify order (a custom item with no
    // SKU) is an exception to work, and every client's best seller is at its reorder point.
    let acme = &summary.clients[0];
    assert_eq!(
        acme.open_exceptions.get("unapplicable_order"),
        Some(&1),
        "{acme:#?}"
    );
    for client in &summary.clients {
        assert!(client.reorder_alerts >= 1, "{client:#?}");
    }
    for (client, channel) in summary.channels() {
        assert_eq!(channel.listings, 24, "{client}/{}", channel.channel);
        assert_eq!(
            channel.listings_in_step, channel.listings,
            "{client}/{}",
            channel.channel
        );
        assert_eq!(channel.state, "running", "{client}/{}", channel.channel);
    }
    assert!(
        summary.metrics_samples > 0,
        "/metrics served shelfsync_ series while the demo ran"
    );
    // The data directory is the service's: a database and an owner-only vault key.
    assert!(data_dir.join("db").is_dir());
    let key = data_dir.join("master.key");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o077, 0, "the key file is owner-only");
}

#[test]
fn a_data_dir_that_is_not_empty_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("something"), b"kept").unwrap();
    let args = DemoArgs {
        duration: Some(1),
        data_dir: Some(dir.path().to_path_buf()),
        ..DemoArgs::default()
    };
    let error = shelfsync::demo::run_demo(args, false).unwrap_err();
    assert!(error.to_string().contains("not empty"), "{error}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// The command: the first lines name the API, `/metrics` and the admin token; a line a second
/// shows orders flowing; SIGINT stops the shoppers, and after the summary the process exits 0.
#[test]
fn the_command_shows_orders_flowing_and_exits_0_on_sigint() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shelfsync"))
        .args(["demo", "--clients", "1", "--seed", "5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || lines.next().expect("a line").expect("utf-8");
    let api = next();
    let api = api.strip_prefix("api: http://").expect(&api).to_string();
    assert_eq!(next(), format!("metrics: http://{api}/metrics"));
    let token = next();
    assert!(token.starts_with("admin token: ssk_"), "{token}");
    let token = token.strip_prefix("admin token: ").unwrap();
    assert_eq!(
        next(),
        format!("console: http://{api}/signin#token={token}"),
        "the console's one-click sign-in link"
    );
    // The live view, one plain line a second off a terminal; stop once orders reached the ledger.
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut seen = Vec::new();
    loop {
        assert!(
            Instant::now() < deadline,
            "no orders reached the ledger: {seen:#?}"
        );
        let line = next();
        seen.push(line.clone());
        let flowing = line
            .split(" placed, ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|count| count.parse::<u64>().ok())
            .is_some_and(|in_ledger| in_ledger > 0);
        if line.starts_with('[') && flowing {
            break;
        }
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = std::iter::from_fn(|| lines.next().and_then(Result::ok)).collect();
    // The process ends after its summary (its stdout closes); bounded by the settle limit.
    let status = child.wait().unwrap();
    assert!(status.success(), "exit {status:?}; output: {rest:#?}");
    let text = rest.join("\n");
    assert!(text.contains("shoppers stopped"), "{text}");
    assert!(
        text.contains("every order and cancellation recorded exactly once: yes"),
        "{text}"
    );
    assert!(text.contains("listings in step with the ledger"), "{text}");
}
