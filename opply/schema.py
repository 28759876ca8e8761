"""OpenAPI description of the API: the shared error bodies and the errors every operation
can answer with, so each operation in the schema lists them without repeating them by hand.

Views declare what only they know (the 201 of a create, the 409 bodies of stock and state
conflicts); `AutoSchema` adds the rest from the view's own configuration: 401 when the view
needs a signed-in caller, 403 when it needs staff, 404 on a path with an id, 400 where input
is read, 415 where a body is parsed, 409/422 where an `Idempotency-Key` is accepted, 429 where
a throttle applies and 503 wherever the database is involved.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.serializers import PolymorphicProxySerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    inline_serializer,
)
from rest_framework import permissions, serializers

from opply import idempotency
from opply.permissions import IsStaffOrReadOnly

BASIC_AUTH = "basicAuth"
TOKEN_AUTH = "tokenAuth"


class TokenScheme(OpenApiAuthenticationExtension):
    """DRF's token header, described so that a first user types it right in Swagger UI."""

    target_class = "rest_framework.authentication.TokenAuthentication"
    name = TOKEN_AUTH
    match_subclasses = True
    priority = 1

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "Send `Authorization: Token <key>`. In Authorize, type `Token`, a space, then "
                "the key: the key alone, or `Bearer <key>`, is refused with 401. "
                "`POST /token/` (username and password) or `GET /token/` (HTTP Basic) returns "
                "your key; `DELETE /token/` revokes it."
            ),
        }


