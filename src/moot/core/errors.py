"""The archive's own errors.  Each adapter maps them to its protocol (HTTP status, exit code)."""

from __future__ import annotations


class MootError(Exception):
    """Base class: the message is written for the person who has to act on it."""


class ListNotFound(MootError):
    def __init__(self, address: str) -> None:
        super().__init__(f"no list {address!r}: create it with `moot list create {address}`")
        self.address = address


class ListExists(MootError):
    def __init__(self, address: str) -> None:
        super().__init__(f"the list {address!r} already exists")
        self.address = address


class NotMail(MootError):
    """Bytes that are not an email message at all."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class MessageNotFound(MootError):
    def __init__(self, message_id: str) -> None:
        super().__init__(f"no message with Message-ID <{message_id}> in this archive")
        self.message_id = message_id


class BadSetting(MootError):
    """A list setting given a value it cannot take."""


class HoldNotFound(MootError):
    def __init__(self, address: str, hold_id: int) -> None:
        super().__init__(f"no held post {hold_id} on {address}: `moot held {address}` lists them")


class AlreadyDecided(MootError):
    def __init__(self, hold_id: int, decision: str) -> None:
        super().__init__(f"held post {hold_id} was already decided ({decision})")


class Banned(MootError):
    """The address is banned from the list (or the site): it may not join."""
