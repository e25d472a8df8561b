//! Where a connector may send a client's credential (issue 12, part "access"; DESIGN §6 "A
//! credential is bound to the host it may be sent to; deployments may restrict base URLs to the
//! platforms' official hosts").
//!
//! A channel's `base_url` is chosen by whoever connects the channel, and the connector sends the
//! client's marketplace token there in the platform's auth header. Without limits a manager could
//! point a channel at its own server (the token arrives there) or at an address inside the
//! agency's network (SSRF: the service becomes a proxy into it). This module holds the
//! deployment's [`EgressPolicy`] and enforces it in three places:
//!
//! - **at channel creation**, [`EgressPolicy::check_url`] (scheme, official host, literal IP) and
//!   [`EgressPolicy::check_resolved`] (every address the host resolves to);
//! - **when a connector is built** (also at every start, so a deployment that tightens its policy
//!   stops the channels it no longer allows), [`EgressPolicy::check_url`] again;
//! - **when a connector connects**, the [`GuardedResolver`] every connector's HTTP client resolves
//!   host names with: a host that resolved to a public address when the channel was created and
//!   to `127.0.0.1` later (DNS rebinding) is refused at the connection, not only at creation.
//!   Literal IPs never reach a resolver, which is why they are checked when the client is built
//!   (the URL cannot change afterwards: connectors follow no redirect).
//!
//! Decisions:
//! - **Plain `http` carries a credential only to addresses that are not public, and only where the
//!   deployment allows private networks** (the mocks on loopback in the demo, the bench and the
//!   tests). Anywhere else `https` is required: a token sent in clear over the internet is a
//!   token given away.
//! - **"Private" is every address that is not globally routable**: loopback, RFC 1918, link-local,
//!   carrier-grade NAT, unique-local IPv6, unspecified, multicast, documentation and reserved
//!   ranges, and IPv6 forms that embed one of those IPv4 addresses (mapped, NAT64). The table is
//!   [`NON_PUBLIC`], from the IANA special-purpose address registries.
//! - **A host that resolves to several addresses is refused if any one is refused**: the
//!   connection may use any of them.
//! - **A host that does not resolve at channel creation is accepted**: a DNS hiccup should not stop
//!   an agency from configuring a channel, and the resolver checks every address the connector
//!   will ever connect to anyway.
//! - **Connectors ignore proxy environment variables**: a proxy resolves names itself, where the
//!   resolver cannot check them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use shelfsync_actors::platform::Platform;

/// How long a channel creation waits for the host's addresses before accepting it unresolved.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Which base URLs a deployment allows (config `security.base_urls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BaseUrls {
    /// Any host that the address rules allow (the default).
    #[default]
    Any,
    /// Only each platform's documented API hosts, over https on port 443 ([`official_host`]).
    Official,
}

impl BaseUrls {
    /// `"any"` or `"official"`.
    pub fn parse(text: &str) -> Option<BaseUrls> {
        match text.trim() {
            "any" => Some(BaseUrls::Any),
            "official" => Some(BaseUrls::Official),
            _ => None,
        }
    }

    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            BaseUrls::Any => "any",
            BaseUrls::Official => "official",
        }
    }
}

/// Where connectors may connect: the deployment's `security.*` settings. The default is the safe
/// one: any public host, nothing private.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EgressPolicy {
    /// Which hosts a base URL may name.
    pub base_urls: BaseUrls,
    /// Whether loopback, private, link-local and unique-local addresses may be connected to.
    pub allow_private_networks: bool,
}

impl EgressPolicy {
    /// Any host, private networks included: for mock marketplaces on loopback (the demo, the
    /// bench, the tests), never a production default.
    pub const LOOPBACK_MOCKS: EgressPolicy = EgressPolicy {
        base_urls: BaseUrls::Any,
        allow_private_networks: true,
    };

