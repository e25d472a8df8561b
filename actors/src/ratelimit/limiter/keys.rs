//! Who makes a call and on which budget ([`RequestKey`], [`LimiterKey`]), and what the registry
//! answers when it may not go yet ([`Wait`]).

use std::num::NonZeroU32;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ids::{ChannelId, ClientCode};
use crate::platform::Platform;
use crate::platform::{Bucket, Operation};

/// The name under which the agency's credentials for one marketplace app are configured (never
/// the key itself). Clients connected through the same app share its app-wide budgets.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AppId(String);

impl AppId {
    /// Creates an app id from its configured name.
    pub fn new(name: impl Into<String>) -> Self {
        AppId(name.into())
    }

    /// Returns the name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A client's service tier, which weighs its share of an app-wide budget (DESIGN §4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceTier {
    /// Weight 1.
    #[default]
    Standard,
    /// Weight 2.
    Premium,
    /// Weight 4.
    Enterprise,
}

impl ServiceTier {
    /// Its name, as configuration and the API write it.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceTier::Standard => "standard",
            ServiceTier::Premium => "premium",
            ServiceTier::Enterprise => "enterprise",
        }
    }

    /// Returns the tier's weight in a shared budget.
    pub fn weight(self) -> NonZeroU32 {
        let weight = match self {
            ServiceTier::Standard => 1,
            ServiceTier::Premium => 2,
            ServiceTier::Enterprise => 4,
        };
        NonZeroU32::new(weight).unwrap_or(NonZeroU32::MIN)
    }
}

/// One call the engine wants to make: who makes it, through which app, on which bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestKey {
    pub(super) client: ClientCode,
    pub(super) channel: ChannelId,
    pub(super) app: AppId,
    pub(super) bucket: Bucket,
    pub(super) operation: Operation,
}

impl RequestKey {
    /// Creates the key of `operation` on a channel of `platform`, charged to the operation's own
    /// bucket.
    pub fn new(
        client: ClientCode,
        channel: ChannelId,
        app: AppId,
        platform: Platform,
        operation: Operation,
    ) -> Self {
        let bucket = Bucket::for_operation(platform, operation);
        Self::for_bucket(client, channel, app, bucket, operation)
    }

    /// Creates the key of a call charged to `bucket` on behalf of `operation`, for calls an
    /// operation makes outside its own bucket (Amazon's `getOrderItems` while fetching orders,
    /// a legacy Shopify REST connector).
    pub fn for_bucket(
        client: ClientCode,
        channel: ChannelId,
        app: AppId,
        bucket: Bucket,
        operation: Operation,
    ) -> Self {
        RequestKey {
            client,
            channel,
            app,
            bucket,
            operation,
        }
    }

    /// Returns the client.
    pub fn client(&self) -> &ClientCode {
        &self.client
    }

    /// Returns the channel.
    pub fn channel(&self) -> &ChannelId {
        &self.channel
    }

    /// Returns the app.
    pub fn app(&self) -> &AppId {
        &self.app
    }

    /// Returns the platform.
    pub fn platform(&self) -> Platform {
        self.bucket.platform()
    }

    /// Returns the operation.
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// Returns the bucket the call is charged to.
    pub fn bucket(&self) -> Bucket {
        self.bucket
    }

    /// Returns the key of the budget the call draws on: the app for app-wide budgets (Etsy,
    /// eBay), the channel (its store or seller) otherwise.
    pub fn limiter_key(&self) -> LimiterKey {
        let owner = if self.bucket.scope().is_app_wide() {
            Owner::App(self.app.clone())
        } else {
            Owner::Channel {
                client: self.client.clone(),
                channel: self.channel.clone(),
            }
        };
        LimiterKey {
            bucket: self.bucket,
            owner,
        }
    }
}

/// Who owns a budget.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Owner {
    /// One channel's store or seller account (Shopify app+store, Amazon seller, Walmart seller).
    Channel {
        /// The client.
        client: ClientCode,
        /// The channel.
        channel: ChannelId,
    },
    /// An app key, shared by every client connected through it (Etsy, eBay).
    App(AppId),
}

/// The key of one budget: a bucket and its owner. A throttle on one key never delays another.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LimiterKey {
    /// The bucket.
    pub bucket: Bucket,
    /// Its owner.
    pub owner: Owner,
}

/// Why a call has to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    /// The marketplace throttled this key and its wait has not passed.
    Throttled,
    /// The budget's short-term pacing is used up.
    Pacing,
    /// The budget's daily quota pacing is used up.
    DailyQuota,
    /// The client's share of an app-wide budget is used up while another client of the app wants
    /// the capacity (without contention a client borrows what the others leave idle).
    FairShare,
    /// The operation's own part of a budget several operations share is used up: order polls and
    /// read-backs may take only a part of it, so that pushes always find room
    /// ([`super::defaults::Bucket::operation_share`]).
    OperationShare,
}

/// How long a call has to wait before it may be tried again, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    /// The time to wait from now.
    pub duration: Duration,
    /// Why.
    pub reason: WaitReason,
}
