//! A ready-made emulator for the product's tests: a temporary root, known
//! users and tokens, small pages and a small LFS threshold.

use std::ops::Deref;

use crate::tls::TestCa;
use crate::{Emulator, EmulatorConfig, Role};

/// Alice's write token. Alice owns `alice/*` and belongs to `acme`.
pub const ALICE_WRITE: &str = "hf_alice_write_0123456789";
/// Alice's read token.
pub const ALICE_READ: &str = "hf_alice_read_0123456789";
/// Bob's write token. Bob owns `bob/*` and belongs to no organization.
pub const BOB_WRITE: &str = "hf_bob_write_0123456789";
/// Alice's user name.
pub const ALICE: &str = "alice";
/// Bob's user name.
pub const BOB: &str = "bob";
/// The organization Alice belongs to.
pub const ACME: &str = "acme";

/// An emulator in a temporary folder that is removed when the value drops.
pub struct TestHub {
    emulator: Emulator,
    _root: tempfile::TempDir,
}

impl TestHub {
    /// Starts an emulator with Alice, Bob and `acme`, pages of 3 items, and an
    /// LFS threshold of 1 KiB (so small files exercise LFS).
    pub fn start() -> std::io::Result<TestHub> {
        Self::start_with(|config| config)
    }

    /// Like [`TestHub::start`], with a chance to change the configuration.
    pub fn start_with(adjust: impl FnOnce(EmulatorConfig) -> EmulatorConfig) -> std::io::Result<TestHub> {
        let root = tempfile::tempdir()?;
        let mut config = EmulatorConfig::new(root.path().join("hub"))
            .token(ALICE_WRITE, ALICE, Role::Write)
            .token(ALICE_READ, ALICE, Role::Read)
            .token(BOB_WRITE, BOB, Role::Write)
            .org(ACME, &[ALICE]);
        config.page_size = 3;
        config.lfs_threshold = 1024;
        let emulator = Emulator::start(adjust(config))?;
        Ok(TestHub { emulator, _root: root })
    }

    /// Like [`TestHub::start`], served over HTTPS with a certificate from a
    /// new test CA, whose PEM bundle is the returned file (for a client's
    /// `ca_bundle`).
    pub fn start_https() -> Result<(TestHub, tempfile::NamedTempFile), Box<dyn std::error::Error>> {
        let ca = TestCa::generate()?;
        let identity = ca.server_identity(&["127.0.0.1", "localhost"])?;
        let hub = Self::start_with(|mut config| {
            config.tls = Some(identity);
            config
        })?;
        let mut bundle = tempfile::NamedTempFile::new()?;
        std::io::Write::write_all(&mut bundle, ca.ca_cert_pem.as_bytes())?;
        Ok((hub, bundle))
    }
}

impl Deref for TestHub {
    type Target = Emulator;

    fn deref(&self) -> &Emulator {
        &self.emulator
    }
}
