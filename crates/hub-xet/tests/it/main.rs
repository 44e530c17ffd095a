//! Integration tests of hub-xet: published vectors, agreement with the reference client
//! `hf_xet`, and property tests of every parser.

mod cas_client;
mod proptests;
mod reference_client;
mod round_trip;
mod sample;
mod vectors;
mod xet_commit;
