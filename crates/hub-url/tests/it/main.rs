//! Integration tests of the public API of `hub-url`.

mod hf_hub_url;
mod origin;
mod proptests;
