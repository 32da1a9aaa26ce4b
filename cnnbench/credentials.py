"""Credentials in URLs (a study's storage, a tracker's URI): masked wherever they are printed or written.

Every part of a URL that can hold a secret is masked: the user info (``user:password@``) and each query
parameter whose name holds a secret word (``password``, ``passwd``, ``pwd``, ``token``, ``secret``, ``key``).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

#: a query parameter whose name holds one of these is a credential (password, passwd, pwd, token, ...)
SECRET_WORDS = ("pass", "pwd", "token", "secret", "key", "credential")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"]+")


def is_url(storage: str) -> bool:
    return "://" in storage


def _secret_param(name: str) -> bool:
    return any(word in name.lower() for word in SECRET_WORDS)


def mask_url(storage: str) -> str:
    """``storage`` with its user info and every secret query parameter (``password``, ``token``, ...)
    replaced by ``***``: safe to print and to record."""
    if not is_url(storage):
        return storage
    parts = urlsplit(storage)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if "@" not in parts.netloc and not any(_secret_param(key) for key, _ in query):
        return storage  # nothing to hide: the URL as written (urlunsplit would rewrite sqlite:///)
    netloc = "***@" + parts.netloc.rsplit("@", 1)[1] if "@" in parts.netloc else parts.netloc
    masked = urlencode([(key, "***" if _secret_param(key) else value) for key, value in query], safe="*/:")
    return urlunsplit(parts._replace(netloc=netloc, query=masked if query else parts.query))


def secrets(storage: str) -> list[str]:
    """The credentials in ``storage``: its user info and the values of its secret query parameters."""
    if not is_url(storage):
        return []
    parts = urlsplit(storage)
    found = [parts.netloc.rsplit("@", 1)[0]] if "@" in parts.netloc else []
    found += [parts.password] if parts.password else []
    found += [value for key, value in parse_qsl(parts.query, keep_blank_values=True) if _secret_param(key) and value]
    return sorted({*found, *(unquote(value) for value in found)}, key=len, reverse=True)


def scrub(text: str, storage: str) -> str:
    """``text`` (an error message) with every trace of the credentials of ``storage`` removed."""
    text = text.replace(storage, mask_url(storage))
    for secret in secrets(storage):
        text = text.replace(secret, "***")
    return text


def mask_text(text: str) -> str:
    """``text`` with every URL in it masked (:func:`mask_url`): for output that is not cnnbench's own."""
    return _URL.sub(lambda found: mask_url(found.group(0)), text)
