//! Progress reporting: the library reports events, the caller draws them.
//! The trait is `hub-api`'s, so one progress sink serves downloads and uploads.

pub use hub_api::{Progress, ProgressEvent};
