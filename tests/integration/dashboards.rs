//! `dashboards/` against the metrics table (`shelfsync_actors::metrics::ALL`): every metric a panel,
//! a template variable or an alert rule names exists (a histogram also as `_bucket`, `_sum` and
//! `_count`), every label key it matches or groups by is one of that metric's labels, the datasource
//! is the `${datasource}` variable, and the `client`/`channel` variables exist. A typo in a query
//! otherwise only shows as an empty panel, or as an alert that can never fire.
//!
//! `dashboards/verify` checks the same queries against a real Prometheus; this test is the fast,
//! offline part that runs with `cargo test`.
//!
//! The PromQL check is a small tokenizer, not a full parser: it knows selectors, label matchers and
//! `by`/`without`/`on`/`ignoring` clauses, which is all these files use. The alert rules stay YAML
//! (what Prometheus loads and `promtool check rules` checks) and their `expr:` values are read
//! textually (plain scalars and `|`/`>` block scalars) rather than with a YAML crate: the YAML
//! crates for serde are unmaintained, and `verify` reads the rules as Prometheus parsed them.

use std::path::PathBuf;

use serde_json::Value;
use shelfsync_actors::metrics::{label, Metric, MetricKind, ALL};

/// The values `outcome` takes (the doc of `label::OUTCOME`): a matcher on another value would
/// select nothing, forever.
const OUTCOMES: [&str; 5] = ["ok", "throttled", "error", "timeout", "skipped"];

fn dashboards_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dashboards")
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Number(String),
    /// `[...]`, a range or subquery window (its content is not checked).
    Range,
    Punct(String),
}

