"""`Idempotency-Key` for state-changing POSTs (docs/api.md, "Idempotency").

The first request with a key claims a row (committed at once, so duplicates can see it),
then runs the view inside one transaction that holds that row locked and stores the
response in it. The effect and the stored response therefore commit together or not at
all: a retry either replays the stored response or, if the first attempt died or was rolled
back, runs the request afresh. Never a double effect.

A duplicate that finds the row locked gets 409 `idempotency_in_progress`; the same key
with another method, path or body gets 422 `idempotency_key_reused`. Responses of 5xx
are not stored, so a retry after an outage runs again.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.http.request import RawPostDataException
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from opply.exceptions import DomainError
from opply.models import IdempotencyRecord
from opply.permissions import caller

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255

View = TypeVar("View", bound=Callable[..., Response])

# What the decorator adds to an operation, declared here once: opply.schema documents every
# decorated view with this header and these responses, and no view repeats them.
KEY_PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        f"Retry-safe key (1 to {MAX_KEY_LENGTH} characters), scoped to the caller: the first "
        "complete response is stored and replayed for every retry with the same key."
    ),
)
RESPONSES = {
    "400": f"`{HEADER}` longer than {MAX_KEY_LENGTH} characters or blank.",
    "409": "`idempotency_in_progress`: a request with the same key is still running.",
    "422": "`idempotency_key_reused`: the key was used with a different request.",
}


def is_idempotent(view_method: Any) -> bool:
    """Whether a view method is wrapped by `idempotent` (read by the schema generator)."""
    return getattr(view_method, "idempotent", False) is True


class IdempotencyInProgress(DomainError):
    code = "idempotency_in_progress"
    detail = "A request with this Idempotency-Key is still being processed; retry shortly."


class IdempotencyKeyReused(DomainError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    code = "idempotency_key_reused"
    detail = "This Idempotency-Key was used with a different request."


class _NotStored(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def idempotent(view_method: View) -> View:
    """Decorate a DRF view method so that it honours the Idempotency-Key header."""

    @functools.wraps(view_method)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return view_method(view, request, *args, **kwargs)
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            raise ValidationError({HEADER: [f"Must be between 1 and {MAX_KEY_LENGTH} characters."]})
        fingerprint = _fingerprint(request)
        record = _claim(user_id=caller(request).pk, key=key, fingerprint=fingerprint)
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyReused()
        try:
            with transaction.atomic():
                locked = _lock(record)
                if locked.fingerprint != fingerprint:
                    raise IdempotencyKeyReused()
                if locked.is_complete:
                    return _replay(locked)
                response = _run(view, view_method, request, *args, **kwargs)
                if response.status_code >= 500:
                    raise _NotStored(response)
                locked.response_status = response.status_code
                locked.response_body = _jsonable(response.data)
                locked.save(update_fields=["response_status", "response_body"])
                return response
        except _NotStored as not_stored:
            return not_stored.response

    wrapper.idempotent = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def _fingerprint(request: Request) -> str:
    try:
        body = request._request.body
    except RawPostDataException:
        body = repr(sorted(request.data.items())).encode()
    digest = hashlib.sha256()
    for part in (request.method or "", request.get_full_path()):
        digest.update(part.encode())
        digest.update(b"\n")
    digest.update(body)
    return digest.hexdigest()


def _claim(*, user_id: int, key: str, fingerprint: str) -> IdempotencyRecord:
    """The key's row, created (and committed) if new; an expired one starts over."""
    try:
        with transaction.atomic():
            record, created = IdempotencyRecord.objects.get_or_create(
                user_id=user_id, key=key, defaults={"fingerprint": fingerprint}
            )
    except IntegrityError:
        record = IdempotencyRecord.objects.get(user_id=user_id, key=key)
        created = False
    expiry = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    if not created and record.created_at < expiry:
        IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at).update(
            fingerprint=fingerprint,
            created_at=timezone.now(),
            response_status=None,
            response_body=None,
        )
        record.refresh_from_db()
    return record


def _lock(record: IdempotencyRecord) -> IdempotencyRecord:
    """The row locked for this transaction; 409 if another request holds it."""
    try:
        return IdempotencyRecord.objects.select_for_update(nowait=True).get(pk=record.pk)
    except OperationalError as exc:
        if _is_lock_not_available(exc):
            raise IdempotencyInProgress() from exc
        raise


def _is_lock_not_available(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == "55P03"


def _run(
    view: Any, view_method: Callable[..., Response], request: Request, *args: Any, **kwargs: Any
) -> Response:
    """The view's response, errors included, so that 4xx answers are stored too."""
    try:
        with transaction.atomic():
            return view_method(view, request, *args, **kwargs)
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        return view.handle_exception(exc)


def _replay(record: IdempotencyRecord) -> Response:
    assert record.response_status is not None
    return Response(
        record.response_body, status=record.response_status, headers={"Idempotent-Replayed": "true"}
    )


def _jsonable(data: Any) -> Any:
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))
