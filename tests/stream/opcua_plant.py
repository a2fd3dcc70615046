"""A real asyncua server for the OPC UA source's tests: a simulated traffic-signal controller and
an energy meter, certificates made here with `cryptography`, a user with a password, history on
the meter, and a TCP link in between that a test can cut and mend."""

import asyncio
import contextlib
import datetime as dt
import socket
from dataclasses import dataclass, field
from pathlib import Path

from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CLIENT_URI = "urn:example.org:FreeOpcUa:opcua-asyncio"  # asyncua's client application URI
SERVER_URI = "urn:freeopcua:python:server"
USER, PASSWORD = "citytwin", "s3cret"
START = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def certificate(folder: Path, name: str, uri: str) -> tuple[Path, Path]:
    """A self-signed application instance certificate (DER) and its key (PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    usage = x509.KeyUsage(True, True, True, True, False, True, False, False, False)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(uri), x509.DNSName(socket.gethostname())]
            ),
            critical=False,
        )
        .add_extension(usage, critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.der", folder / f"{name}.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Users:
    """One user with a password; anyone else is refused."""

    def get_user(self, iserver, username=None, password=None, certificate=None):
        return User(role=UserRole.User) if (username, password) == (USER, PASSWORD) else None


@dataclass
class Plant:
    """The server: `Signal12.VehicleCount` (no history), `Meter7.Power` (history) and
    `Meter7.Mode` (a string), behind secure endpoints only."""

    folder: Path
    port: int = field(default_factory=free_port)
    server: Server | None = None
    nodes: dict = field(default_factory=dict)
    namespace: int = 2

    async def start(self) -> None:
        cert, key = self.folder / "server.der", self.folder / "server.pem"
        if not cert.exists():
            certificate(self.folder, "server", SERVER_URI)
        server = Server(user_manager=Users())
        await server.init()
        server.set_endpoint(f"opc.tcp://127.0.0.1:{self.port}/citytwin/")
        server.set_security_policy(
            [
                ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
                ua.SecurityPolicyType.Basic256Sha256_Sign,
            ]
        )
        server.set_identity_tokens([ua.UserNameIdentityToken])
        await server.load_certificate(str(cert))
        await server.load_private_key(str(key))
        self.namespace = await server.register_namespace("urn:citytwin:test-plant")
        ns = self.namespace
        objects = server.nodes.objects
        signal = await objects.add_object(ua.NodeId("Signal12", ns), f"{ns}:Signal12")
        meter = await objects.add_object(ua.NodeId("Meter7", ns), f"{ns}:Meter7")
        self.nodes = {
            "count": await signal.add_variable(
                ua.NodeId("Signal12.VehicleCount", ns), f"{ns}:VehicleCount", 0.0
            ),
            "power": await meter.add_variable(ua.NodeId("Meter7.Power", ns), f"{ns}:Power", 0.0),
            "mode": await meter.add_variable(ua.NodeId("Meter7.Mode", ns), f"{ns}:Mode", "auto"),
        }
        await server.start()
        self.server = server
        for name in ("count", "power"):  # measured at START, so that source times only grow
            await self.write(name, 0.0, 0)
        await server.historize_node_data_change(self.nodes["power"], period=None)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None

    async def write(self, name: str, value: object, minute: int, status: int = 0) -> None:
        """Set a node's value as measured `minute` minutes after START (its source time)."""
        variant = ua.Variant(value, ua.VariantType.Double if isinstance(value, float) else None)
        if isinstance(value, str):  # the node changes type (after a bad value left it null)
            string = ua.DataValue(ua.Variant(ua.NodeId(ua.ObjectIds.String)))
            nodeid = self.nodes[name].nodeid
            await self.server.write_attribute_value(nodeid, string, ua.AttributeIds.DataType)
        data = ua.DataValue(
            variant,
            StatusCode=ua.StatusCode(status),
            SourceTimestamp=START + dt.timedelta(minutes=minute),
            ServerTimestamp=dt.datetime.now(dt.UTC),
        )
        await self.server.write_attribute_value(self.nodes[name].nodeid, data)


@dataclass
class Link:
    """A TCP relay from a free port to the server; `cut` drops every connection and refuses new
    ones until `mend`."""

    target: int
    port: int = field(default_factory=free_port)
    open: bool = True
    pairs: list = field(default_factory=list)
    relay: asyncio.Server | None = None

    async def start(self) -> None:
        self.relay = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _accept(self, reader, writer) -> None:
        if not self.open:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        self.pairs += [writer, up_writer]
        await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))

    def cut(self) -> None:
        self.open = False
        for writer in self.pairs:
            writer.close()
        self.pairs.clear()

    def mend(self) -> None:
        self.open = True

    async def stop(self) -> None:
        self.cut()
        if self.relay is not None:
            self.relay.close()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()
