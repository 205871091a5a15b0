"""C2PA content credentials made in tests: a certificate chain generated with ``cryptography`` and
a manifest signed with the C2PA SDK (``c2pa-python``; tests that sign are skipped without it)."""

from __future__ import annotations

import datetime
import io

import pytest

IPTC_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def make_pki() -> dict[str, bytes]:
    """A root CA and an end-entity signing certificate as C2PA wants it (v3, not self-signed, digital
    signature key usage, an e-mail protection EKU), made with ``cryptography``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(common_name: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Provenance Test Org"),
            ]
        )

    def usage(**bits: bool) -> x509.KeyUsage:
        names = ["digital_signature", "content_commitment", "key_encipherment", "data_encipherment"]
        names += ["key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"]
        return x509.KeyUsage(**{n: bits.get(n, False) for n in names})

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("Provenance Test Root"))
        .issuer_name(name("Provenance Test Root"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name("Provenance Test Signer"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return {
        "chain": leaf.public_bytes(pem) + ca.public_bytes(pem),
        "key": key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        "root": ca.public_bytes(pem),
    }


def sign(
    pki: dict[str, bytes], source: bytes, mime: str, source_type: str, *, remote: str | None = None
) -> bytes:
    c2pa = pytest.importorskip("c2pa")
    manifest = {
        "claim_generator_info": [{"name": "provenance-test", "version": "1.0"}],
        "title": "test asset",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": IPTC_SOURCE_TYPE + source_type,
                            "softwareAgent": {"name": "TestGen", "version": "2"},
                        }
                    ]
                },
            }
        ],
    }
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, pki["chain"], pki["key"], None)
    signer = c2pa.Signer.from_info(info)
    context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}})
    builder = c2pa.Builder(manifest, context=context)
    if remote:
        builder.set_no_embed()
        builder.set_remote_url(remote)
    out = io.BytesIO()
    builder.sign(signer, mime, io.BytesIO(source), out)
    return out.getvalue()
