//! The README's API examples run as written (issue 12): the `sh` block under "Connecting a
//! client's marketplaces" is read from `README.md` and replayed against a live service, so the
//! examples cannot drift from what the service accepts. The block is run by a small interpreter of
//! the shell it uses (variables, quotes, `;`, a `cat > FILE <<'TAG'` here-document) and of curl's
//! options it uses, with curl's own defaults: `-d` without a content type sends
//! `application/x-www-form-urlencoded`, as curl does, which is how the examples once got 415.
//! Anything else in the block fails the test, so an example cannot use what is not replayed.
//!
//! Only what names the outside world is substituted: the API address, the shop's URL, location
//! and inventory item (a mock Shopify on loopback) and the token the mock accepts.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use shelfsync::platforms::Platform;

use crate::api_support::{Api, ADMIN};
use crate::mock_support::{create_listings, eventually, info, listed, start};

/// One piece of a shell word: text, or a variable expanded when the command runs.
#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Var(String),
}

/// A shell token.
#[derive(Debug, Clone)]
enum Token {
    Word(Vec<Piece>),
    Separator,
    Output,
    HereDocument(String),
}

/// Why a line does not tokenize.
#[derive(Debug)]
enum Incomplete {
    /// A quote is still open: the command goes on on the next line.
    OpenQuote,
}

fn push_text(word: &mut Vec<Piece>, c: char) {
    match word.last_mut() {
        Some(Piece::Text(text)) => text.push(c),
        _ => word.push(Piece::Text(c.to_string())),
    }
}

/// Reads `$NAME` or `${NAME}` at `chars` (after the `$`).
fn variable(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    let braced = chars.peek() == Some(&'{');
    if braced {
        chars.next();
    }
    let mut name = String::new();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_alphanumeric() || c == '_' {
            name.push(c);
            chars.next();
        } else {
            break;
        }
    }
    if braced {
        assert_eq!(chars.next(), Some('}'), "unclosed ${{{name}");
    }
    assert!(!name.is_empty(), "a lone $ in the README block");
    name
}

fn tokenize(text: &str) -> Result<Vec<Token>, Incomplete> {
    let mut tokens = Vec::new();
    let mut word: Option<Vec<Piece>> = None;
    let mut chars = text.chars().peekable();
    let finish = |word: &mut Option<Vec<Piece>>, tokens: &mut Vec<Token>| {
        if let Some(pieces) = word.take() {
            tokens.push(Token::Word(pieces));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => finish(&mut word, &mut tokens),
            ';' => {
                finish(&mut word, &mut tokens);
                tokens.push(Token::Separator);
            }
            '>' => {
                finish(&mut word, &mut tokens);
                tokens.push(Token::Output);
            }
            '<' => {
                assert_eq!(chars.next(), Some('<'), "only << is understood");
                finish(&mut word, &mut tokens);
                while chars.peek() == Some(&' ') {
                    chars.next();
                }
                let mut tag = String::new();
                let quoted = chars.peek() == Some(&'\'');
                if quoted {
                    chars.next();
                }
                while let Some(&c) = chars.peek() {
                    if (quoted && c == '\'') || (!quoted && c.is_whitespace()) {
                        break;
                    }
                    tag.push(c);
                    chars.next();
                }
                if quoted {
                    assert_eq!(chars.next(), Some('\''), "unclosed here-document tag");
                }
                tokens.push(Token::HereDocument(tag));
            }
            '\'' => {
                let pieces = word.get_or_insert_with(Vec::new);
                pieces.push(Piece::Text(String::new()));
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => push_text(pieces, c),
                        None => return Err(Incomplete::OpenQuote),
                    }
                }
            }
            '"' => {
                let pieces = word.get_or_insert_with(Vec::new);
                pieces.push(Piece::Text(String::new()));
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('$') => pieces.push(Piece::Var(variable(&mut chars))),
                        Some('\\') => {
                            let next = chars.next().ok_or(Incomplete::OpenQuote)?;
                            push_text(pieces, next);
                        }
                        Some(c) => push_text(pieces, c),
                        None => return Err(Incomplete::OpenQuote),
                    }
                }
            }
            '$' => {
                let name = variable(&mut chars);
                word.get_or_insert_with(Vec::new).push(Piece::Var(name));
            }
            '\\' | '`' | '|' | '&' | '(' | ')' | '*' | '?' => {
                panic!("the README block uses {c:?}, which this test does not replay")
            }
            c => push_text(word.get_or_insert_with(Vec::new), c),
        }
    }
    finish(&mut word, &mut tokens);
    Ok(tokens)
}

