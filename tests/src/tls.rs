//! A certificate authority made at run time, so that HTTPS tests need no files
//! and trust nothing but themselves.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};

use crate::http::TlsIdentity;

/// A throw-away CA: clients trust [`TestCa::ca_cert_pem`], servers present
/// identities it signed with [`TestCa::server_identity`].
pub struct TestCa {
    /// The CA certificate, PEM-encoded: what clients add to their roots.
    pub ca_cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    /// Generates a new CA key and self-signed certificate.
    pub fn generate() -> Result<TestCa, rcgen::Error> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, "hub-emulator test CA");
        params.distinguished_name.push(DnType::OrganizationName, "hub-emulator");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate()?;
        let certificate = params.self_signed(&key)?;
        Ok(TestCa {
            ca_cert_pem: certificate.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// A server certificate for these names, signed by this CA, with a fresh key.
    /// IP addresses become IP SANs, anything else DNS SANs; the first name is the common name.
    pub fn server_identity(&self, names: &[&str]) -> Result<TlsIdentity, rcgen::Error> {
        let mut params = CertificateParams::new(names.iter().map(|name| (*name).to_string()).collect::<Vec<_>>())?;
        if let Some(first) = names.first() {
            params.distinguished_name.push(DnType::CommonName, *first);
        }
        params.is_ca = IsCa::NoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let certificate = params.signed_by(&key, &self.issuer)?;
        Ok(TlsIdentity {
            cert_chain_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa")
            .field("ca_cert_pem", &self.ca_cert_pem)
            .finish_non_exhaustive()
    }
}
