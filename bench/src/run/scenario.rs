//! Load scenarios: TOML files in `bench/scenarios/`, read by name (`smoke`) or by path.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use shelfsync::platforms::Platform;

use super::RunError;

/// The most clients a scenario may ask for (each client's channel is one mock server thread).
pub const MAX_CLIENTS: u32 = 200;
/// The most SKUs per client.
pub const MAX_SKUS: u32 = 5_000;
/// The longest measured run.
pub const MAX_DURATION_SECS: u64 = 3_600;

/// Stock of each SKU at the start: uniform in `min..=max`, seeded.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockRange {
    /// Fewest units of a SKU.
    pub min: u32,
    /// Most units of a SKU.
    pub max: u32,
}

/// A burst of shoppers on top of the steady rate.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Burst {
    /// Seconds after the shoppers start.
    pub at_secs: f64,
    /// How long it lasts.
    pub secs: f64,
    /// Orders a second across every marketplace of every client while it lasts.
    pub orders_per_sec: f64,
}

/// An injected fault on every mock of one platform.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// The platform (`shopify`, `etsy`, ...).
    pub platform: String,
    /// Seconds after the shoppers start.
    pub at_secs: f64,
    /// The platform answers 503 to every call for this long.
    #[serde(default)]
    pub down_secs: f64,
    /// Or: every call gets the platform's throttled reply for this long (a throttle storm).
    #[serde(default)]
    pub throttle_secs: f64,
}

/// How the clients' Etsy shops reach Etsy's API: Etsy's QPS and QPD are per app key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EtsyApp {
    /// Every shop through the agency's one app: one budget for all of them (it binds first).
    #[default]
    Shared,
    /// Each client's shop through its own app (a client that registered its own key): a budget
    /// per shop.
    PerClient,
}

/// How shoppers' orders arrive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArrivalModel {
    /// Each mock's own shoppers, one order every `mocks / orders_per_sec` seconds each: fine while
    /// every mock sells several orders a second.
    #[default]
    Steady,
    /// One seeded Poisson stream for the fleet, each order on a mock drawn uniformly: needed when
    /// a mock sells less than one order in the run (`arrivals.rs`).
    Poisson,
}

/// One load scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Its name (the file's stem).
    pub name: String,
    /// Seed of the stock draws and of every mock's shoppers (the same in every variant).
    pub seed: u64,
    /// Clients of the agency.
    pub clients: u32,
    /// Platform mixes, given to clients in turn.
    pub channels: Vec<Vec<String>>,
    /// SKUs per client, each listed on every channel of the client.
    pub skus: u32,
    /// Units of each SKU at the start.
    pub stock: StockRange,
    /// Steady shopper orders a second, wall clock, across every marketplace of every client.
    pub orders_per_sec: f64,
    /// How the orders arrive (`steady`, the default, or `poisson`).
    #[serde(default)]
    pub arrivals: ArrivalModel,
    /// Each order buys 1 to `max_units` units.
    #[serde(default = "one")]
    pub max_units: i64,
    /// Share of orders a shopper later cancels.
    #[serde(default)]
    pub cancel_rate: f64,
    /// Seconds of shopping.
    pub duration_secs: u64,
    /// Seconds of measuring after the shoppers stop (late pushes still count).
    pub drain_secs: u64,
    /// Business seconds one wall second stands for: the interval baselines push every
    /// `minutes * 60 / time_compression` wall seconds. The shoppers' rate is given in wall time
    /// already, so a business day is as busy as `orders_per_sec / time_compression`.
    pub time_compression: f64,
    /// The interval baselines, in business minutes.
    pub interval_minutes: Vec<f64>,
    /// The mocks' plan (`default`: the platforms' documented limits).
    pub plan: String,
    /// How often the service polls each order feed.
    pub poll_interval_ms: u64,
    /// Whether every channel whose mock sends order notifications is subscribed to them (and
    /// given the secret to verify them); off, every order feed is polled only.
    #[serde(default = "yes")]
    pub notifications: bool,
    /// The variants run by default, by short name (`risk-first`, `fifo`, `polling`,
    /// `interval-N` for each of `interval_minutes`); absent: risk-first, FIFO and every interval.
    /// Each variant has a fleet of its own, so a big scenario run with `--concurrent` lists only
    /// what it compares.
    #[serde(default)]
    pub variants: Option<Vec<String>>,
    /// Whether the clients' Etsy shops share one app's budget (`shared`) or each has its own.
    #[serde(default)]
    pub etsy_app: EtsyApp,
    /// How often the bench samples every listing of every mock.
    pub sample_ms: u64,
    /// How often, at most, exposure is sampled (default: every `sample_ms`, less often on big
    /// fleets): in a long real-time run listings change slowly, and reading every listing of
    /// every variant's fleet every `sample_ms` would take the cores the services need.
    #[serde(default)]
    pub exposure_sample_ms: Option<u64>,
    /// Longest wait, after provisioning, for the service to have nothing pending.
    pub settle_secs: u64,
    /// Shopper bursts.
    #[serde(default)]
    pub bursts: Vec<Burst>,
    /// Injected faults.
    #[serde(default)]
    pub faults: Vec<Fault>,
}

