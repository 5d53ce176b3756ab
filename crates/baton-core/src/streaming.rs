//! The node's budget of long-lived streams (event subscriptions, election observers, discovery watches): one
//! limit for all of them, `max_subscriptions`, so no client can hold an unbounded number open.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::Error;

#[derive(Clone, Debug)]
pub struct StreamSlots {
    slots: Arc<Semaphore>,
    limit: usize,
}

/// One open stream's place in the budget; dropping it frees the place.
#[derive(Debug)]
pub struct StreamSlot {
    _permit: OwnedSemaphorePermit,
}

impl StreamSlots {
    pub fn new(limit: usize) -> Self {
        Self { slots: Arc::new(Semaphore::new(limit)), limit }
    }

    /// Takes a place, or refuses with `TOO_MANY_SUBSCRIPTIONS` when every place is taken.
    pub fn take(&self) -> Result<StreamSlot, Error> {
        let permit =
            self.slots.clone().try_acquire_owned().map_err(|_| Error::TooManySubscriptions { limit: self.limit })?;
        Ok(StreamSlot { _permit: permit })
    }
}
