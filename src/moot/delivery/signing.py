"""Signing what the list sends: a DKIM signature (RFC 6376) by the list's domain, and an ARC
set (RFC 8617) recording what we found about the post before we changed it.

Why: the list changes every post (subject tag, list header fields, footer), so the author's
signature no longer verifies, and the copies need a signature of their own for receivers to
trust them.  RFC 8058 section 4 asks for one that covers ``List-Unsubscribe`` and
``List-Unsubscribe-Post`` before a receiver offers one-click unsubscribing.  The ARC set lets
a receiver that trusts us see that the post passed authentication on arrival.

Both methods return the message with the new header fields on top and every byte of the
given message after them unchanged, in its own line endings.  The signature is
relaxed/relaxed rsa-sha256, ``h=`` lists each covered field once per occurrence, and once
more for the fields in :data:`SEALED` so that nobody can add one later without breaking it
(RFC 6376 section 8.15).

What it won't do: no ed25519 (RFC 8463) signing, no key generation or rotation, no DNS
publishing; the key's TXT record (``SELECTOR._domainkey.DOMAIN``) is the operator's to
publish.  It checks no results itself: ``arc_seal`` is told them.
"""

from __future__ import annotations

import re

import dkim
import dkim.crypto

from moot.core.headers import header_end

# Fields the signature covers when present (RFC 6376 section 5.4.1, RFC 2369, RFC 2919,
# RFC 8058, RFC 5064).
SIGNED = ("from", "sender", "reply-to", "to", "cc", "subject", "date", "message-id",
          "in-reply-to", "references", "mime-version", "content-type",
          "content-transfer-encoding", "list-id", "list-help", "list-subscribe",
          "list-unsubscribe", "list-unsubscribe-post", "list-post", "list-owner",
          "list-archive", "archived-at")
# ...and that no one may add afterwards, present or not.
SEALED = frozenset({"from", "reply-to", "to", "cc", "subject", "date", "message-id",
                    "list-id", "list-post", "list-unsubscribe", "list-unsubscribe-post"})


def _eol(data: bytes) -> bytes:
    """The message's line ending, judged by its first line.

    >>> _eol(b"From: a\\r\\n\\r\\nhi"), _eol(b"From: a\\n\\nhi")
    (b'\\r\\n', b'\\n')
    """
    first = data.find(b"\n")
    return b"\r\n" if first > 0 and data[first - 1:first] == b"\r" else b"\n"


def covered(data: bytes, later: frozenset[str] = frozenset()) -> list[bytes]:
    """The ``h=`` list for ``data``: each field of :data:`SIGNED` as often as it occurs, and
    once more for :data:`SEALED` -- except the fields in ``later``, which will be added to
    each copy after signing (a member's own List-Unsubscribe): they are left out.

    >>> covered(b"From: a@example.org\\nReceived: x\\nTo: b\\nto: c\\n\\nhi")
    [b'from', b'from', b'reply-to', b'to', b'to', b'to', b'cc', b'subject', b'date', \
b'message-id', b'list-id', b'list-unsubscribe', b'list-unsubscribe-post', b'list-post']
    """
    names = [m.group(1).lower() for m in re.finditer(
        rb"^([\x21-\x39\x3b-\x7e]+)[ \t]*:", data[:header_end(data)], re.MULTILINE)]
    counts = {name: names.count(name.encode("ascii")) for name in SIGNED}
    return [name.encode("ascii") for name in SIGNED if name not in later
            for _ in range(counts[name] + (name in SEALED))]


class Signer:
    """``Signer("example.org", "moot1", pem, "lists.example.org")``: signs and seals for one
    domain with one key.  Raises ValueError here for a key dkimpy can't read, and in the
    methods for a message it can't parse."""

    def __init__(self, domain: str, selector: str, private_key_pem: bytes,
                 authserv_id: str) -> None:
        try:
            dkim.crypto.parse_pem_private_key(private_key_pem)
        except Exception as exc:  # noqa: BLE001 - dkimpy's UnparsableKeyError and ASN.1 errors
            raise ValueError(f"the DKIM private key could not be read: {exc}") from None
        self.domain = domain.strip().rstrip(".").lower()
        self.selector = selector.strip()
        self.authserv_id = authserv_id.strip()
        try:
            self._domain = self.domain.encode("idna")
            self._selector = self.selector.encode("ascii")
            self._authserv = self.authserv_id.encode("ascii")
        except UnicodeError:
            raise ValueError("the DKIM domain, selector and authserv-id must be DNS names") \
                from None
        self._key = private_key_pem

    def dkim_sign(self, data: bytes) -> bytes:
        """``data`` with a DKIM-Signature on top."""
        try:
            field = dkim.sign(data, self._selector, self._domain, self._key,
                              canonicalize=(b"relaxed", b"relaxed"),
                              include_headers=covered(data), linesep=_eol(data))
        except dkim.DKIMException as exc:
            raise ValueError(f"could not sign the message: {exc}") from None
        return bytes(field) + data

    def arc_seal(self, data: bytes, auth_results: str, *,
                 later: frozenset[str] = frozenset()) -> bytes:
        """``data`` with the next ARC set on top: ARC-Seal, ARC-Message-Signature and
        ARC-Authentication-Results.  ``auth_results`` is what we found on arrival, as an
        Authentication-Results value (``dkim=pass header.d=example.net; arc=none``); our
        authserv-id is put in front when it does not begin with it.  It must carry an
        ``arc=`` result when ``data`` already has an ARC chain: it becomes the seal's ``cv=``
        (RFC 8617).  ``later``: fields each copy gets after sealing, left uncovered (see
        :func:`covered`), so one seal serves every member's copy.

        The fields are computed on a copy whose own Authentication-Results fields are
        replaced by this one; no signature covers those fields, so the set verifies on
        ``data`` as it is."""
        value = " ".join(auth_results.split())
        if value.split(";")[0].split()[:1] != [self.authserv_id]:
            value = f"{self.authserv_id}; {value}"
        eol = _eol(data)
        end = header_end(data)
        ending = re.match(rb"\r?\n", data[end:])  # the last field's line break
        after = end + (ending.end() if ending else 0)
        kept = re.sub(rb"(?im)^authentication-results[ \t]*:.*\n(?:[ \t].*\n)*", b"",
                      data[:after] if ending else data + eol)
        copy = b"Authentication-Results: " + value.encode("utf-8") + eol + kept + data[after:]
        try:
            fields = dkim.arc_sign(copy, self._selector, self._domain, self._key,
                                   self._authserv, include_headers=covered(data, later),
                                   linesep=eol)
        except dkim.DKIMException as exc:
            raise ValueError(f"could not seal the message: {exc}") from None
        except NameError:  # dkimpy found no authres module
            raise ValueError("ARC sealing needs the authres package (dkimpy[arc])") from None
        if not fields:
            raise ValueError("could not seal the message: the results must say arc=pass or "
                             "arc=fail for a message that already has an ARC chain")
        return b"".join(bytes(f) for f in fields) + data
