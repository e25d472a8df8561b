//! A client's channels in the running service: adding one (validated, its credentials bound to
//! its origin, stored, started), a credential change reaching the channels that use it, the
//! connector each is built with (through the platforms' registry), its catalog mapping, and the
//! questions the API asks a ChannelActor. Split from `service/mod.rs`, which keeps the engine's
//! start and stop, the clients and the ledger calls.

use std::time::Duration;

use actix::prelude::*;
use serde_json::Value;
use shelfsync_actors::channel::marketplace::ListedQuantity;
use shelfsync_actors::channel::messages::{AdoptListed, ChannelState, GetListings, ListingView};
use shelfsync_actors::channel::{ChannelActor, ChannelConfig};
use shelfsync_actors::ids::{ChannelId, ClientCode, Sku};
use shelfsync_actors::ratelimit::{AppId, OverrideTarget};
use shelfsync_actors::tenant::messages::{AddChannel, GetChannel, RemoveChannel};
use shelfsync_actors::tenant::{ChannelSpec, TenantError};

use super::{NewChannel, Service, ServiceError};
use crate::clients::channels::ChannelRecord;
use crate::clients::origin::Origin;
use crate::clients::ClientStoreError;
use crate::platforms::connector::{ConnectorConfig, ConnectorError, ListingMap};
use crate::platforms::registry::{connector, receiver};
use crate::vault::Secret;

impl Service {
    /// Validates a new channel completely (connector settings, credentials, policy, limits, the
    /// deployment's egress policy on its base URL and on the addresses its host resolves to, and
    /// the host bindings of its credentials), then binds the credentials it uses first to its
    /// origin, stores it and starts it. Nothing is stored when it is refused; a credential bound
    /// to another origin is refused with `credential_host_mismatch` (re-supply the secret with
    /// `hosts` to use it there). The webhook secret comes with the request, so it is (re)bound to
    /// this channel's origin.
    pub async fn add_channel(
        &self,
        client: &ClientCode,
        record: NewChannel,
        webhook_secret: Option<Secret>,
    ) -> Result<(), ServiceError> {
        record
            .policy
            .validate()
            .map_err(|error| ServiceError::Invalid(format!("policy: {error}")))?;
        record
            .rate_limit
            .resolve(record.platform, OverrideTarget::Channel)
            .map_err(|error| ServiceError::Invalid(format!("rate_limit: {error}")))?;
        if self.channels.get(client, &record.id)?.is_some() {
            return Err(ClientStoreError::Exists(format!("channel {}", record.id)).into());
        }
        self.check_connector_settings(&record)?;
        let spec = self.channel_spec(client, &record)?;
        let supervisor = self.supervisor(client)?;
        let url =
            reqwest::Url::parse(&record.base_url).map_err(|_| ConnectorError::BadBaseUrl {
                url: record.base_url.clone(),
            })?;
        self.options
            .egress
            .check_resolved(Some(record.platform), &url)
            .await
            .map_err(ConnectorError::from)?;
        let origin = record.origin().map_err(|_| ConnectorError::BadBaseUrl {
            url: record.base_url.clone(),
        })?;
        if record.webhook_credential.is_some() != webhook_secret.is_some() {
            return Err(ServiceError::Invalid(
                "a webhook credential needs its secret".into(),
            ));
        }
        let mut bound = record.sent_credentials();
        if let Some(name) = &record.webhook_credential {
            bound.remove(name);
        }
        // One transaction: a credential bound elsewhere refuses the channel and binds nothing.
        self.clients.bind(client, &bound, &origin)?;
        if let (Some(name), Some(secret)) = (&record.webhook_credential, webhook_secret) {
            let mut hosts = self.origins_using(client, name)?;
            hosts.insert(origin);
            self.clients.put_credential(
                &self.vault,
                client,
                name,
                &secret,
                None,
                Some(hosts),
                self.now(),
            )?;
        }
        self.channels.create(client, &record)?;
        match self.ask(&supervisor, AddChannel { spec }).await? {
            Ok(()) => Ok(()),
            Err(error) => {
                tracing::error!(client = %client, channel = %record.id, %error, "a validated channel was refused by the engine");
                Err(error.into())
            }
        }
    }

