//! What keeps overload from queueing forever: a bound on requests in flight (past it, 503
//! at once), a request rate per API key (past it, 429), a body size limit, a timeout, and a
//! bound on how long a connection may take to send its headers (`server.rs`).
//! Each answer past a limit says when to try again (`Retry-After`).
//!
//! The bounds are per instance: with several instances behind a load balancer, a key's rate
//! is at most the limit times the instances it reaches.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{Semaphore, SemaphorePermit};

/// The limits a service runs with (`ownergraph serve --help` names their flags).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The largest request body, but for imports (which have their own).
    pub body_bytes: usize,
    /// How long a request may take before it is answered 503 and its transaction rolled back.
    pub request_timeout: Duration,
    /// Requests handled at once; more are refused with 503 rather than queued.
    pub max_in_flight: usize,
    /// Requests a second one key may make, as a steady rate with a burst of one second's worth.
    pub per_key_per_second: NonZeroU32,
    /// How long a connection may take to send a request's headers, or stay idle between
    /// requests, before it is closed (`server.rs`).
    pub header_timeout: Duration,
}

/// The defaults, which `ownergraph serve` shows in its help.
pub const BODY_BYTES: usize = 1024 * 1024;
pub const REQUEST_TIMEOUT_SECS: u64 = 30;
pub const MAX_IN_FLIGHT: u32 = 1024;
pub const PER_KEY_PER_SECOND: NonZeroU32 = NonZeroU32::new(1000).unwrap();
pub const HEADER_TIMEOUT_SECS: u64 = 10;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes: BODY_BYTES,
            request_timeout: Duration::from_secs(REQUEST_TIMEOUT_SECS),
            max_in_flight: MAX_IN_FLIGHT as usize,
            per_key_per_second: PER_KEY_PER_SECOND,
            header_timeout: Duration::from_secs(HEADER_TIMEOUT_SECS),
        }
    }
}

/// The state that enforces [`Limits`]: the in-flight bound and each key's rate.
pub struct Gate {
    pub limits: Limits,
    in_flight: Semaphore,
    rates: DefaultKeyedRateLimiter<Arc<str>>,
}

impl Gate {
    pub fn new(limits: Limits) -> Gate {
        Gate {
            limits,
            in_flight: Semaphore::new(limits.max_in_flight),
            rates: RateLimiter::keyed(Quota::per_second(limits.per_key_per_second)),
        }
    }

    /// A place among the requests in flight, held until the answer is sent; `None` when all
    /// are taken.
    pub fn enter(&self) -> Option<SemaphorePermit<'_>> {
        self.in_flight.try_acquire().ok()
    }

    /// Counts a request of `key` against its rate; past it, how long until one more fits.
    pub fn spend(&self, key: &Arc<str>) -> Result<(), Duration> {
        self.rates.check_key(key).map_err(|not_until| {
            not_until.wait_time_from(governor::clock::Clock::now(self.rates.clock()))
        })
    }
}

/// Seconds to wait, rounded up, at least one: the `Retry-After` of an answer.
pub fn retry_after(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0 || wait.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(in_flight: usize, per_second: u32) -> Gate {
        Gate::new(Limits {
            max_in_flight: in_flight,
            per_key_per_second: NonZeroU32::new(per_second).unwrap(),
            ..Limits::default()
        })
    }

    #[test]
    fn a_key_past_its_rate_waits_and_other_keys_do_not() {
        let g = gate(8, 5);
        let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
        for _ in 0..5 {
            assert!(g.spend(&a).is_ok());
        }
        let wait = g.spend(&a).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(200),
            "{wait:?}"
        );
        assert!(g.spend(&b).is_ok());
    }

    #[test]
    fn requests_past_the_bound_in_flight_are_refused_until_one_ends() {
        let g = gate(2, 100);
        let first = g.enter().unwrap();
        let _second = g.enter().unwrap();
        assert!(g.enter().is_none());
        drop(first);
        assert!(g.enter().is_some());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after(Duration::ZERO), 1);
        assert_eq!(retry_after(Duration::from_millis(1)), 1);
        assert_eq!(retry_after(Duration::from_secs(1)), 1);
        assert_eq!(retry_after(Duration::from_millis(1001)), 2);
    }
}
