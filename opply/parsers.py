"""Request parsers that turn every malformed body into a 400, never a 500."""

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, also refusing bodies nested too deeply to decode."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the body is nested too deeply.") from exc


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, refusing a body that is not a complete multipart message.

    Django's parser takes a body without the boundary (or cut before the closing
    delimiter) as an empty or partial form, so garbage sent as multipart would be obeyed
    with the defaults (an add-to-order of 1 unit). The body is watched as Django reads
    it: the boundary's delimiter must open it (after at most a short preamble) and its
    close-delimiter must end it (before at most a short epilogue).
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        boundary = _boundary(media_type or "")
        watched = _WatchedStream(stream)
        parsed = super().parse(watched, media_type, parser_context)  # type: ignore[arg-type]
        if boundary is None or not watched.is_complete_multipart(boundary):
            raise ParseError("Multipart form parse error - the body is not a complete message.")
        return parsed


def _boundary(media_type: str) -> bytes | None:
    for parameter in media_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "boundary" and value.strip('"'):
            return value.strip('"').encode("latin-1", "replace")
    return None


class _WatchedStream:
    """A read-through stream that keeps the first and the last few kilobytes it served."""

    KEPT = 4096

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.head = b""
        self.tail = b""

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.stream.read(size)
        if len(self.head) < self.KEPT:
            self.head += data[: self.KEPT - len(self.head)]
        self.tail = (self.tail + data)[-self.KEPT :]
        return data

    def is_complete_multipart(self, boundary: bytes) -> bool:
        delimiter = b"--" + boundary
        return delimiter in self.head and delimiter + b"--" in self.tail
