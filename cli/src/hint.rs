//! What to tell the user to do after an error.

/// A hint for the errors where the next step is not in the message already.
pub(crate) fn hint_for(err: &anyhow::Error) -> Option<&'static str> {
    for cause in err.chain() {
        if let Some(api) = cause.downcast_ref::<hub_api::Error>() {
            return match api {
                hub_api::Error::Transport { .. } => {
                    Some("check your network connection and HF_ENDPOINT; set HF_HUB_OFFLINE=1 to use only the cache")
                }
                hub_api::Error::RateLimited { .. } => Some("wait a minute before trying again"),
                _ => None,
            };
        }
    }
    None
}
