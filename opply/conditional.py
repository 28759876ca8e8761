"""Conditional requests: versions as ETags, `If-None-Match` (304) on reads and `If-Match`
(412) on writes. The views parse the headers here; the services check `IfMatch` under the
row lock they already hold, so a stale write cannot slip in between the check and the write.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from opply.exceptions import PreconditionFailed


@dataclass(frozen=True)
class IfMatch:
    """The versions an `If-Match` header accepts (`*`: any). A header that names no strong
    version tag accepts none, so the write is refused rather than done blindly."""

    versions: frozenset[int]
    any: bool = False

    def require(self, current_version: int) -> None:
        """PreconditionFailed unless `current_version` is one the header accepts."""
        if not (self.any or current_version in self.versions):
            raise PreconditionFailed(current_version=current_version)


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def if_match(request: Request) -> IfMatch | None:
    """The request's `If-Match`, or None when it has none (the write proceeds as before)."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    versions = set()
    for tag in _tags(header):
        if tag == "*":
            return IfMatch(frozenset(), any=True)
        # Strong comparison (RFC 9110): a weak tag never matches.
        if 3 <= len(tag) <= 20 and tag[0] == tag[-1] == '"' and tag[1:-1].isdecimal():
            versions.add(int(tag[1:-1]))
    return IfMatch(frozenset(versions))


def version_etag(version: int) -> str:
    return f'"{version}"'


def content_etag(body: bytes) -> str:
    """A weak ETag of a rendered response body (a list page)."""
    return f'W/"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


def _opaque(tag: str) -> str:
    return tag[2:] if tag.startswith("W/") else tag


def none_match(request: Request, etag: str, *, star: bool = True) -> bool:
    """True when `If-None-Match` names `etag` (weak comparison) or is `*` (unless `star` is
    False: a `*` then waits until the resource is known to exist)."""
    header = request.headers.get("If-None-Match")
    if header is None:
        return False
    wanted = _opaque(etag)
    return any((star and tag == "*") or _opaque(tag) == wanted for tag in _tags(header))


def conditional(request: Request, response: Response, etag: str) -> Response:
    """`response` with its ETag, or an empty 304 when the client already holds it."""
    if none_match(request, etag):
        return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
    response["ETag"] = etag
    return response


def conditional_rendered(request: Request, response: Response) -> Response:
    """A finalized 200 response with a weak ETag (the view's, or else one of its rendered
    body), turned into an empty 304 when the client already holds it. Hashing the bytes once
    rendered costs a fraction of serializing the data a second time."""
    if response.status_code != status.HTTP_200_OK:
        return response
    etag = response.get("ETag")
    if etag is None:
        response.render()
        etag = content_etag(response.content)
        response["ETag"] = etag
    if none_match(request, etag):
        response.status_code = status.HTTP_304_NOT_MODIFIED
        response.content = b""
        del response["Content-Type"]
    return response
