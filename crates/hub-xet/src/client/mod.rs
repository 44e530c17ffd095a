//! The network side of Xet: the token exchange with the Hub, the CAS's calls, and the
//! reconstruction of a file from xorb ranges, with the index of chunks already on this machine.

pub(crate) mod cas;
pub(crate) mod chunk_index;
pub(crate) mod download;
pub(crate) mod multipart;
pub(crate) mod token;
