//! `CACHEDIR.TAG`: tells backup tools to skip a cache folder, as the Python client marks it.

use std::path::Path;

/// The tag's content, byte for byte as the Python client writes it.
pub(crate) const CACHEDIR_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
# This file is a cache directory tag created by huggingface_hub.\n\
# For information about cache directory tags, see:\n\
#\thttps://bford.info/cachedir/\n";

/// Writes `CACHEDIR.TAG` into `dir` unless it is there; failing to is harmless.
pub(crate) fn tag_cache_dir(dir: &Path) {
    let path = dir.join("CACHEDIR.TAG");
    if !path.exists() && std::fs::create_dir_all(dir).is_ok() {
        let _ = std::fs::write(path, CACHEDIR_TAG);
    }
}
