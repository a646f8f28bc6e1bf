"""Console settings (the `console_node` section of config/stack.yaml)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ConsoleSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"  # loopback by default: exposing the console is a deliberate act
    port: int = Field(default=8080, ge=0, le=65535)  # 0 = any free port (tests)
    tls_cert: str = ""  # PEM files; both set = HTTPS/WSS
    tls_key: str = ""
    session_ttl_s: float = Field(default=900.0, gt=0)  # idle expiry
    session_max_s: float = Field(default=43200.0, gt=0)  # absolute expiry
    allowed_origins: list[str] = Field(default_factory=list)  # beyond same-origin loopback
    login_max_failures: int = Field(default=5, ge=1)
    login_window_s: float = Field(default=60.0, gt=0)
    jog_deadman_s: float = Field(default=0.3, gt=0)  # stop a jog not refreshed this long
    tick_s: float = Field(default=0.2, gt=0)  # heartbeat-age push period

    @model_validator(mode="after")
    def _tls_pair(self) -> ConsoleSettings:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key must be given together")
        return self

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert)
