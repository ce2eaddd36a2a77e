"""amqps:// with a CA file and a client certificate, against a private node listening with TLS on
loopback, with certificates this test makes."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.client.shop_client import ShopClient
from app.config import Settings
from app.messaging.connection import BrokerUnavailable
from app.service.shop_service import ShopService
from tests.shop_helpers import PrivateRabbit, free_port

pytestmark = pytest.mark.skipif(not PrivateRabbit.available(), reason="needs the rabbitmq-server package")


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def make_certs(folder: Path, name: str) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all signed by the CA."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    paths = {"ca": folder / f"{name}-ca.pem"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))

    def leaf(kind: str, usage: x509.ObjectIdentifier, san: list[x509.GeneralName]) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name}-{kind}")]))
                .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName(san), critical=False)
                .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        paths[f"{kind}_cert"] = folder / f"{name}-{kind}.pem"
        paths[f"{kind}_key"] = folder / f"{name}-{kind}.key"
        paths[f"{kind}_cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, paths[f"{kind}_key"])

    leaf("server", ExtendedKeyUsageOID.SERVER_AUTH,
         [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    leaf("client", ExtendedKeyUsageOID.CLIENT_AUTH, [x509.DNSName("kiltshop-client")])
    return paths


class TlsNode:
    def __init__(self, folder: Path) -> None:
        self.certs = make_certs(folder, "shop")
        self.other = make_certs(folder, "stranger")  # a CA the broker does not trust, and one we do not
        self.tls_port = free_port()
        self.node = PrivateRabbit(
            f"listeners.ssl.default = 127.0.0.1:{self.tls_port}\n"
            f"ssl_options.cacertfile = {self.certs['ca']}\n"
            f"ssl_options.certfile = {self.certs['server_cert']}\n"
            f"ssl_options.keyfile = {self.certs['server_key']}\n"
            "ssl_options.verify = verify_peer\n"
            "ssl_options.fail_if_no_peer_cert = true\n"
        )
        # the broker runs as another user when the tests run as root; it must read its own key
        for path in (self.certs["server_key"], self.certs["ca"], self.certs["server_cert"]):
            path.chmod(0o644)

    def url(self, ca: Path, cert: Path | None = None, key: Path | None = None) -> str:
        query = f"cafile={ca}" + (f"&certfile={cert}&keyfile={key}" if cert and key else "")
        return f"amqps://guest:guest@127.0.0.1:{self.tls_port}/?{query}"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsNode]:
    node = TlsNode(tmp_path_factory.mktemp("tls"))
    node.node.start()
    try:
        yield node
    finally:
        node.node.cleanup()


async def test_service_and_client_work_over_tls_with_client_certificates(tls: TlsNode, tmp_path: Path) -> None:
    url = tls.url(tls.certs["ca"], tls.certs["client_cert"], tls.certs["client_key"])
    settings = Settings(broker_url=url, namespace="tls", database_url=f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    assert settings.broker_address == f"127.0.0.1:{tls.tls_port}"
    service = ShopService(settings)
    await service.start()
    try:
        async with ShopClient(url, "tls") as client:
            created = await client.call("contacts.create", {"name": "Morag over TLS"})
            assert (await client.call("contacts.get", {"id": created["id"]}))["name"] == "Morag over TLS"
    finally:
        await service.stop()


async def test_no_client_certificate_is_refused_in_plain_words(tls: TlsNode) -> None:
    client = ShopClient(tls.url(tls.certs["ca"]), "tls", timeout=5)
    with pytest.raises(BrokerUnavailable) as refused:
        await client.connect()
    assert f"127.0.0.1:{tls.tls_port}" in str(refused.value)
    assert "Traceback" not in str(refused.value)


async def test_a_broker_certificate_we_do_not_trust_is_refused(tls: TlsNode) -> None:
    client = ShopClient(tls.url(tls.other["ca"], tls.certs["client_cert"], tls.certs["client_key"]), "tls", timeout=5)
    with pytest.raises(BrokerUnavailable) as refused:
        await client.connect()
    assert "certificate" in str(refused.value).lower()
