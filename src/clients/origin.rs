//! The destination a credential is bound to: an origin, scheme + host + port (RFC 6454), as a
//! browser scopes what it sends. A host alone would not be enough: on one machine (the mocks of
//! the demo and the tests, or a shared host) a port is another server, and a token bound to
//! `https://acme.myshopify.com` must not travel in clear to `http://acme.myshopify.com`.
//!
//! Written `https://acme.myshopify.com` (the port only when it is not the scheme's default), and
//! accepted at the API as that, as a bare host (`acme.myshopify.com`, meaning https on 443), or as
//! a whole base URL with nothing after the host but `/`.

use std::fmt;

/// Why a text is not an origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a host or an origin like https://acme.myshopify.com (http or https, a host, an optional port, no path, query or user)")]
pub struct OriginError {
    /// The text given.
    pub text: String,
}

/// Where a credential may be sent: scheme, lower-case host (IPv6 in brackets) and port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    https: bool,
    host: String,
    port: u16,
}

impl Origin {
    /// The origin of a base URL (its path is the API's root and does not matter).
    pub fn of_url(url: &reqwest::Url) -> Result<Origin, OriginError> {
        let error = || OriginError {
            text: url.to_string(),
        };
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => return Err(error()),
        };
        let host = match url.host() {
            Some(url::Host::Domain(name)) => name.trim_end_matches('.').to_ascii_lowercase(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
            None => return Err(error()),
        };
        if host.is_empty() {
            return Err(error());
        }
        let port = url.port_or_known_default().ok_or_else(error)?;
        Ok(Origin { https, host, port })
    }

    /// An origin as the API takes it: `https://host[:port]`, `http://host[:port]`, or a bare
    /// `host[:port]` (https).
    pub fn parse(text: &str) -> Result<Origin, OriginError> {
        let error = || OriginError {
            text: text.to_string(),
        };
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed.len() > 300 {
            return Err(error());
        }
        Origin::read(trimmed).map_err(|_| error())
    }

    /// An origin without the API's bound on the text: how a stored one is read back. Its written
    /// form can be longer than the text it was accepted as (a bare host of 300 characters gains
    /// `https://`), and a record that cannot be read back is a damaged store (a 500 on every read
    /// of the client's credentials; schemathesis found it, issue 13).
    fn read(trimmed: &str) -> Result<Origin, OriginError> {
        let error = || OriginError {
            text: trimmed.to_string(),
        };
        let full = if trimmed.contains("://") {
            trimmed.to_string()
        } else {
            format!("https://{trimmed}")
        };
        let url = reqwest::Url::parse(&full).map_err(|_| error())?;
        let bare = matches!(url.path(), "" | "/")
            && url.query().is_none()
            && url.fragment().is_none()
            && url.username().is_empty()
            && url.password().is_none();
        if !bare {
            return Err(error());
        }
        Origin::of_url(&url).map_err(|_| error())
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        let default = if self.https { 443 } else { 80 };
        if self.port == default {
            write!(f, "{scheme}://{}", self.host)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

impl serde::Serialize for Origin {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Origin {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Origin, D::Error> {
        let text = String::deserialize(deserializer)?;
        Origin::read(text.trim()).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_accepted_origin_is_read_back_whatever_its_length() {
        // 5 labels of 55, 4 dots and `.example`: 287 characters; 293 with the port.
        let host = format!("{}.example", vec!["a".repeat(55); 5].join("."));
        let origin = Origin::parse(&format!("{host}:65530")).unwrap();
        let written = serde_json::to_string(&origin).unwrap();
        assert!(written.len() > 300, "{written}");
        assert_eq!(serde_json::from_str::<Origin>(&written).unwrap(), origin);
    }

    #[test]
    fn origins_are_scheme_host_and_port_written_one_way() {
        for (given, written) in [
            ("acme.myshopify.com", "https://acme.myshopify.com"),
            ("ACME.myshopify.com.", "https://acme.myshopify.com"),
            ("https://acme.myshopify.com/", "https://acme.myshopify.com"),
            (
                "https://acme.myshopify.com:443",
                "https://acme.myshopify.com",
            ),
            ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
            ("http://[::1]:80/", "http://[::1]"),
            ("api.etsy.com:8443", "https://api.etsy.com:8443"),
        ] {
            assert_eq!(
                Origin::parse(given).unwrap().to_string(),
                written,
                "{given}"
            );
        }
        for bad in [
            "",
            "ftp://x.com",
            "https://x.com/admin",
            "https://user:pw@x.com",
            "https://x.com/?q=1",
            "https://",
            "not a host",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad:?}");
        }
        assert_ne!(
            Origin::parse("https://shop.example.com").unwrap(),
            Origin::parse("http://shop.example.com").unwrap(),
            "another scheme is another origin"
        );
        assert_ne!(
            Origin::parse("http://127.0.0.1:1000").unwrap(),
            Origin::parse("http://127.0.0.1:1001").unwrap(),
            "another port is another origin"
        );
        let url = reqwest::Url::parse("https://Acme.myshopify.com/admin/api/2026-01").unwrap();
        assert_eq!(
            Origin::of_url(&url).unwrap(),
            Origin::parse("acme.myshopify.com").unwrap()
        );
        let json = serde_json::to_string(&Origin::parse("http://127.0.0.1:9").unwrap()).unwrap();
        assert_eq!(json, "\"http://127.0.0.1:9\"");
        assert_eq!(
            serde_json::from_str::<Origin>(&json).unwrap().to_string(),
            "http://127.0.0.1:9"
        );
    }
}
