"""Settings: one typed object built at start-up from ``moot.toml`` plus ``MOOT_*`` variables.

Nothing is read at import time.  Every key, its default and its meaning is in
:data:`DOCUMENTED` (the commented example file ``moot init`` writes is generated from it, and a
test fails when a setting lacks documentation).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moot.core.errors import MootError

if TYPE_CHECKING:
    from moot.delivery.signing import Signer

CONFIG_NAME = "moot.toml"


class ConfigError(MootError):
    pass


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    base_url: str = "http://127.0.0.1:8000"
    http: str = "127.0.0.1:8000"
    lmtp: str = "127.0.0.1:8024"
    relay: str = "127.0.0.1:25"
    admin_token: str = ""
    delivery_connections: str = "4"
    retry_hours: str = "48"
    dns: str = ""
    trusted_authserv: str = ""
    spamc: str = ""
    dkim_key: str = ""
    dkim_selector: str = ""
    dkim_domain: str = ""
    log_format: str = "text"
    db_pool_size: str = ""
    db_max_overflow: str = ""
    db_prepared_statements: str = "on"

    @property
    def connections(self) -> int:
        return int(self.delivery_connections)

    @property
    def retry_for_hours(self) -> float:
        return float(self.retry_hours)

    @property
    def nameservers(self) -> list[str] | None:
        """None: the system's resolver; [] with ``dns = "off"``: no look-ups."""
        if not self.dns:
            return None
        if self.dns == "off":
            return []
        return [s.strip() for s in self.dns.split(",") if s.strip()]

    def name_servers(self) -> tuple[list[str], int] | None:
        """The ``dns`` setting as (addresses, port) for dnspython; None: the system's resolver
        (check :attr:`nameservers` ``== []`` for "off" first).  Each entry is ``IP`` or
        ``IP:PORT`` (one port for all; IPv6 addresses without a port).

        >>> Settings(Path("."), "", dns="127.0.0.1:5353").name_servers()
        (['127.0.0.1'], 5353)
        """
        servers = self.nameservers
        if not servers:
            return None
        hosts, port = [], 53
        for server in servers:
            host, colon, number = server.rpartition(":")
            if colon and number.isdigit() and ":" not in host:
                hosts.append(host)
                port = int(number)
            else:
                hosts.append(server)
        return hosts, port

    def signer(self) -> Signer | None:
        """The DKIM signer ``dkim_key`` asks for, or None; a key that cannot be read is a
        :class:`ConfigError` saying so."""
        if not self.dkim_key:
            return None
        from moot.delivery.signing import Signer

        path = Path(self.dkim_key)
        path = path if path.is_absolute() else self.data_dir / path
        try:
            return Signer(self.dkim_domain.lower(), self.dkim_selector, path.read_bytes(),
                          self.dkim_domain.lower())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"dkim_key {path}: cannot use it ({exc})") from exc

    def pool(self) -> dict[str, Any]:
        """The database pool settings as :func:`moot.storage.db.open_engine` takes them.

        >>> Settings(Path("."), "", db_pool_size="2", db_prepared_statements="off").pool()
        {'pool_size': 2, 'max_overflow': None, 'prepared_statements': False}
        """
        return {"pool_size": int(self.db_pool_size) if self.db_pool_size else None,
                "max_overflow": int(self.db_max_overflow) if self.db_max_overflow else None,
                "prepared_statements": self.db_prepared_statements != "off"}

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


DOCUMENTED: dict[str, str] = {
    "database_url": "Where the archive lives. Default: SQLite in the data folder. "
                    "A postgresql://user@host/db URL switches to PostgreSQL.",
    "base_url": "The address readers use to reach the web archive; used in links, feeds "
                "and Archived-At headers.",
    "http": "HOST:PORT the web server listens on (moot serve --http overrides it).",
    "lmtp": "HOST:PORT the LMTP server listens on, for the mail server to hand mail to.",
    "relay": "HOST:PORT of the SMTP server outbound mail is handed to.",
    "admin_token": "A long random secret; REST API calls that change lists, members or held "
                   "posts must send it as 'Authorization: Bearer TOKEN'. Empty: those calls "
                   "are refused.",
    "delivery_connections": "How many connections each delivery worker opens to the relay at "
                            "once (1-100).",
    "retry_hours": "How long a recipient the relay refuses for now is tried again (waits "
                   "double from 1 minute up to 4 hours), in hours, before it counts as failed.",
    "dkim_key": "A PEM file with the RSA private key that DKIM-signs what the lists send "
                "(relative to the data folder, or absolute). Empty: nothing is signed.",
    "dkim_selector": "The selector the key's public half is published under: "
                     "SELECTOR._domainkey.DOMAIN (TXT 'v=DKIM1; k=rsa; p=...').",
    "dkim_domain": "The domain that signs (d=): mail of lists at this domain or under it is "
                   "signed.",
    "trusted_authserv": "The authserv-ids (comma-separated) of the mail servers in front of "
                        "moot, whose Authentication-Results header fields are believed (SPF, "
                        "DKIM, DMARC results); any other's are ignored.",
    "spamc": "A spam filter command that reads a message on stdin and exits 1 for spam, e.g. "
             "'spamc -c' (SpamAssassin). Empty: none; an X-Spam-Flag: YES header from the mail "
             "server still counts.",
    "dns": "Name servers asked for authors' DMARC policies, comma-separated IP addresses "
           "(IP:PORT for another port). Empty: the system's resolver (/etc/resolv.conf). "
           "'off': no look-ups, and posts go out without DMARC mitigation.",
    "log_format": "How moot serve writes its log on stderr: 'text' (readable lines) or 'json' "
                  "(one JSON object per line, for log collectors; docs/operations.md).",
    "db_pool_size": "Database connections each moot process keeps open (1-1000). Empty: 5 on "
                    "PostgreSQL, 20 on SQLite. Every process of every node has its own pool: "
                    "keep nodes x processes x (pool + overflow) under PostgreSQL's "
                    "max_connections, or put PgBouncer in front (docs/scaling.md).",
    "db_max_overflow": "Connections a process may open beyond db_pool_size at busy moments, "
                       "closed after use (0-1000). Empty: 10 on PostgreSQL, 20 on SQLite.",
    "db_prepared_statements": "'on' or 'off'. 'off' when PgBouncer older than 1.21 in "
                              "transaction mode sits between moot and PostgreSQL: psycopg then "
                              "never prepares statements on the server (docs/scaling.md).",
}

