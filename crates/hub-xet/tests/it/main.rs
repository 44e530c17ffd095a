//! Integration tests of hub-xet: agreement with the reference client `hf_xet`.

mod reference_client;
