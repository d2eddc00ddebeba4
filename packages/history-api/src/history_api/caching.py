"""HTTP caching for data pages: a strong ETag on the body, and a max-age only for pages that can no longer change."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from litestar import MediaType, Request, Response


def json_page(
    request: Request[Any, Any, Any],
    body: bytes,
    *,
    max_age_s: int,
    salt: bytes = b"",
    extra_headers: Mapping[str, str] | None = None,
) -> Response[bytes]:
    """200 with the body, or 304 when the client's If-None-Match already names it.

    max_age_s = 0 means "revalidate every time" (a page that still holds a forming bar).  `salt` is
    hashed before the body: what else shapes the page (its price basis), so that two variants never
    share an ETag even when their bytes happen to agree.
    """
    etag = '"' + hashlib.blake2b(salt + body, digest_size=12).hexdigest() + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"private, max-age={max_age_s}" if max_age_s > 0 else "private, no-cache",
        # Another key may not see a cached copy, and gzip varies the bytes.
        "Vary": "X-API-Key, Authorization, Accept-Encoding",
        **(extra_headers or {}),
    }
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and (if_none_match.strip() == "*" or etag in (t.strip() for t in if_none_match.split(","))):
        return Response(b"", status_code=304, headers=headers)
    return Response(body, media_type=MediaType.JSON, headers=headers)