    /// Checks what the URL alone tells: http(s), the scheme rule, the official hosts of
    /// `platform` (when given and the deployment is official-only), and a literal IP. Answers the
    /// rule the addresses of a host name must then meet.
    pub fn check_url(
        &self,
        platform: Option<Platform>,
        url: &reqwest::Url,
    ) -> Result<AddressRule, EgressError> {
        let host = match url.host() {
            Some(url::Host::Domain(name)) => Target::Name(name.to_ascii_lowercase()),
            Some(url::Host::Ipv4(ip)) => Target::Ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Target::Ip(IpAddr::V6(ip)),
            None => return Err(EgressError::NotHttp),
        };
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => return Err(EgressError::NotHttp),
        };
        if let (BaseUrls::Official, Some(platform)) = (self.base_urls, platform) {
            let official = https
                && url.port_or_known_default() == Some(443)
                && matches!(&host, Target::Name(name) if official_host(platform, name));
            if !official {
                return Err(EgressError::NotOfficial { platform });
            }
        }
        if !https && !self.allow_private_networks {
            return Err(EgressError::PlainHttp);
        }
        let rule = AddressRule {
            public: https,
            private: self.allow_private_networks,
        };
        if let Target::Ip(ip) = host {
            rule.check(ip)?;
        }
        Ok(rule)
    }

    /// [`EgressPolicy::check_url`], then every address the host resolves to (within
    /// [`RESOLVE_TIMEOUT`]; a host that does not resolve is accepted, see the module's notes).
    pub async fn check_resolved(
        &self,
        platform: Option<Platform>,
        url: &reqwest::Url,
    ) -> Result<(), EgressError> {
        let rule = self.check_url(platform, url)?;
        let Some(url::Host::Domain(name)) = url.host() else {
            return Ok(());
        };
        let port = url.port_or_known_default().unwrap_or(443);
        match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((name, port))).await {
            Ok(Ok(addresses)) => addresses
                .into_iter()
                .try_for_each(|address| rule.check(address.ip())),
            Ok(Err(_)) | Err(_) => {
                tracing::info!(
                    host = name,
                    "a base URL's host does not resolve now; its addresses are checked at connect"
                );
                Ok(())
            }
        }
    }
}

enum Target {
    Name(String),
    Ip(IpAddr),
}

/// Which addresses a connector may connect to, from the policy and the URL's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRule {
    /// Globally routable addresses (https only).
    pub public: bool,
    /// Every other address ([`NON_PUBLIC`]).
    pub private: bool,
}

impl AddressRule {
    /// Refuses an address the rule does not allow.
    pub fn check(&self, ip: IpAddr) -> Result<(), EgressError> {
        let allowed = if is_public(ip) {
            self.public
        } else {
            self.private
        };
        if allowed {
            Ok(())
        } else if is_public(ip) {
            Err(EgressError::PlainHttp)
        } else {
            Err(EgressError::PrivateAddress)
        }
    }
}

/// Why a destination is refused; the messages never name a resolved address (a refusal must not
/// turn the service into a probe of the agency's internal DNS beyond yes or no).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    /// Not an http(s) URL with a host.
    #[error("base_url must be an http or https URL with a host")]
    NotHttp,
    /// Plain http to a public address, or any plain http where private networks are refused.
    #[error("base_url must use https: a credential travels over plain http only to private addresses, and only where the deployment allows private networks (security.allow_private_networks)")]
    PlainHttp,
    /// The host is, or resolves to, an address that is not public, and the deployment refuses
    /// those.
    #[error("base_url's host is, or resolves to, a loopback, private, link-local or otherwise non-public address, which this deployment refuses (security.allow_private_networks = false)")]
    PrivateAddress,
    /// The deployment allows only the platforms' official hosts.
    #[error("this deployment allows only {platform}'s official API hosts over https (security.base_urls = \"official\")")]
    NotOfficial {
        /// The channel's platform.
        platform: Platform,
    },
}

impl EgressError {
    /// The stable code of the error (every variant is the same API answer, `base_url_not_allowed`).
    pub fn kind(&self) -> &'static str {
        "base_url_not_allowed"
    }
}

/// Whether `host` (lower case) is one of `platform`'s documented API hosts: the hosts of its
/// profile (`shelfsync_actors::platform::profile`, each list with its source), so a new platform
/// brings its hosts with its description.
pub fn official_host(platform: Platform, host: &str) -> bool {
    platform.profile().hosts.admit(host)
}

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> IpNet {
    IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix))
}

const fn v6(segments: [u16; 8], prefix: u8) -> IpNet {
    let [a, b, c, d, e, f, g, h] = segments;
    IpNet::V6(Ipv6Net::new_assert(
        Ipv6Addr::new(a, b, c, d, e, f, g, h),
        prefix,
    ))
}