def token_scheme_first(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: the token scheme leads the security schemes, so that Swagger UI's
    Authorize dialog offers it first (drf-spectacular sorts them by name)."""
    schemes = result.get("components", {}).get("securitySchemes")
    if schemes and TOKEN_AUTH in schemes:
        result["components"]["securitySchemes"] = {
            TOKEN_AUTH: schemes[TOKEN_AUTH],
            **{name: scheme for name, scheme in schemes.items() if name != TOKEN_AUTH},
        }
    return result


class ErrorSerializer(serializers.Serializer):
    """The body of every error response."""

    detail = serializers.CharField(help_text="A sentence for people.")
    code = serializers.CharField(help_text="A stable machine code, e.g. `not_found`, `invalid`.")
    # Describes a body, never validates one: shadowing `Serializer.errors` is harmless.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.JSONField(),
        required=False,
        help_text=(
            "Validation errors only: a list of messages by field name (for a list of "
            "objects such as order lines, one object of field errors per line)."
        ),
    )
    request_id = serializers.CharField(
        required=False, help_text="The request's X-Request-ID, to quote when reporting a problem."
    )

    class Meta:
        ref_name = "Error"


class ShortLineSerializer(serializers.Serializer):
    product = serializers.IntegerField()
    requested = serializers.IntegerField()
    available = serializers.IntegerField()

    class Meta:
        ref_name = "ShortLine"


class InsufficientStockErrorSerializer(ErrorSerializer):
    """`code` is `insufficient_stock`; `lines` lists every short line, nothing was changed."""

    lines = ShortLineSerializer(many=True)

    class Meta:
        ref_name = "InsufficientStockError"


class TransitionErrorSerializer(ErrorSerializer):
    """`code` is `illegal_transition`: the order's status and the one that was asked for."""

    current = serializers.CharField()
    target = serializers.CharField()

    class Meta:
        ref_name = "TransitionError"


class QuantityRuleLineSerializer(serializers.Serializer):
    product = serializers.IntegerField()
    quantity = serializers.IntegerField(help_text="The line quantity that breaks the rules.")
    min_order_quantity = serializers.IntegerField()
    order_increment = serializers.IntegerField()
    max_order_quantity = serializers.IntegerField(allow_null=True)
    nearest = serializers.ListField(
        child=serializers.IntegerField(allow_null=True),
        min_length=2,
        max_length=2,
        help_text="The valid quantities just below and just above; null where there is none.",
    )

    class Meta:
        ref_name = "QuantityRuleLine"


class QuantityRuleErrorSerializer(ErrorSerializer, QuantityRuleLineSerializer):
    """`code` is `quantity_rule`: the line would break its product's quantity rules."""

    class Meta:
        ref_name = "QuantityRuleError"


class QuantityRulesErrorSerializer(ErrorSerializer):
    """`code` is `quantity_rules`: every line that breaks its rules; nothing was changed."""

    lines = QuantityRuleLineSerializer(many=True)

    class Meta:
        ref_name = "QuantityRulesError"


class DuplicatePoNumberErrorSerializer(ErrorSerializer):
    """`code` is `duplicate_po_number`: the buyer's order that already carries it."""

    order = serializers.IntegerField()
    po_number = serializers.CharField()

    class Meta:
        ref_name = "DuplicatePoNumberError"


class PreconditionFailedErrorSerializer(ErrorSerializer):
    """`code` is `precondition_failed`: `If-Match` named an outdated version."""

    current_version = serializers.IntegerField()

    class Meta:
        ref_name = "PreconditionFailedError"


class AnyOfSerializer(PolymorphicProxySerializer):
    """Bodies of several shapes that may overlap: a body matching the specific shape also
    matches the plain `Error`, so the schema says `anyOf` (drf-spectacular's `oneOf` would
    reject every such body as matching more than one)."""


class AnyOfSerializerExtension(PolymorphicProxySerializerExtension):
    target_class = "opply.schema.AnyOfSerializer"
    priority = 1

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        schema = super().map_serializer(auto_schema, direction)
        return {"anyOf": schema.pop("oneOf"), **schema}


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


TRANSITION_CONFLICT = OpenApiResponse(
    AnyOfSerializer(
        component_name="TransitionConflict",
        serializers=[TransitionErrorSerializer, ErrorSerializer],
        resource_type_field_name=None,
    ),
    description="`illegal_transition` naming both states, or `idempotency_in_progress`.",
)

SUBMIT_CONFLICT = OpenApiResponse(
    AnyOfSerializer(
        component_name="SubmitConflict",
        serializers=[
            InsufficientStockErrorSerializer,
            QuantityRulesErrorSerializer,
            DuplicatePoNumberErrorSerializer,
            ErrorSerializer,
        ],
        resource_type_field_name=None,
    ),
    description=(
        "`insufficient_stock` or `quantity_rules` (with `lines`; nothing changed), "
        "`duplicate_po_number` (with the `order` that has it), `order_not_active`, "
        "`order_empty`, or `idempotency_in_progress`."
    ),
)

CART_CONFLICT = OpenApiResponse(
    AnyOfSerializer(
        component_name="CartConflict",
        serializers=[
            InsufficientStockErrorSerializer,
            QuantityRuleErrorSerializer,
            ErrorSerializer,
        ],
        resource_type_field_name=None,
    ),
    description=(
        "`insufficient_stock` (with `lines`), `quantity_rule` (with the nearest valid "
        "quantities), `product_inactive`, or `idempotency_in_progress`; nothing changed."
    ),
)

PRECONDITION_FAILED = OpenApiResponse(
    PreconditionFailedErrorSerializer,
    description="`precondition_failed`: `If-Match` names an outdated version; nothing changed.",
)

NOT_MODIFIED = OpenApiResponse(
    None, description="Not modified: `If-None-Match` names the current ETag. No body."
)

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        'The version the write applies to, as its ETag (`"3"`) or `*`; a stale one is a 412 '
        "and nothing changes. Without it the write proceeds as before."
    ),
)

ETAG = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description=(
        'The version of the product or order in the body (`"3"`), or for a catalogue page a '
        "weak tag of its content; send it back in `If-None-Match` or `If-Match`."
    ),
    response=[200, 201, 304],
)

IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="An ETag the client holds: a 304 without a body when it is still current.",
)

TokenSerializer = inline_serializer("Token", {"token": serializers.CharField()})

