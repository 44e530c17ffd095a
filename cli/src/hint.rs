//! What to tell the user to do after an error.

/// A hint for the errors where the next step is not in the message already.
pub(crate) fn hint_for(err: &anyhow::Error) -> Option<&'static str> {
    for cause in err.chain() {
        // The cache wraps the client's errors transparently: look inside too.
        let api = cause
            .downcast_ref::<hub_api::Error>()
            .or_else(|| match cause.downcast_ref::<hub_cache::Error>() {
                Some(hub_cache::Error::Api(api)) => Some(api),
                _ => None,
            });
        if let Some(api) = api {
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
