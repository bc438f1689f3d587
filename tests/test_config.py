"""Settings from moot.toml: numbers are checked when read, with a message naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from moot.config import ConfigError, load_settings


@pytest.mark.parametrize(("line", "wanted"), [
    ('delivery_connections = "8"', 8), ('delivery_connections = "0"', None),
    ('delivery_connections = "2.5"', None), ('delivery_connections = "many"', None)])
def test_delivery_connections(tmp_path: Path, line: str, wanted: int | None) -> None:
    (tmp_path / "moot.toml").write_text(line + "\n")
    if wanted is None:
        with pytest.raises(ConfigError, match="delivery_connections must be a number"):
            load_settings(tmp_path, env={})
    else:
        assert load_settings(tmp_path, env={}).connections == wanted


def test_retry_hours(tmp_path: Path) -> None:
    assert load_settings(tmp_path, env={}).retry_for_hours == 48
    (tmp_path / "moot.toml").write_text('retry_hours = "6"\n')
    assert load_settings(tmp_path, env={}).retry_for_hours == 6
    (tmp_path / "moot.toml").write_text('retry_hours = "-1"\n')
    with pytest.raises(ConfigError, match="retry_hours"):
        load_settings(tmp_path, env={})


def test_a_dkim_key_needs_its_selector_and_domain_and_must_be_readable(tmp_path: Path) -> None:
    (tmp_path / "moot.toml").write_text('dkim_key = "k.pem"\n')
    with pytest.raises(ConfigError, match="dkim_selector and dkim_domain"):
        load_settings(tmp_path, env={})
    (tmp_path / "moot.toml").write_text(
        'dkim_key = "k.pem"\ndkim_selector = "s1"\ndkim_domain = "example.org"\n')
    settings = load_settings(tmp_path, env={})
    with pytest.raises(ConfigError, match="cannot use it"):
        settings.signer()
    (tmp_path / "k.pem").write_text("not a key")
    with pytest.raises(ConfigError, match="cannot use it"):
        settings.signer()
