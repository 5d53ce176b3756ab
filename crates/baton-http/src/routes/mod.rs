//! One module per resource.

pub(crate) mod lease;
pub(crate) mod lock;
pub(crate) mod system;