/// Every range that is not globally routable (IANA IPv4 and IPv6 special-purpose address
/// registries; RFC 6890 and its updates). IPv6 forms that embed an IPv4 address (mapped
/// `::ffff:0:0/96`, NAT64 `64:ff9b::/96`) are judged by that address instead, in [`is_public`].
pub const NON_PUBLIC: &[IpNet] = &[
    v4(0, 0, 0, 0, 8),                          // "this network", unspecified
    v4(10, 0, 0, 0, 8),                         // private (RFC 1918)
    v4(100, 64, 0, 0, 10),                      // carrier-grade NAT (RFC 6598)
    v4(127, 0, 0, 0, 8),                        // loopback
    v4(169, 254, 0, 0, 16),                     // link-local (cloud metadata services live here)
    v4(172, 16, 0, 0, 12),                      // private (RFC 1918)
    v4(192, 0, 0, 0, 24),                       // IETF protocol assignments
    v4(192, 0, 2, 0, 24),                       // documentation
    v4(192, 88, 99, 0, 24),                     // 6to4 relay anycast (deprecated)
    v4(192, 168, 0, 0, 16),                     // private (RFC 1918)
    v4(198, 18, 0, 0, 15),                      // benchmarking
    v4(198, 51, 100, 0, 24),                    // documentation
    v4(203, 0, 113, 0, 24),                     // documentation
    v4(224, 0, 0, 0, 4),                        // multicast
    v4(240, 0, 0, 0, 4),                        // reserved, and the broadcast address
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128),          // unspecified
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128),          // loopback
    v6([0x0064, 0xff9b, 1, 0, 0, 0, 0, 0], 48), // local-use IPv4/IPv6 translation
    v6([0x0100, 0, 0, 0, 0, 0, 0, 0], 64),      // discard-only
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),      // IETF protocol assignments (Teredo included)
    v6([0x2001, 0x0db8, 0, 0, 0, 0, 0, 0], 32), // documentation
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16),      // 6to4 (embeds an IPv4 address)
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),      // documentation (RFC 9637)
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),       // unique-local
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),      // link-local
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),      // site-local (deprecated)
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8),       // multicast
];

/// Whether `ip` is globally routable (outside every range of [`NON_PUBLIC`]).
pub fn is_public(ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => match embedded_ipv4(v6) {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    };
    !NON_PUBLIC.iter().any(|range| range.contains(&ip))
}

/// The IPv4 address an IPv6 address stands for: IPv4-mapped (`::ffff:a.b.c.d`), the deprecated
/// IPv4-compatible form (`::a.b.c.d`) and NAT64's well-known prefix (`64:ff9b::a.b.c.d`).
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let segments = ip.segments();
    let low = || {
        Ipv4Addr::new(
            (segments[6] >> 8) as u8,
            segments[6] as u8,
            (segments[7] >> 8) as u8,
            segments[7] as u8,
        )
    };
    match segments {
        [0, 0, 0, 0, 0, 0, _, _] if !matches!(segments[6..], [0, 0] | [0, 1]) => Some(low()),
        [0x0064, 0xff9b, 0, 0, 0, 0, _, _] => Some(low()),
        _ => None,
    }
}

/// The DNS resolver of every connector's HTTP client: resolves with the system's resolver, then
/// refuses the whole name when any address breaks the channel's [`AddressRule`]. This is what
/// makes the private-network rule hold at the moment of each connection, whatever the host
/// resolved to when the channel was created.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    rule: AddressRule,
}

impl GuardedResolver {
    /// A resolver enforcing `rule`.
    pub fn new(rule: AddressRule) -> GuardedResolver {
        GuardedResolver { rule }
    }

    /// The addresses of `name`, all allowed by the rule, or why not.
    pub async fn lookup(&self, name: &str) -> Result<Vec<SocketAddr>, ResolveError> {
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((name, 0))
            .await
            .map_err(ResolveError::Lookup)?
            .collect();
        for address in &addresses {
            self.rule
                .check(address.ip())
                .map_err(ResolveError::Refused)?;
        }
        Ok(addresses)
    }
}

/// Why the guarded resolver gave no address.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The system's resolver failed.
    #[error("the host does not resolve: {0}")]
    Lookup(std::io::Error),
    /// An address the host resolves to is not allowed.
    #[error(transparent)]
    Refused(EgressError),
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = *self;
        Box::pin(async move {
            let addresses = resolver.lookup(name.as_str()).await?;
            let addresses: reqwest::dns::Addrs = Box::new(addresses.into_iter());
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(addresses)
        })
    }
}