fn tokenize(expr: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '"' || c == '\'' || c == '`' {
            let mut value = String::new();
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' && c != '`' {
                    i += 1;
                }
                if let Some(&ch) = chars.get(i) {
                    value.push(ch);
                }
                i += 1;
            }
            if i >= chars.len() {
                return Err(format!("unterminated string in {expr}"));
            }
            i += 1;
            tokens.push(Token::Str(value));
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
                i += 1;
            }
            tokens.push(Token::Ident(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            tokens.push(Token::Number(chars[start..i].iter().collect()));
        } else if c == '[' {
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
            if i >= chars.len() {
                return Err(format!("unterminated [ in {expr}"));
            }
            i += 1;
            tokens.push(Token::Range);
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            if ["=~", "!~", "!=", "==", ">=", "<="].contains(&two.as_str()) {
                tokens.push(Token::Punct(two));
                i += 2;
            } else {
                tokens.push(Token::Punct(c.to_string()));
                i += 1;
            }
        }
    }
    Ok(tokens)
}

fn punct(token: Option<&Token>, want: &str) -> bool {
    matches!(token, Some(Token::Punct(p)) if p == want)
}

/// A metric of the table a name refers to, and whether it is a histogram's `_bucket` series.
fn resolve(name: &str) -> Option<(Metric, bool)> {
    if let Some(metric) = ALL.iter().find(|m| m.name == name) {
        return Some((*metric, false));
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if let Some(metric) = ALL
                .iter()
                .find(|m| m.name == base && m.kind == MetricKind::Histogram)
            {
                return Some((*metric, suffix == "_bucket"));
            }
        }
    }
    None
}

fn has_label(metric: &Metric, bucket: bool, key: &str) -> bool {
    metric.labels.contains(&key) || (bucket && key == "le")
}

/// PromQL's keywords that are not grouping clauses (those are `GROUPING`).
const OPERATORS: [&str; 5] = ["bool", "offset", "and", "or", "unless"];

/// The clauses followed by a list of label keys.
const GROUPING: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// Whether the identifier at `index` is a function or aggregation (`rate(`, `sum by (`).
fn is_call(tokens: &[Token], index: usize) -> bool {
    match tokens.get(index + 1) {
        Some(Token::Punct(p)) => p == "(",
        Some(Token::Ident(next)) => next == "by" || next == "without",
        _ => false,
    }
}

/// Checks one PromQL expression; returns every problem found.
fn check_promql(expr: &str) -> Vec<String> {
    let tokens = match tokenize(expr) {
        Ok(tokens) => tokens,
        Err(error) => return vec![error],
    };
    let mut problems = Vec::new();
    // Matching parentheses, both ways.
    let mut partner = vec![None; tokens.len()];
    let mut open = Vec::new();
    for (index, token) in tokens.iter().enumerate() {
        if punct(Some(token), "(") {
            open.push(index);
        } else if punct(Some(token), ")") {
            match open.pop() {
                Some(start) => {
                    partner[start] = Some(index);
                    partner[index] = Some(start);
                }
                None => problems.push(format!("unbalanced ) in {expr}")),
            }
        }
    }
    if !open.is_empty() {
        problems.push(format!("unbalanced ( in {expr}"));
        return problems;
    }
    // Metric references by token position.
    let mut metrics: Vec<(usize, Metric, bool)> = Vec::new();
    let mut index = 0;
    while index < tokens.len() {
        let token = &tokens[index];
        match token {
            Token::Ident(word)
                if GROUPING.contains(&word.as_str()) && punct(tokens.get(index + 1), "(") =>
            {
                // A label list, checked below: skip it.
                index = partner[index + 1].expect("balanced");
            }
            Token::Punct(p) if p == "{" => {
                // A selector: `{` right after a metric name (handled below) never gets here.
                problems.push(format!("a selector without a metric name in {expr}"));
            }
            Token::Ident(name)
                if !GROUPING.contains(&name.as_str())
                    && !OPERATORS.contains(&name.as_str())
                    && !is_call(&tokens, index) =>
            {
                // Not a function or an aggregation, not a keyword: a metric name.
                let resolved = resolve(name);
                match resolved {
                    Some((metric, bucket)) => metrics.push((index, metric, bucket)),
                    None if name.starts_with("shelfsync_") => problems.push(format!(
                        "{name} is not in metrics::ALL (histograms only may add _bucket, _sum, _count)"
                    )),
                    None => problems.push(format!(
                        "{name} is not a shelfsync metric (only metrics::ALL may be used)"
                    )),
                }
                if punct(tokens.get(index + 1), "{") {
                    index += 2;
                    while index < tokens.len() && !punct(tokens.get(index), "}") {
                        match (
                            tokens.get(index),
                            tokens.get(index + 1),
                            tokens.get(index + 2),
                        ) {
                            (
                                Some(Token::Ident(key)),
                                Some(Token::Punct(op)),
                                Some(Token::Str(value)),
                            ) if ["=", "!=", "=~", "!~"].contains(&op.as_str()) => {
                                if let Some((metric, bucket)) = resolved {
                                    if !has_label(&metric, bucket, key) {
                                        problems.push(format!(
                                            "{name} has no label {key} (its labels: {:?})",
                                            metric.labels
                                        ));
                                    }
                                }
                                if key == label::OUTCOME
                                    && ["=", "!="].contains(&op.as_str())
                                    && !OUTCOMES.contains(&value.as_str())
                                {
                                    problems
                                        .push(format!("outcome {value:?} is none of {OUTCOMES:?}"));
                                }
                                index += 3;
                                if punct(tokens.get(index), ",") {
                                    index += 1;
                                }
                            }
                            _ => {
                                problems.push(format!("a label matcher I cannot read in {expr}"));
                                break;
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        index += 1;
    }
    // Grouping clauses: every key must be a label of every metric the clause applies to (a key
    // missing from one operand silently lumps that operand's series together).
    for (index, token) in tokens.iter().enumerate() {
        let Token::Ident(word) = token else { continue };
        if !GROUPING.contains(&word.as_str()) {
            continue;
        }
        if !punct(tokens.get(index + 1), "(") {
            if word.starts_with("group_") {
                continue; // `group_left` without labels
            }
            problems.push(format!("{word} without a label list in {expr}"));
            continue;
        }
        let list_end = partner[index + 1].expect("balanced");
        let keys: Vec<&str> = tokens[index + 2..list_end]
            .iter()
            .filter_map(|token| match token {
                Token::Ident(key) => Some(key.as_str()),
                _ => None,
            })
            .collect();
        let scope = if ["by", "without"].contains(&word.as_str()) {
            if index > 0 && punct(tokens.get(index - 1), ")") {
                // `sum(...) by (...)`
                partner[index - 1].expect("balanced")..index
            } else if punct(tokens.get(list_end + 1), "(") {
                // `sum by (...) (...)`
                list_end + 1..partner[list_end + 1].expect("balanced")
            } else {
                problems.push(format!("{word} (...) applies to nothing in {expr}"));
                continue;
            }
        } else {
            0..tokens.len() // vector matching: both operands, approximated by the whole expression
        };
        let in_scope: Vec<_> = metrics
            .iter()
            .filter(|(position, _, _)| scope.contains(position))
            .collect();
        if in_scope.is_empty() {
            problems.push(format!("{word} (...) over no metric in {expr}"));
        }
        for key in keys {
            for (_, metric, bucket) in &in_scope {
                if !has_label(metric, *bucket, key) {
                    problems.push(format!(
                        "{word} ({key}) over {} which has no label {key} (its labels: {:?})",
                        metric.name, metric.labels
                    ));
                }
            }
        }
    }
    if metrics.is_empty() {
        problems.push(format!("no metric in {expr}"));
    }
    problems
}

/// Checks a Grafana `label_values(SELECTOR, LABEL)` variable query (or a plain PromQL one).
fn check_variable_query(query: &str) -> Vec<String> {
    let trimmed = query.trim();
    let Some(inner) = trimmed
        .strip_prefix("label_values(")
        .and_then(|rest| rest.strip_suffix(')'))
    else {
        return check_promql(trimmed);
    };
    let Some((selector, key)) = inner.rsplit_once(',') else {
        return vec![format!("label_values without a label: {query}")];
    };
    let key = key.trim();
    let mut problems = check_promql(selector);
    let name = selector.split('{').next().unwrap_or("").trim();
    match resolve(name) {
        Some((metric, bucket)) if !has_label(&metric, bucket, key) => problems.push(format!(
            "label_values: {name} has no label {key} (its labels: {:?})",
            metric.labels
        )),
        _ => {}
    }
    problems
}

fn walk<'a>(panels: &'a [Value], out: &mut Vec<&'a Value>) {
    for panel in panels {
        out.push(panel);
        if let Some(children) = panel["panels"].as_array() {
            walk(children, out);
        }
    }
}

fn is_datasource_variable(datasource: &Value) -> bool {
    let uid = datasource["uid"].as_str().or(datasource.as_str());
    matches!(uid, Some("${datasource}") | Some("$datasource"))
}

/// Every problem of a dashboard JSON.
fn check_dashboard(dashboard: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if dashboard["schemaVersion"].as_u64().unwrap_or(0) < 39 {
        problems.push(format!(
            "schemaVersion {} is older than 39",
            dashboard["schemaVersion"]
        ));
    }
    let variables = dashboard["templating"]["list"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let variable = |name: &str| variables.iter().find(|v| v["name"] == name);
    match variable("datasource") {
        Some(v) if v["type"] == "datasource" && v["query"] == "prometheus" => {}
        _ => problems.push("no `datasource` variable of type datasource (prometheus)".into()),
    }
    for name in ["client", "channel"] {
        match variable(name) {
            None => problems.push(format!("no `{name}` variable")),
            Some(v) => {
                if v["type"] != "query" || v["multi"] != true || v["includeAll"] != true {
                    problems.push(format!(
                        "`{name}` must be a query variable with multi and include-all"
                    ));
                }
                if !is_datasource_variable(&v["datasource"]) {
                    problems.push(format!("`{name}` does not query ${{datasource}}"));
                }
            }
        }
    }
    for v in &variables {
        if v["type"] == "query" {
            let query = v["query"]["query"].as_str().or(v["query"].as_str());
            for problem in check_variable_query(query.unwrap_or("")) {
                problems.push(format!("variable {}: {problem}", v["name"]));
            }
        }
    }
    let mut panels = Vec::new();
    walk(
        dashboard["panels"]
            .as_array()
            .map_or(&[][..], Vec::as_slice),
        &mut panels,
    );
    let mut targets = 0;
    for panel in &panels {
        let title = panel["title"].as_str().unwrap_or("?");
        if panel["type"] == "row" {
            continue;
        }
        if !is_datasource_variable(&panel["datasource"]) {
            problems.push(format!(
                "panel {title:?}: datasource is not ${{datasource}}"
            ));
        }
        let panel_targets = panel["targets"].as_array().cloned().unwrap_or_default();
        if panel_targets.is_empty() {
            problems.push(format!("panel {title:?} has no query"));
        }
        for target in panel_targets {
            targets += 1;
            if !is_datasource_variable(&target["datasource"]) {
                problems.push(format!(
                    "panel {title:?}: a target's datasource is not ${{datasource}}"
                ));
            }
            match target["expr"].as_str() {
                Some(expr) => {
                    for problem in check_promql(expr) {
                        problems.push(format!("panel {title:?}: {problem}"));
                    }
                }
                None => problems.push(format!("panel {title:?}: a target without expr")),
            }
        }
    }
    if targets == 0 {
        problems.push("no queries at all".into());
    }
    if !panels
        .iter()
        .any(|p| p["type"] == "row" && p["repeat"] == "client")
    {
        problems.push("no row repeated by `client` (the per-client drill-down)".into());
    }
    problems
}

/// The `expr:` values of a Prometheus rules file: plain one-line scalars and `|`/`>` blocks.
fn rule_exprs(yaml: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut exprs = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let indent = line.len() - line.trim_start().len();
        let Some(value) = line.trim_start().strip_prefix("expr:") else {
            continue;
        };
        let value = value.trim();
        if value.starts_with('|') || value.starts_with('>') {
            let block: Vec<&str> = lines[index + 1..]
                .iter()
                .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
                .map(|l| l.trim())
                .collect();
            exprs.push(block.join("\n").trim().to_string());
        } else {
            let unquoted = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            exprs.push(unquoted.to_string());
        }
    }
    exprs
}

#[test]
fn the_dashboard_uses_only_metrics_and_labels_of_the_table() {
    let path = dashboards_dir().join("shelfsync.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let dashboard: Value = serde_json::from_str(&text).unwrap();
    let problems = check_dashboard(&dashboard);
    assert!(
        problems.is_empty(),
        "{}:\n  {}",
        path.display(),
        problems.join("\n  ")
    );
}

#[test]
fn the_alert_rules_use_only_metrics_and_labels_of_the_table() {
    let path = dashboards_dir().join("alerts.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let exprs = rule_exprs(&text);
    let alerts = text
        .lines()
        .filter(|l| l.trim_start().starts_with("- alert:"))
        .count();
    assert!(alerts >= 5, "only {alerts} alert rules");
    assert_eq!(exprs.len(), alerts, "one expr per alert: {exprs:#?}");
    let problems: Vec<String> = exprs.iter().flat_map(|expr| check_promql(expr)).collect();
    assert!(
        problems.is_empty(),
        "{}:\n  {}",
        path.display(),
        problems.join("\n  ")
    );
    for rule in text.split("- alert:").skip(1) {
        let name = rule.split_whitespace().next().unwrap_or("?");
        for needed in ["severity:", "summary:", "description:"] {
            assert!(rule.contains(needed), "{name} has no {needed}");
        }
    }
}

#[test]
fn the_scrape_config_loads_the_rules_and_scrapes_shelfsync() {
    let text = std::fs::read_to_string(dashboards_dir().join("prometheus.yml")).unwrap();
    for needed in [
        "job_name: shelfsync",
        "127.0.0.1:8080",
        "alerts.yml",
        "/metrics",
    ] {
        assert!(text.contains(needed), "prometheus.yml lacks {needed}");
    }
}

/// The checks catch what they are for (a check that passes everything proves nothing).
#[test]
fn the_checks_catch_typos_and_wrong_labels() {
    let ok = [
        r#"sum by (client, channel) (shelfsync_channel_exposure_units{client=~"$client"})"#,
        "histogram_quantile(0.99, sum by (platform, le) (rate(shelfsync_sync_lag_seconds_bucket[$__rate_interval])))",
        r#"sum(rate(shelfsync_marketplace_requests_total{outcome="throttled"}[5m])) by (platform)"#,
        "shelfsync_ledger_commit_seconds_sum / shelfsync_ledger_commit_seconds_count",
    ];
    for expr in ok {
        assert_eq!(check_promql(expr), Vec::<String>::new(), "{expr}");
    }
    let bad = [
        ("shelfsync_channel_exposure_unit", "not in metrics::ALL"),
        ("up", "not a shelfsync metric"),
        (
            "rate(shelfsync_oversold_units_total_bucket[5m])",
            "not in metrics::ALL",
        ),
        (
            r#"shelfsync_sync_lag_seconds_count{client="ACME"}"#,
            "no label client",
        ),
        (
            "sum by (client) (shelfsync_sync_lag_seconds_count)",
            "no label client",
        ),
        (
            "sum by (le) (shelfsync_sync_lag_seconds_count)",
            "no label le",
        ),
        (
            "sum(shelfsync_actor_restarts_total) by (channel)",
            "no label channel",
        ),
        (
            "shelfsync_oversold_units_total or on (platform) shelfsync_orders_ingested_total",
            "no label platform",
        ),
        (
            r#"shelfsync_marketplace_requests_total{outcome="throtled"}"#,
            "outcome \"throtled\"",
        ),
        (
            r#"{__name__="shelfsync_channel_exposure_units"}"#,
            "without a metric name",
        ),
    ];
    for (expr, expected) in bad {
        let problems = check_promql(expr);
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{expr}: expected {expected:?}, got {problems:?}"
        );
    }
    assert!(
        check_variable_query("label_values(shelfsync_sync_lag_seconds_count, client)")
            .iter()
            .any(|p| p.contains("no label client"))
    );

    let mut dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(dashboards_dir().join("shelfsync.json")).unwrap(),
    )
    .unwrap();
    dashboard["panels"][1]["datasource"] =
        serde_json::json!({"type": "prometheus", "uid": "abc123"});
    dashboard["templating"]["list"]
        .as_array_mut()
        .unwrap()
        .retain(|v| v["name"] != "channel");
    let problems = check_dashboard(&dashboard);
    assert!(
        problems.iter().any(|p| p.contains("datasource is not")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("no `channel` variable")),
        "{problems:?}"
    );

    let exprs = rule_exprs("      - alert: A\n        expr: |\n          a\n          or b\n        for: 5m\n      - alert: B\n        expr: \"c > 0\"\n");
    assert_eq!(exprs, ["a\nor b", "c > 0"]);
}

/// `GET /metrics` serves the installed recorder's text without a token, as Prometheus scrapes it.
#[tokio::test]
async fn the_metrics_route_serves_prometheus_text_without_a_token() {
    use shelfsync_actors::metrics::ACTOR_RESTARTS_TOTAL;

    shelfsync::telemetry::install().unwrap();
    ::metrics::counter!(ACTOR_RESTARTS_TOTAL.name, label::ACTOR => "channel", label::REASON => "died")
        .increment(1);
    let api = crate::api_support::Api::start().await;
    let reply = reqwest::get(format!("{}/metrics", api.base_url()))
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let content_type = reply.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = reply.text().await.unwrap();
    assert!(
        text.contains(&format!(
            "# HELP {} {}\n",
            ACTOR_RESTARTS_TOTAL.name, ACTOR_RESTARTS_TOTAL.help
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("# TYPE {} counter\n", ACTOR_RESTARTS_TOTAL.name)),
        "{text}"
    );
}
