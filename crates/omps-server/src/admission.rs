//! Admission by memory: each push reserves, before it inflates anything, the bytes it will hold
//! (an estimate from the archive's declared sizes, an upper bound since an entry inflating past
//! its declared size is refused), and shrinks the reservation to the actual size once
//! extracted. Pushes that do not fit wait in a bounded queue for at most `admission_timeout`,
//! then get 503 `OMPSServerBusy` with `Retry-After`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{ApiError, ErrorId};

/// Reservations are counted in KiB, so one fits a semaphore acquisition (`u32`).
const UNIT: u64 = 1024;

/// The memory budget of pushes in progress.
#[derive(Debug)]
pub struct MemoryBudget {
    units: Arc<Semaphore>,
    total: u64,
    queued: AtomicUsize,
    max_queued: usize,
    timeout: Duration,
}

/// Bytes held by one push; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    permit: Option<OwnedSemaphorePermit>,
}

fn units(bytes: u64) -> u64 {
    bytes.div_ceil(UNIT).max(1)
}

impl MemoryBudget {
    /// A budget of `total` bytes; at most `max_queued` pushes wait, each at most `timeout`.
    #[must_use]
    pub fn new(total: u64, max_queued: usize, timeout: Duration) -> Self {
        let permits = usize::try_from(units(total)).unwrap_or(Semaphore::MAX_PERMITS);
        Self {
            units: Arc::new(Semaphore::new(permits.min(Semaphore::MAX_PERMITS))),
            total,
            queued: AtomicUsize::new(0),
            max_queued,
            timeout,
        }
    }

    /// The budget in bytes.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bytes not reserved now.
    #[must_use]
    pub fn available(&self) -> u64 {
        self.units.available_permits() as u64 * UNIT
    }

    /// Pushes waiting now.
    #[must_use]
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    fn busy(&self, reason: &str) -> ApiError {
        let retry_after = self.timeout.as_secs().clamp(1, 60);
        tracing::warn!(reason, "push refused: memory budget exhausted");
        ApiError::new(
            ErrorId::OMPSServerBusy,
            "The server is busy with other pushes; try again later",
        )
        .with("retry_after", serde_json::json!(retry_after))
    }

    /// Reserves `bytes`, waiting in the queue when they are not free. A push that needs more
    /// than the whole budget can never run: 400 `OMPSUploadedFileError`.
    pub async fn reserve(&self, bytes: u64) -> Result<Reservation, ApiError> {
        if bytes > self.total {
            return Err(ApiError::uploaded_file(format!(
                "Archive needs more memory than this server gives one push ({bytes}B>{}B)",
                self.total
            )));
        }
        let n = u32::try_from(units(bytes)).unwrap_or(u32::MAX);
        match self.units.clone().try_acquire_many_owned(n) {
            Ok(permit) => {
                return Ok(Reservation {
                    permit: Some(permit),
                });
            }
            Err(tokio::sync::TryAcquireError::Closed) => return Err(ApiError::internal()),
            Err(tokio::sync::TryAcquireError::NoPermits) => {}
        }
        if self.queued.fetch_add(1, Ordering::SeqCst) >= self.max_queued {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(self.busy("queue full"));
        }
        let waited =
            tokio::time::timeout(self.timeout, self.units.clone().acquire_many_owned(n)).await;
        self.queued.fetch_sub(1, Ordering::SeqCst);
        match waited {
            Ok(Ok(permit)) => Ok(Reservation {
                permit: Some(permit),
            }),
            Ok(Err(_)) => Err(ApiError::internal()),
            Err(_) => Err(self.busy("admission timeout")),
        }
    }
}

impl Reservation {
    /// Bytes held.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.permit
            .as_ref()
            .map_or(0, |p| p.num_permits() as u64 * UNIT)
    }

    /// Gives back what is above `bytes` (a reservation never grows).
    pub fn shrink_to(&mut self, bytes: u64) {
        let keep = usize::try_from(units(bytes)).unwrap_or(usize::MAX);
        if let Some(permit) = &mut self.permit {
            let held = permit.num_permits();
            if keep < held {
                drop(permit.split(held - keep));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_then_refuses_and_gives_back() {
        let budget = MemoryBudget::new(10 * 1024 * 1024, 1, Duration::from_millis(200));
        let mut big = budget.reserve(8 * 1024 * 1024).await.unwrap();
        assert_eq!(budget.available(), 2 * 1024 * 1024);
        // One waits (queue of one), a second is refused at once, the first times out.
        let waiting = budget.reserve(4 * 1024 * 1024);
        let refused = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            budget.reserve(4 * 1024 * 1024).await
        };
        let (waiting, refused) = tokio::join!(waiting, refused);
        for e in [waiting.unwrap_err(), refused.unwrap_err()] {
            assert_eq!(e.id, ErrorId::OMPSServerBusy);
            assert!(e.extra.contains_key("retry_after"));
        }
        // Shrinking frees room for the next push.
        big.shrink_to(5 * 1024 * 1024);
        assert_eq!(big.bytes(), 5 * 1024 * 1024);
        let second = budget.reserve(4 * 1024 * 1024).await.unwrap();
        drop(big);
        drop(second);
        assert_eq!(budget.available(), 10 * 1024 * 1024);
        // More than the whole budget is never admitted.
        assert_eq!(
            budget.reserve(11 * 1024 * 1024).await.unwrap_err().id,
            ErrorId::OMPSUploadedFileError
        );
    }

    #[tokio::test]
    async fn a_waiting_push_runs_when_memory_is_freed() {
        let budget = Arc::new(MemoryBudget::new(1024 * 1024, 4, Duration::from_secs(30)));
        let first = budget.reserve(1024 * 1024).await.unwrap();
        let b = budget.clone();
        let waiter = tokio::spawn(async move { b.reserve(512 * 1024).await.map(|r| r.bytes()) });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(budget.queued(), 1);
        drop(first);
        assert_eq!(waiter.await.unwrap().unwrap(), 512 * 1024);
        assert_eq!(budget.queued(), 0);
    }
}
