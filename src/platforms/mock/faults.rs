//! Injected faults (DESIGN §7): latency, server errors, throttle storms, downtime, duplicated and
//! reordered webhooks. Set as a whole by `POST /_mock/faults`; decided per request from a seeded
//! random source so that a fault run can be replayed.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::MockError;

/// The longest injected latency.
pub const MAX_LATENCY_MS: u64 = 60_000;
/// The longest throttle storm.
pub const MAX_THROTTLE_ALL_SECS: f64 = 86_400.0;

/// The faults in force; a `POST /_mock/faults` replaces them all (a field left out is off).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultSettings {
    /// Added before every platform request is answered.
    pub latency_ms: u64,
    /// Share of platform requests answered with the platform's 5xx (0 to 1).
    pub error_rate: f64,
    /// For this many seconds from now, every platform request gets the platform's throttled reply.
    pub throttle_all_secs: f64,
    /// Every platform request gets 503 until this is switched off.
    pub down: bool,
    /// Share of webhook deliveries sent twice (0 to 1).
    pub duplicate_webhook_rate: f64,
    /// Webhook deliveries waiting together are sent in a shuffled order.
    pub reorder_webhooks: bool,
}

impl FaultSettings {
    /// Refuses settings out of range, saying which.
    pub fn validate(&self) -> Result<(), MockError> {
        let bad = |message: String| Err(MockError::BadControlRequest { message });
        if self.latency_ms > MAX_LATENCY_MS {
            return bad(format!(
                "latency_ms {} is above {MAX_LATENCY_MS}",
                self.latency_ms
            ));
        }
        for (name, rate) in [
            ("error_rate", self.error_rate),
            ("duplicate_webhook_rate", self.duplicate_webhook_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return bad(format!("{name} {rate} is outside 0..=1"));
            }
        }
        if !(0.0..=MAX_THROTTLE_ALL_SECS).contains(&self.throttle_all_secs) {
            return bad(format!(
                "throttle_all_secs {} is outside 0..={MAX_THROTTLE_ALL_SECS}",
                self.throttle_all_secs
            ));
        }
        Ok(())
    }
}

/// What the faults decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultDecision {
    /// Served normally.
    Pass,
    /// The platform is down: 503.
    Down,
    /// An injected server error: the platform's 500.
    ServerError,
    /// A throttle storm: the platform's throttled reply.
    Throttle,
}

/// The faults of one mock and the random source that applies them.
#[derive(Debug)]
pub struct Faults {
    settings: FaultSettings,
    throttle_until: Option<Instant>,
    rng: StdRng,
}

impl Faults {
    /// No faults; `seed` drives the error and duplicate draws.
    pub fn new(seed: u64) -> Faults {
        Faults {
            settings: FaultSettings::default(),
            throttle_until: None,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Replaces the settings; a throttle storm starts now.
    pub fn set(&mut self, settings: FaultSettings, now: Instant) -> Result<(), MockError> {
        settings.validate()?;
        self.throttle_until = (settings.throttle_all_secs > 0.0)
            .then(|| now + Duration::from_secs_f64(settings.throttle_all_secs));
        self.settings = settings;
        Ok(())
    }

    /// The settings, with `throttle_all_secs` counting down to what is left of the storm.
    pub fn settings(&self, now: Instant) -> FaultSettings {
        let mut settings = self.settings.clone();
        settings.throttle_all_secs = self.throttle_until.map_or(0.0, |until| {
            until.saturating_duration_since(now).as_secs_f64()
        });
        settings
    }

    /// The latency to add and the decision for one platform request.
    pub fn decide(&mut self, now: Instant) -> (Duration, FaultDecision) {
        let latency = Duration::from_millis(self.settings.latency_ms);
        let decision = if self.settings.down {
            FaultDecision::Down
        } else if self.throttle_until.is_some_and(|until| now < until) {
            FaultDecision::Throttle
        } else if self.settings.error_rate > 0.0 && self.rng.gen_bool(self.settings.error_rate) {
            FaultDecision::ServerError
        } else {
            FaultDecision::Pass
        };
        (latency, decision)
    }

    /// Whether this webhook delivery is sent twice.
    pub fn duplicate_webhook(&mut self) -> bool {
        let rate = self.settings.duplicate_webhook_rate;
        rate > 0.0 && self.rng.gen_bool(rate)
    }

    /// Whether webhook deliveries are shuffled.
    pub fn reorder_webhooks(&self) -> bool {
        self.settings.reorder_webhooks
    }

    /// A random draw for shuffling deliveries.
    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downtime_beats_a_storm_which_beats_errors() {
        let t0 = Instant::now();
        let mut faults = Faults::new(1);
        assert_eq!(faults.decide(t0).1, FaultDecision::Pass);
        let storm = FaultSettings {
            throttle_all_secs: 2.0,
            error_rate: 1.0,
            ..Default::default()
        };
        faults.set(storm.clone(), t0).unwrap();
        assert_eq!(
            faults.decide(t0 + Duration::from_secs(1)).1,
            FaultDecision::Throttle
        );
        assert_eq!(
            faults.decide(t0 + Duration::from_secs(3)).1,
            FaultDecision::ServerError
        );
        assert_eq!(
            faults
                .settings(t0 + Duration::from_secs(1))
                .throttle_all_secs,
            1.0
        );
        faults
            .set(
                FaultSettings {
                    down: true,
                    ..storm
                },
                t0,
            )
            .unwrap();
        assert_eq!(faults.decide(t0).1, FaultDecision::Down);
    }

    #[test]
    fn error_rate_is_a_seeded_share() {
        let t0 = Instant::now();
        let mut faults = Faults::new(7);
        faults
            .set(
                FaultSettings {
                    error_rate: 0.25,
                    ..Default::default()
                },
                t0,
            )
            .unwrap();
        let errors = (0..4000)
            .filter(|_| faults.decide(t0).1 == FaultDecision::ServerError)
            .count();
        assert!((800..1200).contains(&errors), "{errors} of 4000");
    }

    #[test]
    fn out_of_range_settings_are_refused_and_change_nothing() {
        let t0 = Instant::now();
        let mut faults = Faults::new(1);
        for bad in [
            FaultSettings {
                error_rate: 1.5,
                ..Default::default()
            },
            FaultSettings {
                duplicate_webhook_rate: -0.1,
                ..Default::default()
            },
            FaultSettings {
                latency_ms: MAX_LATENCY_MS + 1,
                ..Default::default()
            },
            FaultSettings {
                throttle_all_secs: -1.0,
                ..Default::default()
            },
            FaultSettings {
                down: true,
                throttle_all_secs: f64::NAN,
                ..Default::default()
            },
        ] {
            assert!(faults.set(bad, t0).is_err());
            assert_eq!(faults.decide(t0).1, FaultDecision::Pass);
        }
    }
}
