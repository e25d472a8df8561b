//! The engine's clock for governor: tokio's clock, so that the rate limiters follow paused time in
//! tests exactly as the actors' timers do (`reference/reliability.md` §5: governor's default clock
//! ignores tokio's paused time). In production tokio's clock is the monotonic system clock.

use governor::clock::Clock;

/// A governor clock reading `tokio::time::Instant::now()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    type Instant = std::time::Instant;

    fn now(&self) -> Self::Instant {
        tokio::time::Instant::now().into_std()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn follows_paused_time() {
        let before = TokioClock.now();
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(TokioClock.now() - before, Duration::from_secs(3));
    }
}
