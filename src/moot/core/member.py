"""A list member as the core sees it."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("member", "editor", "moderator", "owner")
DELIVERY_MODES = ("regular", "digest")


@dataclass(frozen=True)
class Member:
    email: str  # lower case
    role: str = "member"
    delivery: str = "regular"
    nomail: bool = False  # subscribed (may post) but receives nothing
    receive_own: bool = True  # gets a copy of their own posts
    moderated: bool = False  # their posts are held for a moderator
    name: str = ""

    @property
    def can_moderate(self) -> bool:
        return self.role in ("moderator", "owner")
