"""List addresses and their sub-addresses."""

from __future__ import annotations

import re

_LIST_ADDRESS = re.compile(r"^[a-z0-9][a-z0-9._+\-]{0,63}@[a-z0-9\-]+(?:\.[a-z0-9\-]+)+$")


def valid_list_address(address: str) -> bool:
    """Whether a string can be a list's posting address.

    >>> valid_list_address("r-devel@r-project.org")
    True
    >>> valid_list_address("no spaces@example.org"), valid_list_address("nodomain")
    (False, False)
    """
    return bool(_LIST_ADDRESS.match(address.strip().lower()))


def obfuscate(address: str) -> str:
    """An address as shown on public pages: readable by people, not harvested by scripts.

    >>> obfuscate("jdoe@example.org")
    'jdoe@e...'
    """
    local, at, domain = address.partition("@")
    if not at:
        return address
    return f"{local}@{domain[:1]}..."