    /// Reconnects every channel of `client` whose connector uses credential `name` (its main
    /// credential or an account `*_credential`), so that a rotated secret is used at once rather
    /// than at the next restart. A channel is replaced by a new generation that recovers from the
    /// ledger. Webhook secrets are read per delivery and need nothing. Returns the channels
    /// reconnected.
    pub async fn credential_changed(
        &self,
        client: &ClientCode,
        name: &str,
    ) -> Result<Vec<ChannelId>, ServiceError> {
        let Ok(supervisor) = self.supervisor(client) else {
            return Ok(Vec::new());
        };
        let mut reconnected = Vec::new();
        for record in self.channels.list(client)? {
            let uses = record.credential == name
                || record.account.as_object().is_some_and(|account| {
                    account.iter().any(|(key, value)| {
                        key.ends_with("_credential") && value.as_str() == Some(name)
                    })
                });
            if !uses {
                continue;
            }
            let spec = self.channel_spec(client, &record)?;
            let remove = RemoveChannel {
                channel: record.id.clone(),
            };
            match self.ask(&supervisor, remove).await? {
                Ok(()) | Err(TenantError::UnknownChannel(_)) => {}
                Err(error) => return Err(error.into()),
            }
            self.ask(&supervisor, AddChannel { spec }).await??;
            reconnected.push(record.id);
        }
        Ok(reconnected)
    }

    /// Checks a channel's connector settings (base URL, egress policy, the account ids its
    /// platform needs) with stand-in secrets, before any real one is opened: what is wrong with
    /// the settings is said first, and a secret is opened only for a channel that could use it.
    fn check_connector_settings(&self, record: &ChannelRecord) -> Result<(), ServiceError> {
        let mut account = record.account.clone();
        if let Value::Object(fields) = &mut account {
            let named: Vec<(String, String)> = fields
                .keys()
                .filter_map(|key| Some((key.clone(), key.strip_suffix("_credential")?.to_string())))
                .collect();
            for (key, name) in named {
                fields.remove(&key);
                fields.insert(name, Value::String("stand-in".into()));
            }
        }
        let config = ConnectorConfig::new(
            &record.base_url,
            Secret::new("stand-in"),
            account,
            ListingMap::default(),
        )?
        .with_egress(self.options.egress);
        connector(record.platform, config)?;
        Ok(())
    }

    /// Builds the engine's spec of a stored channel: its connector with credentials opened in
    /// memory (only for the channel's origin, see `ClientStore::secret_for`) under the
    /// deployment's egress policy, and the catalog mapping loaded. Run at every start too, so a
    /// channel its credentials are not bound to, or that the policy no longer allows, stays
    /// stopped.
    pub(super) fn channel_spec(
        &self,
        client: &ClientCode,
        record: &ChannelRecord,
    ) -> Result<ChannelSpec, ServiceError> {
        let (credential, account) = self.channel_secrets(client, record)?;
        let listings = self.listing_map(client, &record.id)?;
        let config = ConnectorConfig::new(&record.base_url, credential, account, listings)?
            .with_egress(self.options.egress);
        let marketplace = connector(record.platform, config)?;
        let mut config = ChannelConfig::new(client.clone(), record.id.clone(), record.platform);
        config.app = AppId::new(record.app.clone());
        config.policy = record.policy;
        config.order = record.push_order;
        config.rate_limit = record.rate_limit.clone();
        config.poll_interval = poll_interval(record);
        config.seed = seed_of(client, &record.id);
        config.reconcile_interval = self.options.reconcile_interval;
        config.stall_warning_after = self.options.stall_warning_after;
        Ok(ChannelSpec {
            config,
            marketplace,
        })
    }

    /// A channel's credential and account ids with their secrets, opened in memory for the
    /// channel's origin only (`ClientStore::secret_for`).
    pub(super) fn channel_secrets(
        &self,
        client: &ClientCode,
        record: &ChannelRecord,
    ) -> Result<(Secret, Value), ServiceError> {
        let origin = record.origin().map_err(|_| ConnectorError::BadBaseUrl {
            url: record.base_url.clone(),
        })?;
        let credential =
            self.clients
                .secret_for(&self.vault, client, &record.credential, &origin)?;
        let account = self.resolve_account(client, &record.account, &origin)?;
        Ok((credential, account))
    }

    /// The account ids as the connector needs them: each `<name>_credential` key is replaced, in
    /// memory only, by `<name>` holding the named credential's secret (opened for `origin` only).
    fn resolve_account(
        &self,
        client: &ClientCode,
        account: &Value,
        origin: &Origin,
    ) -> Result<Value, ServiceError> {
        let Value::Object(fields) = account else {
            return Ok(account.clone());
        };
        let mut resolved = serde_json::Map::new();
        for (key, value) in fields {
            match key.strip_suffix("_credential") {
                Some(name) => {
                    let credential = value.as_str().ok_or_else(|| {
                        ServiceError::Invalid(format!("account.{key} must name a credential"))
                    })?;
                    let secret =
                        self.clients
                            .secret_for(&self.vault, client, credential, origin)?;
                    resolved.insert(name.to_string(), Value::String(secret.expose().to_string()));
                }
                None => {
                    resolved.insert(key.clone(), value.clone());
                }
            }
        }
        Ok(Value::Object(resolved))
    }