fn one() -> i64 {
    1
}

fn yes() -> bool {
    true
}

impl Scenario {
    /// Reads `name_or_path`: a file path, or the name of a file in `bench/scenarios/`.
    pub fn load(name_or_path: &str) -> Result<Scenario, RunError> {
        let path = resolve(name_or_path);
        let text = std::fs::read_to_string(&path).map_err(|source| RunError::Scenario {
            path: path.clone(),
            message: source.to_string(),
        })?;
        let scenario: Scenario = toml::from_str(&text).map_err(|error| RunError::Scenario {
            path: path.clone(),
            message: error.to_string(),
        })?;
        scenario.validate().map_err(|message| RunError::Scenario {
            path: path.clone(),
            message,
        })?;
        Ok(scenario)
    }

    /// The scenario with its shopping time replaced by `duration_secs` when given (a short check
    /// of a long scenario; bursts and faults past the new end do not happen).
    pub fn with_duration(mut self, duration_secs: Option<u64>) -> Result<Scenario, RunError> {
        if let Some(secs) = duration_secs {
            self.duration_secs = secs;
            let name = self.name.clone();
            self.validate().map_err(|message| RunError::Scenario {
                path: PathBuf::from(name),
                message: format!("--duration-secs: {message}"),
            })?;
        }
        Ok(self)
    }

    fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_CLIENTS).contains(&self.clients) {
            return Err(format!("clients must be 1 to {MAX_CLIENTS}"));
        }
        if !(1..=MAX_SKUS).contains(&self.skus) {
            return Err(format!("skus must be 1 to {MAX_SKUS}"));
        }
        if self.channels.is_empty() {
            return Err("channels needs at least one platform mix".into());
        }
        for mix in &self.channels {
            if mix.is_empty() {
                return Err("a platform mix is empty".into());
            }
            for (index, name) in mix.iter().enumerate() {
                if Platform::parse(name).is_none() {
                    return Err(format!("{name:?} is not a platform"));
                }
                if mix[..index].contains(name) {
                    return Err(format!("{name} twice in one mix"));
                }
            }
        }
        if self.stock.min > self.stock.max {
            return Err("stock.min is above stock.max".into());
        }
        if !(1..=MAX_DURATION_SECS).contains(&self.duration_secs) {
            return Err(format!("duration_secs must be 1 to {MAX_DURATION_SECS}"));
        }
        if !(self.time_compression >= 1.0 && self.time_compression.is_finite()) {
            return Err("time_compression must be at least 1".into());
        }
        if self
            .interval_minutes
            .iter()
            .any(|m| m.is_nan() || *m <= 0.0)
        {
            return Err("interval_minutes must be positive".into());
        }
        if !(10..=5_000).contains(&self.sample_ms) {
            return Err("sample_ms must be 10 to 5000".into());
        }
        if let Some(variants) = &self.variants {
            let known = self.known_variants();
            if let Some(unknown) = variants.iter().find(|name| !known.contains(name)) {
                return Err(format!(
                    "variant {unknown:?} is not one of {}",
                    known.join(", ")
                ));
            }
        }
        for fault in &self.faults {
            if Platform::parse(&fault.platform).is_none() {
                return Err(format!(
                    "fault platform {:?} is not a platform",
                    fault.platform
                ));
            }
        }
        Ok(())
    }

    /// The platforms of client `index` (0-based).
    pub fn mix(&self, index: u32) -> Vec<Platform> {
        self.channels[index as usize % self.channels.len()]
            .iter()
            .filter_map(|name| Platform::parse(name))
            .collect()
    }

    /// How many mocks (channels) the scenario has in all.
    pub fn channel_count(&self) -> u32 {
        (0..self.clients).map(|i| self.mix(i).len() as u32).sum()
    }

    /// The short names of every variant the scenario can run (`shelfsync-polling` only when
    /// notifications are on: off, risk-first is polling already).
    pub fn known_variants(&self) -> Vec<String> {
        let mut known = vec!["risk-first".to_string(), "fifo".to_string()];
        if self.notifications {
            known.push("polling".into());
        }
        known.extend(
            self.interval_minutes
                .iter()
                .map(|minutes| format!("interval-{minutes}")),
        );
        known
    }

    /// One line of the scenario's shape, for the report.
    pub fn shape(&self) -> String {
        format!(
            "{} clients, {} channels, {} SKUs per client, {} orders/s for {} s (+{} s drain), plan {}, notifications {}, Etsy app {}",
            self.clients,
            self.channel_count(),
            self.skus,
            self.orders_per_sec,
            self.duration_secs,
            self.drain_secs,
            self.plan,
            if self.notifications { "on" } else { "off" },
            match self.etsy_app {
                EtsyApp::Shared => "shared by every shop",
                EtsyApp::PerClient => "one per shop",
            },
        )
    }

    /// The baseline's wall-clock push interval for `minutes` business minutes.
    pub fn interval_wall_secs(&self, minutes: f64) -> f64 {
        minutes * 60.0 / self.time_compression
    }
}

fn resolve(name_or_path: &str) -> PathBuf {
    let direct = Path::new(name_or_path);
    if direct.is_file() {
        return direct.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name_or_path}.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_scenario_loads() {
        for name in [
            "smoke",
            "agency-100",
            "flash-sale",
            "outage",
            "realistic",
            "flash-drop",
            "budget-bound",
        ] {
            let scenario = Scenario::load(name).unwrap();
            assert_eq!(scenario.name, name);
            assert!(scenario.channel_count() >= 1);
        }
    }

    #[test]
    fn compression_scales_the_interval() {
        let scenario = Scenario::load("smoke").unwrap();
        assert_eq!(scenario.interval_wall_secs(10.0), 5.0);
    }

    /// The real-time scenarios must let the 15-minute baseline sweep at least twice.
    #[test]
    fn real_time_scenarios_see_two_fifteen_minute_sweeps() {
        for name in ["realistic", "flash-drop", "budget-bound"] {
            let scenario = Scenario::load(name).unwrap();
            assert_eq!(scenario.time_compression, 1.0, "{name}");
            assert!(scenario.interval_minutes.contains(&15.0), "{name}");
            assert!(
                scenario.duration_secs as f64 >= 2.0 * scenario.interval_wall_secs(15.0) + 60.0,
                "{name}"
            );
        }
    }

    #[test]
    fn a_duration_override_replaces_the_shopping_time_and_is_checked() {
        let scenario = Scenario::load("realistic").unwrap();
        assert_eq!(
            scenario
                .clone()
                .with_duration(Some(20))
                .unwrap()
                .duration_secs,
            20
        );
        assert_eq!(
            scenario.clone().with_duration(None).unwrap().duration_secs,
            scenario.duration_secs
        );
        assert!(scenario.with_duration(Some(0)).is_err());
    }
}