_ENV = {"database_url": "MOOT_DATABASE_URL", "base_url": "MOOT_BASE_URL", "relay": "MOOT_RELAY",
        "admin_token": "MOOT_ADMIN_TOKEN", "dns": "MOOT_DNS", "log_format": "MOOT_LOG_FORMAT",
        "db_pool_size": "MOOT_DB_POOL_SIZE", "db_max_overflow": "MOOT_DB_MAX_OVERFLOW",
        "db_prepared_statements": "MOOT_DB_PREPARED_STATEMENTS"}


def default_database_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'moot.sqlite3').resolve()}"


def load_settings(data_dir: Path, env: Mapping[str, str] | None = None) -> Settings:
    """Read ``DATA/moot.toml`` (if present) and let the environment override it."""
    env = os.environ if env is None else env
    values: dict[str, str] = {}
    path = data_dir / CONFIG_NAME
    if path.exists():
        try:
            parsed = tomllib.loads(path.read_text("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc}); fix or remove it") from exc
        known = {f.name for f in fields(Settings)} - {"data_dir"}
        for key, value in parsed.items():
            if key not in known:
                raise ConfigError(f"{path}: unknown setting {key!r}; "
                                  f"known ones are {', '.join(sorted(known))}")
            if not isinstance(value, str):
                raise ConfigError(f"{path}: {key} must be a string in quotes")
            values[key] = value
    for key, var in _ENV.items():
        if env.get(var):
            values[key] = env[var]
    values.setdefault("database_url", default_database_url(data_dir))
    for key, low, high in (("delivery_connections", 1, 100), ("retry_hours", 0.01, 24 * 365)):
        if key in values:
            try:
                number = float(values[key])
            except ValueError:
                number = -1
            if not low <= number <= high or (key == "delivery_connections"
                                               and not values[key].strip().isdigit()):
                raise ConfigError(f"{path}: {key} must be a number from {low} to {high} "
                                  f"(got {values[key]!r})")
    for key, low in (("db_pool_size", 1), ("db_max_overflow", 0)):
        raw = values.get(key, "").strip()
        if raw and not (raw.isdigit() and low <= int(raw) <= 1000):
            raise ConfigError(f"{path}: {key} must be a whole number from {low} to 1000 "
                              f"(got {values[key]!r})")
    if values.get("db_prepared_statements", "on") not in ("on", "off"):
        raise ConfigError(f"{path}: db_prepared_statements must be 'on' or 'off' "
                          f"(got {values['db_prepared_statements']!r})")
    if values.get("dkim_key") and not (values.get("dkim_selector") and
                                       values.get("dkim_domain")):
        raise ConfigError(f"{path}: dkim_key needs dkim_selector and dkim_domain too")
    return Settings(data_dir=data_dir, **values)


def example_config() -> str:
    """The commented ``moot.toml`` that ``moot init`` writes: every key, commented out."""
    lines = ["# moot configuration. Every key is optional; the values shown are the defaults.",
             "# Environment variables MOOT_DATABASE_URL, MOOT_BASE_URL, MOOT_RELAY,",
             "# MOOT_ADMIN_TOKEN, MOOT_DNS, MOOT_LOG_FORMAT, MOOT_DB_POOL_SIZE,",
             "# MOOT_DB_MAX_OVERFLOW and MOOT_DB_PREPARED_STATEMENTS override",
             "# this file.", ""]
    defaults = {f.name: f.default for f in fields(Settings)}
    defaults["database_url"] = "sqlite:///<this folder>/moot.sqlite3"
    for key, doc in DOCUMENTED.items():
        lines.append(f"# {doc}")
        lines.append(f'# {key} = "{defaults[key]}"')
        lines.append("")
    return "\n".join(lines)