    /// The in-memory listing map of a channel, loaded from the store on first use and shared with
    /// its connector, so that a catalog import reaches the connector at once.
    fn listing_map(
        &self,
        client: &ClientCode,
        channel: &ChannelId,
    ) -> Result<ListingMap, ServiceError> {
        let key = (client.clone(), channel.clone());
        if let Some(map) = self
            .listing_maps
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(map.clone());
        }
        let map = ListingMap::default();
        for (sku, listing) in self.channels.listings(client, channel)? {
            map.insert(sku, listing);
        }
        let mut maps = self.listing_maps.write().unwrap_or_else(|p| p.into_inner());
        Ok(maps.entry(key).or_insert(map).clone())
    }

    /// Maps SKUs to listings durably, then in the connectors' maps.
    pub fn put_listings(
        &self,
        client: &ClientCode,
        mappings: &[(ChannelId, Sku, String)],
    ) -> Result<(), ServiceError> {
        self.channels.put_listings(client, mappings)?;
        for (channel, sku, listing) in mappings {
            self.listing_map(client, channel)?
                .insert(sku.clone(), listing.clone());
        }
        Ok(())
    }

    /// The current ChannelActor of a channel (`None` while it restarts or is quarantined).
    pub async fn channel_actor(
        &self,
        client: &ClientCode,
        channel: &ChannelId,
    ) -> Result<Option<Addr<ChannelActor>>, ServiceError> {
        let get = GetChannel {
            channel: channel.clone(),
        };
        Ok(self.ask(&self.supervisor(client)?, get).await??)
    }

    /// A channel's live state, if its actor runs.
    pub async fn channel_state(
        &self,
        client: &ClientCode,
        channel: &ChannelId,
    ) -> Result<Option<ChannelState>, ServiceError> {
        let Some(actor) = self.channel_actor(client, channel).await? else {
            return Ok(None);
        };
        match self
            .ask(&actor, shelfsync_actors::channel::messages::GetState)
            .await
        {
            Ok(Ok(state)) => Ok(Some(state)),
            Err(error @ ServiceError::TimedOut { .. }) => Err(error),
            _ => Ok(None),
        }
    }

    /// A channel's listings (of `skus`, or of every SKU it lists), if its actor runs.
    pub async fn channel_listings(
        &self,
        client: &ClientCode,
        channel: &ChannelId,
        skus: Option<Vec<Sku>>,
    ) -> Result<Option<Vec<ListingView>>, ServiceError> {
        let Some(actor) = self.channel_actor(client, channel).await? else {
            return Ok(None);
        };
        match self.ask(&actor, GetListings { skus }).await {
            Ok(Ok(listings)) => Ok(Some(listings)),
            Err(error @ ServiceError::TimedOut { .. }) => Err(error),
            _ => Ok(None),
        }
    }

    /// Tells a channel what its marketplace lists now (a catalog exported from it); answers how
    /// many listings it adopted (`None` while its actor restarts: it then pushes those listings,
    /// which is safe, only not free).
    pub async fn adopt_listed(
        &self,
        client: &ClientCode,
        channel: &ChannelId,
        listings: Vec<ListedQuantity>,
    ) -> Result<Option<usize>, ServiceError> {
        let Some(actor) = self.channel_actor(client, channel).await? else {
            return Ok(None);
        };
        match self.ask(&actor, AdoptListed { listings }).await {
            Ok(Ok(count)) => Ok(Some(count)),
            Err(error @ ServiceError::TimedOut { .. }) => Err(error),
            _ => Ok(None),
        }
    }
}

/// How often a channel whose notifications are received reads its order feed at most: the poll
/// is then the backstop that catches what a notification missed (a delivery the platform gave
/// up on, an endpoint that was down), not the way sales arrive, so it spends little of a shared
/// budget (Etsy's app-wide quota above all). A minute bounds how late a missed sale is seen.
pub const BACKSTOP_POLL_INTERVAL: Duration = Duration::from_secs(60);

/// The channel's poll interval: its own, or at least [`BACKSTOP_POLL_INTERVAL`] once its
/// notifications are received (a notification secret is stored and its platform sends them).
pub fn poll_interval(record: &ChannelRecord) -> Duration {
    let own = Duration::from_millis(record.poll_interval_ms);
    let notified = record.webhook_credential.is_some() && receiver(record.platform).is_some();
    if notified {
        own.max(BACKSTOP_POLL_INTERVAL)
    } else {
        own
    }
}

/// A stable seed of a channel's backoff jitter.
fn seed_of(client: &ClientCode, channel: &ChannelId) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    client.hash(&mut hasher);
    channel.hash(&mut hasher);
    hasher.finish()
}