_RETRY_AFTER = {
    "description": "Seconds to wait before retrying.",
    "schema": {"type": "integer"},
}
_WWW_AUTHENTICATE = {
    "description": "The authentication scheme to use (`Token`, or `Basic` on GET /token/).",
    "schema": {"type": "string"},
}
_HEADERS_BY_CODE = {
    "401": {"WWW-Authenticate": _WWW_AUTHENTICATE},
    "429": {"Retry-After": _RETRY_AFTER},
    "503": {"Retry-After": _RETRY_AFTER},
}
_BODY_METHODS = {"POST", "PUT", "PATCH"}
_WRITE_METHODS = {*_BODY_METHODS, "DELETE"}


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema plus the API's error responses and HTTP Basic scheme."""

    def get_operation(self, *args: Any, **kwargs: Any) -> Any:
        operation = super().get_operation(*args, **kwargs)
        if operation and any(BASIC_AUTH in req for req in operation.get("security", [])):
            self.registry.register_on_missing(
                ResolvedComponent(
                    name=BASIC_AUTH,
                    type=ResolvedComponent.SECURITY_SCHEMA,
                    object=BASIC_AUTH,
                    schema={
                        "type": "http",
                        "scheme": "basic",
                        "description": "Username and password, on `GET /token/` only.",
                    },
                )
            )
        return operation

    def _map_serializer_field(
        self, field: Any, direction: Any, bypass_extensions: bool = False
    ) -> Any:
        result = super()._map_serializer_field(field, direction, bypass_extensions)
        # A nested `many=True` serializer's bounds (allow_empty, min/max_length) are validated
        # but not described by drf-spectacular; describe them.
        if isinstance(field, serializers.ListSerializer) and result.get("type") == "array":
            min_items = getattr(field, "min_length", None) or (0 if field.allow_empty else 1)
            if min_items:
                result["minItems"] = min_items
            if (max_items := getattr(field, "max_length", None)) is not None:
                result["maxItems"] = max_items
        return result

    def _get_response_bodies(self, direction: Any = "response") -> Any:
        responses = super()._get_response_bodies(direction)
        for code, description in self._standard_errors():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    error(description), code, direction=direction
                )
        return responses

    def _get_response_headers_for_code(self, status_code: Any, direction: Any = "response") -> Any:
        headers = super()._get_response_headers_for_code(status_code, direction)
        return {**_HEADERS_BY_CODE.get(str(status_code), {}), **(headers or {})}

    def _standard_errors(self) -> list[tuple[str, str]]:
        perms = [type(p) for p in self.view.get_permissions()]
        public = permissions.AllowAny in perms
        errors = []
        if self._reads_input():
            errors.append(("400", "Invalid input; `errors` names each field."))
        if not public:
            errors.append(("401", "No or invalid credentials: send `Authorization: Token <key>`."))
        if permissions.IsAdminUser in perms or (
            IsStaffOrReadOnly in perms and self.method in _WRITE_METHODS
        ):
            errors.append(("403", "Signed in, but staff only."))
        if "{" in self.path or self._is_list_view():
            errors.append(("404", "No such object visible to the caller, or no such page."))
        if self.method in _BODY_METHODS and self.get_request_serializer() is not None:
            errors.append(("415", "Unsupported media type; send JSON."))
        if self.view.get_throttles():
            errors.append(("429", "Throttled; retry after `Retry-After` seconds."))
        if self.view.get_authenticators():
            errors.append(("503", "Database unavailable; retry after `Retry-After` seconds."))
        if self._accepts_idempotency_key():
            known = {code for code, _ in errors}
            errors += [item for item in idempotency.RESPONSES.items() if item[0] not in known]
        return sorted(errors)

    def _reads_input(self) -> bool:
        if self.method in _BODY_METHODS and self.get_request_serializer() is not None:
            return True
        return self.method == "GET" and self._is_list_view() and bool(self.get_filter_backends())

    def _accepts_idempotency_key(self) -> bool:
        handler = getattr(self.view, getattr(self.view, "action", None) or "", None)
        if handler is None:
            handler = getattr(self.view, self.method.lower(), None)
        return idempotency.is_idempotent(handler)

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if self._accepts_idempotency_key():
            parameters.append(idempotency.KEY_PARAMETER)
        return parameters
