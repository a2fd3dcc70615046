"""A feed's OPC UA servers as declared in its YAML (`sources: {opcua: [...]}`). Pure.

```yaml
sources:
  opcua:
    - name: substation-3
      endpoint: opc.tcp://10.0.0.7:4840
      security: {mode: SignAndEncrypt, policy: Basic256Sha256,
                 certificate: /etc/citytwin/client.der, private_key: /etc/citytwin/client.pem}
      user: {username: citytwin, password_env: CITYTWIN_OPCUA_SUBSTATION_PASSWORD}
      subscription: {publishing_interval_ms: 1000, sampling_interval_ms: 500, queue_size: 10,
                     deadband: 0.5}
      nodes:
        - {node: "ns=2;s=Meter7.Power", sensor_id: meter-7, variable: power_kw, unit: kW,
           lon: 9.52, lat: 47.14}
        - {browse_path: ["0:Objects", "2:Signal12", "2:VehicleCount"], sensor_id: sig-12,
           variable: vehicle_count, unit: veh/h, lon: 9.53, lat: 47.13}
```
"""

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Security(Strict):
    """The secure channel: None, or Sign / SignAndEncrypt with Basic256Sha256 certificates."""

    mode: Literal["None", "Sign", "SignAndEncrypt"] = "None"
    policy: Literal["Basic256Sha256"] = "Basic256Sha256"
    certificate: Path | None = Field(default=None, description="Client certificate (DER or PEM).")
    private_key: Path | None = Field(default=None, description="Client private key (PEM).")
    server_certificate: Path | None = Field(
        default=None, description="The server's certificate; unset: taken from its endpoints."
    )

    @model_validator(mode="after")
    def _keys_when_secure(self) -> "Security":
        if self.mode != "None" and (self.certificate is None or self.private_key is None):
            raise ValueError(f"security mode {self.mode} needs certificate and private_key")
        return self


class User(Strict):
    """User name and the environment variable holding the password (never the password)."""

    username: str
    password_env: str | None = None


class Subscription(Strict):
    """How the server reports changes."""

    publishing_interval_ms: float = Field(default=1000, gt=0)
    sampling_interval_ms: float = Field(default=500, ge=0)
    queue_size: int = Field(default=10, ge=0)
    deadband: float = Field(default=0, ge=0, description="Absolute deadband; 0: every change.")


class NodeMapping(Strict):
    """One OPC UA variable as one sensor's variable of this feed."""

    node: str | None = Field(default=None, description="NodeId, e.g. ns=2;s=Meter7.Power.")
    browse_path: list[str] | None = Field(
        default=None, description="Qualified names from the root, e.g. ['0:Objects', '2:Meter7']."
    )
    sensor_id: str
    variable: str
    unit: str | None = None
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)

    @model_validator(mode="after")
    def _one_address(self) -> "NodeMapping":
        if (self.node is None) == (self.browse_path is None):
            raise ValueError("give either node or browse_path")
        return self

    @property
    def address(self) -> str:
        """The node as written: its NodeId or its browse path."""
        return self.node or "/".join(self.browse_path or [])


class OpcUaServer(Strict):
    """One OPC UA server of a feed and the nodes read from it."""

    name: str | None = None
    endpoint: str = Field(pattern=r"^opc\.tcp://")
    security: Security = Field(default_factory=Security)
    user: User | None = None
    subscription: Subscription = Field(default_factory=Subscription)
    history: bool = Field(
        default=True, description="Fill a disconnect's gap with HistoryRead where offered."
    )
    nodes: list[NodeMapping] = Field(min_length=1)


class Sources(Strict):
    """A feed's live sources by kind (MQTT and HTTP push need no declaration here)."""

    opcua: list[OpcUaServer] = Field(default_factory=list)