/// The resolver for `rule`, as reqwest takes it.
pub fn resolver(rule: AddressRule) -> Arc<GuardedResolver> {
    Arc::new(GuardedResolver::new(rule))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> reqwest::Url {
        reqwest::Url::parse(text).unwrap()
    }

    #[test]
    fn private_loopback_link_local_and_unique_local_addresses_are_not_public() {
        for text in [
            "127.0.0.1",
            "127.9.9.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "::7f00:1",
            "2001:db8::1",
            "ff02::1",
        ] {
            let ip: IpAddr = text.parse().unwrap();
            assert!(!is_public(ip), "{text} is not public");
        }
        for text in [
            "1.1.1.1",
            "23.227.38.65",
            "172.32.0.1",
            "192.169.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            let ip: IpAddr = text.parse().unwrap();
            assert!(is_public(ip), "{text} is public");
        }
    }

    #[test]
    fn the_default_refuses_private_literals_and_plain_http() {
        let policy = EgressPolicy::default();
        for base in [
            "https://127.0.0.1:8443",
            "https://[::1]/",
            "https://10.0.0.5",
            "https://169.254.169.254/latest/meta-data",
            "https://[::ffff:192.168.0.1]",
        ] {
            assert_eq!(
                policy.check_url(None, &url(base)),
                Err(EgressError::PrivateAddress),
                "{base}"
            );
        }
        for base in ["http://acme.example.com", "http://127.0.0.1:8080"] {
            assert_eq!(
                policy.check_url(None, &url(base)),
                Err(EgressError::PlainHttp),
                "{base}"
            );
        }
        assert_eq!(
            policy.check_url(None, &url("https://acme.example.com")),
            Ok(AddressRule {
                public: true,
                private: false
            })
        );
        assert_eq!(
            policy.check_url(None, &url("ftp://acme.example.com")),
            Err(EgressError::NotHttp)
        );
        assert_eq!(
            policy.check_url(None, &url("https://8.8.8.8")).map(|_| ()),
            Ok(())
        );
    }

    #[test]
    fn private_networks_when_allowed_take_plain_http_but_public_hosts_never_do() {
        let policy = EgressPolicy::LOOPBACK_MOCKS;
        assert!(policy.check_url(None, &url("http://127.0.0.1:9")).is_ok());
        assert!(policy.check_url(None, &url("https://10.0.0.5")).is_ok());
        assert_eq!(
            policy.check_url(None, &url("http://8.8.8.8")),
            Err(EgressError::PlainHttp)
        );
        let rule = policy
            .check_url(None, &url("http://mock.internal"))
            .unwrap();
        assert_eq!(
            rule.check("93.184.216.34".parse().unwrap()),
            Err(EgressError::PlainHttp),
            "a name over http must resolve to private addresses only"
        );
        assert!(rule.check("10.0.0.7".parse().unwrap()).is_ok());
    }

    #[test]
    fn official_only_admits_each_platforms_documented_hosts_over_https() {
        let policy = EgressPolicy {
            base_urls: BaseUrls::Official,
            allow_private_networks: false,
        };
        for (platform, base) in [
            (Platform::Shopify, "https://acme-mugs.myshopify.com"),
            (Platform::Shopify, "https://ACME.myshopify.com/"),
            (Platform::Etsy, "https://api.etsy.com"),
            (Platform::Etsy, "https://openapi.etsy.com/"),
            (Platform::Amazon, "https://sellingpartnerapi-eu.amazon.com"),
            (
                Platform::Amazon,
                "https://sandbox.sellingpartnerapi-na.amazon.com",
            ),
            (Platform::Walmart, "https://marketplace.walmartapis.com"),
            (Platform::Walmart, "https://sandbox.walmartapis.com"),
            (Platform::Ebay, "https://api.ebay.com"),
            (Platform::Ebay, "https://api.sandbox.ebay.com"),
        ] {
            assert!(
                policy.check_url(Some(platform), &url(base)).is_ok(),
                "{platform} {base}"
            );
        }
        for (platform, base) in [
            (Platform::Shopify, "https://evil.example.com"),
            (Platform::Shopify, "https://myshopify.com"),
            (Platform::Shopify, "https://a.b.myshopify.com"),
            (Platform::Shopify, "https://acme.myshopify.com.evil.com"),
            (Platform::Shopify, "http://acme.myshopify.com"),
            (Platform::Shopify, "https://acme.myshopify.com:8443"),
            (Platform::Etsy, "https://api.ebay.com"),
            (Platform::Amazon, "https://sellingpartnerapi-xx.amazon.com"),
            (Platform::Walmart, "https://127.0.0.1"),
            (Platform::Ebay, "https://api.ebay.com.attacker.net"),
        ] {
            assert_eq!(
                policy.check_url(Some(platform), &url(base)),
                Err(EgressError::NotOfficial { platform }),
                "{platform} {base}"
            );
        }
        assert!(
            EgressPolicy::default()
                .check_url(Some(Platform::Shopify), &url("https://evil.example.com"))
                .is_ok(),
            "`any` takes any public host"
        );
    }

    #[tokio::test]
    async fn the_resolver_refuses_a_name_that_resolves_to_a_private_address() {
        let refusing = GuardedResolver::new(AddressRule {
            public: true,
            private: false,
        });
        assert!(matches!(
            refusing.lookup("localhost").await,
            Err(ResolveError::Refused(EgressError::PrivateAddress))
        ));
        let allowing = GuardedResolver::new(AddressRule {
            public: false,
            private: true,
        });
        let addresses = allowing.lookup("localhost").await.unwrap();
        assert!(addresses.iter().all(|address| address.ip().is_loopback()));
        assert_eq!(
            EgressPolicy::default()
                .check_resolved(None, &url("https://localhost:1"))
                .await,
            Err(EgressError::PrivateAddress),
            "checked at channel creation too"
        );
    }
}
