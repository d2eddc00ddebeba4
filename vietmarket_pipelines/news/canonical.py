"""One canonical URL per article, so a story seen in two feeds or under two spellings is stored once."""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit, urlunsplit

from courlan import normalize_url

CANONICAL_ORIGIN: Final = "https://vietstock.vn"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def canonical_url(link: str, served_from: str | None = None) -> str:
    """https, lower-case host and path, no tracking parameters, fragment or trailing slash.

    A link served by `served_from` (the configured Vietstock base URL, e.g. the simulator) is
    rewritten onto Vietstock's own origin, so stored URLs are the same wherever they were read.
    Paths are lower-cased because Vietstock's server treats them case-insensitively and links to
    one article appear in both spellings.
    """
    link = link.strip()
    if not link:
        raise ValueError("empty article link")
    # courlan knows the tracking parameters (utm_*, fbclid, gclid, ...) and sorts the rest.
    cleaned = normalize_url(link, strict=True)
    parts = urlsplit(cleaned)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) article link: {link[:200]!r}")
    origin = f"https://{parts.netloc.lower()}"
    if served_from is not None and origin_of(cleaned) == origin_of(served_from):
        origin = CANONICAL_ORIGIN
    path = parts.path.lower().rstrip("/") or "/"
    return urlunsplit(("https", urlsplit(origin).netloc, path, parts.query, ""))


def path_of(canonical: str) -> str:
    """The request target of a canonical URL, to be fetched from whichever base URL is configured."""
    parts = urlsplit(canonical)
    return parts.path + (f"?{parts.query}" if parts.query else "")