fn expand(pieces: &[Piece], vars: &HashMap<String, String>) -> String {
    pieces
        .iter()
        .map(|piece| match piece {
            Piece::Text(text) => text.clone(),
            Piece::Var(name) => vars
                .get(name)
                .unwrap_or_else(|| panic!("${name} is not set in the README block"))
                .clone(),
        })
        .collect()
}

/// A curl call as curl would send it.
#[derive(Debug)]
struct CurlCall {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

/// The curl options the block may use, with curl's semantics.
fn curl(args: &[String], files: &HashMap<String, String>) -> CurlCall {
    let mut method = None;
    let mut url = None;
    let mut headers = Vec::new();
    let mut body: Option<Vec<u8>> = None;
    let mut data = |value: &str, binary: bool| {
        assert!(body.is_none(), "one data option per call is replayed");
        let bytes = match value.strip_prefix('@') {
            Some(file) => {
                let content = files
                    .get(file)
                    .unwrap_or_else(|| panic!("@{file} was not written by the block"))
                    .clone();
                if binary {
                    content.into_bytes()
                } else {
                    // `-d @file` strips carriage returns and newlines.
                    content.replace(['\r', '\n'], "").into_bytes()
                }
            }
            None => value.as_bytes().to_vec(),
        };
        body = Some(bytes);
    };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut value = |name: &str| {
            rest.next()
                .unwrap_or_else(|| panic!("curl {name} needs a value"))
                .clone()
        };
        match arg.as_str() {
            "--data" | "--data-ascii" => data(&value(arg), false),
            "--data-binary" | "--data-raw" => data(&value(arg), true),
            "--header" => headers.push(value(arg)),
            "--request" => method = Some(value(arg)),
            "--silent" | "--show-error" => {}
            long if long.starts_with("--") => panic!("curl {long} is not replayed"),
            short if short.starts_with('-') && short.len() > 1 => {
                let flags: Vec<char> = short[1..].chars().collect();
                for (position, flag) in flags.iter().enumerate() {
                    let attached: String = flags[position + 1..].iter().collect();
                    let mut argument = || {
                        if attached.is_empty() {
                            value(short)
                        } else {
                            attached.clone()
                        }
                    };
                    match flag {
                        's' | 'S' => continue,
                        'H' => headers.push(argument()),
                        'X' => method = Some(argument()),
                        'd' => data(&argument(), false),
                        other => panic!("curl -{other} is not replayed"),
                    }
                    break;
                }
            }
            address => {
                assert!(url.is_none(), "one URL per call");
                url = Some(address.to_string());
            }
        }
    }
    let mut headers: Vec<(String, String)> = headers
        .iter()
        .map(|header| {
            let (name, value) = header.split_once(':').expect("a header is `name: value`");
            (name.trim().to_lowercase(), value.trim().to_string())
        })
        .collect();
    if body.is_some() && !headers.iter().any(|(name, _)| name == "content-type") {
        // curl's default for -d and --data-binary.
        headers.push((
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
    }
    let method = match (method, &body) {
        (Some(method), _) => Method::from_bytes(method.as_bytes()).unwrap(),
        (None, Some(_)) => Method::POST,
        (None, None) => Method::GET,
    };
    CurlCall {
        method,
        url: url.expect("curl without a URL"),
        headers,
        body,
    }
}

/// One simple command of the block: its tokens and, for `cat > FILE <<'TAG'`, the here-document
/// (tag, content).
type Command = (Vec<Token>, Option<(String, String)>);

/// The commands of the block, in order.
fn commands(block: &str) -> Vec<Command> {
    let mut commands = Vec::new();
    let mut lines = block.lines();
    while let Some(first) = lines.next() {
        let mut text = first.to_string();
        let tokens = loop {
            match tokenize(&text) {
                Ok(tokens) => break tokens,
                Err(Incomplete::OpenQuote) => {
                    let next = lines.next().expect("a quote never closes");
                    text.push('\n');
                    text.push_str(next);
                }
            }
        };
        let mut current = Vec::new();
        for token in tokens {
            match token {
                Token::Separator => commands.push((std::mem::take(&mut current), None)),
                Token::HereDocument(tag) => {
                    let mut content = String::new();
                    for line in lines.by_ref() {
                        if line == tag {
                            break;
                        }
                        content.push_str(line);
                        content.push('\n');
                    }
                    commands.push((std::mem::take(&mut current), Some((tag, content))));
                }
                other => current.push(other),
            }
        }
        if !current.is_empty() {
            commands.push((current, None));
        }
    }
    commands.retain(|(tokens, _)| !tokens.is_empty());
    commands
}

/// The `sh` block after `heading` in the README.
fn readme_block(heading: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let after = &readme[readme.find(heading).expect("the heading is in the README")..];
    let start = after
        .find("```sh\n")
        .expect("an sh block follows the heading")
        + 6;
    let end = after[start..].find("\n```").expect("the block ends");
    after[start..start + end].to_string()
}

#[tokio::test]
async fn the_readme_api_examples_run_against_a_live_service() {
    let api = Api::start().await;
    let shopify = start(Platform::Shopify, "default");
    let location = info(&shopify).await["account"]["location_id"]
        .as_str()
        .unwrap()
        .to_string();
    let listing = create_listings(&shopify, &[("ACME-MUG", 1)]).await[0]["listing_ref"]
        .as_str()
        .unwrap()
        .to_string();
    let mut block = readme_block("**Connecting a client's marketplaces.**");
    for (written, replayed) in [
        ("http://127.0.0.1:8080", api.base_url()),
        ("https://acme.myshopify.com", shopify.base_url()),
        ("gid://shopify/Location/1", location),
        ("gid://shopify/InventoryItem/1", listing),
        ("shpat_…", "mock-token".to_string()),
    ] {
        assert!(
            block.contains(written),
            "the README example no longer shows {written}"
        );
        block = block.replace(written, &replayed);
    }
    let mut vars = HashMap::from([("TOKEN".to_string(), ADMIN.to_string())]);
    let mut files: HashMap<String, String> = HashMap::new();
    let http = reqwest::Client::new();
    let mut calls = 0;
    for (tokens, here) in commands(&block) {
        let words: Vec<&Token> = tokens.iter().collect();
        match words.as_slice() {
            [Token::Word(first), rest @ ..] => {
                let first = expand(first, &vars);
                if let (Some((name, value)), true) = (first.split_once('='), rest.is_empty()) {
                    vars.insert(name.to_string(), value.to_string());
                    continue;
                }
                let args: Vec<String> = rest
                    .iter()
                    .filter_map(|token| match token {
                        Token::Word(pieces) => Some(expand(pieces, &vars)),
                        _ => None,
                    })
                    .collect();
                match first.as_str() {
                    "curl" => {
                        let call = curl(&args, &files);
                        let mut request = http.request(call.method.clone(), &call.url);
                        for (name, value) in &call.headers {
                            request = request.header(name, value);
                        }
                        if let Some(body) = call.body {
                            request = request.body(body);
                        }
                        let reply = request.send().await.unwrap();
                        let status = reply.status();
                        let text = reply.text().await.unwrap();
                        assert!(
                            status.is_success(),
                            "{} {} answered {status}: {text}",
                            call.method,
                            call.url
                        );
                        calls += 1;
                    }
                    "cat" => {
                        let [Token::Output, Token::Word(file)] = rest else {
                            panic!("only `cat > FILE <<'TAG'` is replayed")
                        };
                        let (_, content) = here.clone().expect("cat > FILE needs a here-document");
                        files.insert(expand(file, &vars), content);
                    }
                    other => panic!("the README block runs {other:?}, which is not replayed"),
                }
            }
            other => panic!("not a command: {other:?}"),
        }
    }
    assert_eq!(
        calls, 4,
        "the client, its credential, its channel, its catalog"
    );
    // What the example set up works: the shop shows the ledger's 10, less the buffer of 1.
    let synced = eventually(Duration::from_secs(20), || async {
        listed(&shopify).await.get("ACME-MUG") == Some(&9)
    })
    .await;
    assert!(synced, "{:?}", listed(&shopify).await);
}

/// Every path of the README's "Where things are" map exists (a `<platform>` stands for each
/// platform folder), so that the map cannot drift from the tree (issue 13, must-show 1).
#[test]
fn every_path_in_the_where_things_are_map_exists() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme
        .find("## Where things are")
        .expect("the README has a \"Where things are\" section");
    let section = &readme[start..];
    let section = &section[..section[3..]
        .find("\n## ")
        .map_or(section.len(), |end| end + 3)];
    let platforms = ["shopify", "etsy", "amazon", "walmart", "ebay"];
    let mut checked = 0;
    for quoted in section.split('`').skip(1).step_by(2) {
        if !(quoted.starts_with("src/") || quoted.starts_with("actors/")) {
            continue;
        }
        let paths: Vec<String> = if quoted.contains("<platform>") {
            platforms
                .iter()
                .map(|platform| quoted.replace("<platform>", platform))
                .collect()
        } else {
            vec![quoted.to_string()]
        };
        for path in paths {
            assert!(
                root.join(&path).exists(),
                "the README names {path}, which does not exist"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} paths found in the map");
}
