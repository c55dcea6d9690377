"""The counter service's configuration: one TOML file, command-line overrides on top.

::

    [serve]
    host = "127.0.0.1"          # loopback unless allow_remote (then TLS and a token)
    port = 8765
    allow_remote = false
    tls_cert = "cert.pem"       # with tls_key: HTTPS/WSS
    tls_key = "key.pem"
    token_env = "SBKCARD_SERVE_TOKEN"   # clients must show this token (when set)
    origins = ["https://his.example"]  # pages allowed to call (the service's own always)
    max_message = 65536         # bytes per request
    rate = 50.0                 # calls per second per client (burst: twice that)
    busy_timeout = 10.0         # seconds a request waits for a busy reader
    hsm_fallback = true
    log_file = "audit.log"
    hotlist = "hotlist.db"      # or a postgresql:// URL

    [hsm]
    url = "http://127.0.0.1:8766"
    token_env = "SBKCARD_HSM_TOKEN"
    timeout = 10.0
    ca = "hsm-ca.pem"           # https: the CA of the HSM service's certificate
    client_cert = "counter.pem" # mutual TLS: this counter's certificate and key
    client_key = "counter.key"

    [pinpad]
    program = ["/usr/local/bin/pinpad"]
    timeout = 60.0

    [[reader]]
    name = "counter-1"
    card = "card.json"          # a simulated image, or
    pcsc = "Reader 00 00"       # a PC/SC reader
    psam = "psam.json"          # or psam_pcsc = "…"
    terminal_number = "000000000000"
    device_number = ""

Every bad setting is a :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sbkcard.database import is_url
from sbkcard.errors import SbkcardError


class ConfigError(SbkcardError):
    """A bad setting (the message names the file and the key)."""


@dataclass
class ReaderConfig:
    """One reader of the counter."""

    name: str = "default"
    card: Path | None = None
    pcsc: str | None = None
    psam: Path | None = None
    psam_pcsc: str | None = None
    terminal_number: str = "000000000000"
    device_number: str = ""


@dataclass
class ServeConfig:
    """Everything ``sbkcard serve`` runs with."""

    host: str = "127.0.0.1"
    port: int = 8765
    allow_remote: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    token_env: str | None = None
    origins: list[str] = field(default_factory=list)
    max_message: int = 65536
    rate: float = 50.0
    busy_timeout: float = 10.0
    hsm_fallback: bool = True
    log_file: Path | None = None
    hotlist: Path | str | None = None
    """An SQLite file or a ``postgresql://`` URL."""
    hsm_url: str | None = None
    hsm_token_env: str = "SBKCARD_HSM_TOKEN"
    hsm_timeout: float = 10.0
    hsm_ca: Path | None = None
    hsm_client_cert: Path | None = None
    hsm_client_key: Path | None = None
    pinpad: list[str] = field(default_factory=list)
    pinpad_timeout: float = 60.0
    readers: list[ReaderConfig] = field(default_factory=list)

    def check(self, source: str = "configuration") -> None:
        """Refuse what cannot run: no reader, a duplicate name, a remote bind without TLS."""
        if not self.readers:
            raise ConfigError(f"{source}: [[reader]]: no reader (give --card or --reader)")
        names = [r.name for r in self.readers]
        for name in names:
            if names.count(name) > 1:
                raise ConfigError(f"{source}: [[reader]] name: {name!r} appears twice")
        for i, reader in enumerate(self.readers):
            where = f"{source}: [[reader]] #{i + 1} ({reader.name})"
            if (reader.card is None) == (reader.pcsc is None):
                raise ConfigError(f"{where}: give exactly one of card (an image) and pcsc")
            if reader.psam is not None and reader.psam_pcsc is not None:
                raise ConfigError(f"{where}: give at most one of psam and psam_pcsc")
            if len(reader.terminal_number) != 12 or not reader.terminal_number.isdigit():
                raise ConfigError(f"{where} terminal_number: 12 digits expected")
            for key in ("card", "psam"):
                path = getattr(reader, key)
                if path is not None and not path.is_file():
                    raise ConfigError(f"{where} {key}: no such file {str(path)!r}")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"{source}: [serve] port: {self.port} is not 0..65535")
        if self.max_message < 256:
            raise ConfigError(f"{source}: [serve] max_message: at least 256 bytes")
        if self.rate <= 0:
            raise ConfigError(f"{source}: [serve] rate: must be positive")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError(f"{source}: [serve] tls_cert and tls_key go together")
        if (self.hsm_client_cert is None) != (self.hsm_client_key is None):
            raise ConfigError(f"{source}: [hsm] client_cert and client_key go together")
        if not is_loopback(self.host):
            if not self.allow_remote:
                raise ConfigError(
                    f"{source}: [serve] host: {self.host!r} is not loopback "
                    "(set allow_remote, with TLS and a token, to serve other machines)"
                )
            if self.tls_cert is None or self.token_env is None:
                raise ConfigError(
                    f"{source}: [serve] allow_remote needs tls_cert, tls_key and token_env"
                )
        for origin in self.origins:
            if not origin.startswith(("http://", "https://")) or origin.count("/") != 2:
                raise ConfigError(
                    f"{source}: [serve] origins: {origin!r} is not scheme://host[:port]"
                )


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_SERVE_KEYS: dict[str, type] = {
    "host": str,
    "port": int,
    "allow_remote": bool,
    "tls_cert": Path,
    "tls_key": Path,
    "token_env": str,
    "origins": list,
    "max_message": int,
    "rate": float,
    "busy_timeout": float,
    "hsm_fallback": bool,
    "log_file": Path,
    "hotlist": Path,
}
_HSM_KEYS: dict[str, tuple[str, type]] = {
    "url": ("hsm_url", str),
    "token_env": ("hsm_token_env", str),
    "timeout": ("hsm_timeout", float),
    "ca": ("hsm_ca", Path),
    "client_cert": ("hsm_client_cert", Path),
    "client_key": ("hsm_client_key", Path),
}
_PINPAD_KEYS: dict[str, tuple[str, type]] = {
    "program": ("pinpad", list),
    "timeout": ("pinpad_timeout", float),
}
_READER_KEYS = {f.name for f in fields(ReaderConfig)}


