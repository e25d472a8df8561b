//! `shelfsync mock-marketplace` standalone: the first line names the address, the mock answers
//! there, and SIGTERM stops it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

#[tokio::test]
async fn the_standalone_mock_prints_its_address_first_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shelfsync"))
        .args([
            "mock-marketplace",
            "--platform",
            "walmart",
            "--listen",
            "127.0.0.1:0",
            "--token",
            "t-123",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line {first:?}"))
        .to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
        "{url}"
    );

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let info: Value = http
        .get(format!("{url}/_mock/info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["platform"], "walmart");
    let refused = http
        .get(format!("{url}/v3/inventory?sku=X"))
        .header("WM_SEC.ACCESS_TOKEN", "mock-token")
        .header("WM_QOS.CORRELATION_ID", "c")
        .header("WM_SVC.NAME", "Walmart Marketplace")
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.status(),
        401,
        "only the --token credential is accepted"
    );

    let terminated = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "a SIGTERM stops the mock cleanly: {status:?}"
    );
}

#[test]
fn an_unknown_plan_or_platform_is_a_clear_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_shelfsync"))
        .args([
            "mock-marketplace",
            "--platform",
            "walmart",
            "--plan",
            "gold",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("walmart has no plan \"gold\" (known: default, unlimited)"),
        "{stderr}"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_shelfsync"))
        .args(["mock-marketplace", "--platform", "myspace"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown platform \"myspace\""));
}
