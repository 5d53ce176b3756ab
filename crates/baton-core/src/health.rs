//! Readiness: the store answers and its migrations ran (they run before a store is handed out at all).

use std::sync::Arc;

use crate::error::Error;
use crate::store::Store;

#[derive(Clone)]
pub struct HealthService {
    store: Arc<dyn Store>,
}

impl HealthService {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Returns the backend's name when the store answers.
    pub async fn ready(&self) -> Result<&'static str, Error> {
        self.store.ping().await?;
        Ok(self.store.backend())
    }
}