def _value(value: object, kind: type, where: str, base: Path) -> Any:
    if kind is float and type(value) in (int, float):
        return float(value)  # type: ignore[arg-type]
    if kind is Path and isinstance(value, str) and is_url(value):
        return value  # a database on a server (the hotlist)
    if kind is Path and isinstance(value, str):
        path = Path(value)
        return path if path.is_absolute() else base / path
    if kind is list:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        raise ConfigError(f"{where}: a list of strings expected")
    if type(value) is kind:
        return value
    expected = {int: "an integer", float: "a number", bool: "true or false"}.get(kind, "a string")
    raise ConfigError(f"{where}: {expected} expected, got {type(value).__name__}")


def load(path: Path) -> ServeConfig:
    """The configuration in the TOML file ``path`` (relative paths from its folder)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not TOML: {exc}") from None
    return from_mapping(data, str(path), path.parent)


def from_mapping(data: dict[str, Any], source: str, base: Path) -> ServeConfig:
    """The configuration in a parsed TOML document."""
    config = ServeConfig()
    unknown = sorted(set(data) - {"serve", "hsm", "pinpad", "reader"})
    if unknown:
        raise ConfigError(f"{source}: unknown table {unknown[0]!r}")
    for table, keys in (("serve", None), ("hsm", _HSM_KEYS), ("pinpad", _PINPAD_KEYS)):
        section = data.get(table, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{source}: [{table}] must be a table")
        for key, value in section.items():
            where = f"{source}: [{table}] {key}"
            if keys is None:
                if key not in _SERVE_KEYS:
                    raise ConfigError(f"{where}: unknown key")
                setattr(config, key, _value(value, _SERVE_KEYS[key], where, base))
            else:
                if key not in keys:
                    raise ConfigError(f"{where}: unknown key")
                attr, kind = keys[key]
                setattr(config, attr, _value(value, kind, where, base))
    readers = data.get("reader", [])
    if not isinstance(readers, list):
        raise ConfigError(f"{source}: reader must be an array of tables ([[reader]])")
    for i, entry in enumerate(readers):
        reader = ReaderConfig(name=f"reader-{i + 1}")
        for key, value in entry.items():
            where = f"{source}: [[reader]] #{i + 1} {key}"
            if key not in _READER_KEYS:
                raise ConfigError(f"{where}: unknown key")
            kind = Path if key in ("card", "psam") else str
            setattr(reader, key, _value(value, kind, where, base))
        config.readers.append(reader)
    return config
