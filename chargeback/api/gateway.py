"""Gateway authorization (DESIGN 6.4), authenticated with an organisation ingestion key:
`POST /api/v1/authorize`, `POST /api/v1/settle`, `POST /api/v1/release`. Thin: the logic is in
chargeback.gateway.decide and chargeback.gateway.settlement."""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal

import orjson
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from chargeback.api.auth import NOT_AUTHENTICATED, IngestionKeyAuthentication, key_from_header
from chargeback.api.ingest import KeyAPIView
from chargeback.gateway.decide import Request, authorize
from chargeback.gateway.models import Mode, Reason
from chargeback.gateway.settlement import (
    UnknownReservation,
    release_reservation,
    settle_reservation,
)
from chargeback.tenancy.scoping import within
from chargeback.wallets.models import ReservationState
from chargeback.wallets.reservations import ReservationClosed

COST = {"max_digits": 24, "decimal_places": 12}
MONEY = {"max_digits": 20, "decimal_places": 4, "allow_null": True}
PLACE = Decimal(1).scaleb(-COST["decimal_places"])
AMOUNT_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,12})?$"


class Text(serializers.CharField):
    """A JSON string, as given (a number or a list is refused, not turned into text)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(trim_whitespace=False, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class Count(serializers.IntegerField):
    """A JSON integer (a string, a fraction or a boolean is refused)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "pattern": AMOUNT_PATTERN},
            {"type": "number", "minimum": 0, "maximum": 999999999999},
        ],
        "description": 'An amount: a decimal string ("1.25") or a JSON number.',
    }
)
class Amount(serializers.DecimalField):
    """An amount of zero or more: a decimal string or a JSON number."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**COST, min_value=0, max_value=999999999999, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int | float):
            self.fail("invalid")
        if isinstance(data, str) and not re.match(AMOUNT_PATTERN, data):
            self.fail("invalid")
        if isinstance(data, float) and math.isfinite(data) and abs(data) < 1e13:
            # A JSON number is as exact as its decimal form, to the field's places: 1e-30
            # costs nothing at the ledger's precision rather than "too many digits". (A number
            # above the maximum is left to the field, which refuses it: 400, not a 500.)
            data = format(Decimal(repr(data)).quantize(PLACE, rounding=ROUND_HALF_UP), "f")
        return super().to_internal_value(data)


class AuthorizeSerializer(serializers.Serializer):
    gateway_key_id = Text(max_length=200, help_text="The gateway's key id.")
    request_id = Text(max_length=200, help_text="The gateway's request id: the idempotency key.")
    estimated_cost = Amount(required=False, help_text="In the organisation's currency.")
    provider = Text(max_length=60, required=False)
    model = Text(max_length=200, required=False)
    input_tokens = Count(min_value=0, max_value=10**9, required=False)
    max_output_tokens = Count(min_value=0, max_value=10**9, required=False)


# The fast path's validator: one instance, its fields bound once (a new serializer deep-copies
# its declared fields). `run_validation` keeps no state on the instance: the same checks and
# errors as `is_valid`, safe to share between threads.
AUTHORIZE = AuthorizeSerializer()


class AnswerSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["allow", "deny"])
    reason = serializers.ChoiceField(
        choices=Reason.values,
        allow_null=True,
        help_text="Why it was denied (in observe mode: why it would have been).",
    )
    reservation_id = serializers.IntegerField(allow_null=True)
    reserved = serializers.DecimalField(**MONEY)
    wallet_available = serializers.DecimalField(**MONEY)
    budget_remaining = serializers.DecimalField(**MONEY)
    mode = serializers.ChoiceField(choices=Mode.values)


class SettleSerializer(serializers.Serializer):
    reservation_id = Count(min_value=1, max_value=2**63 - 1)
    actual_cost = Amount(help_text="What the request cost, in the organisation's currency.")


class ReleaseSerializer(serializers.Serializer):
    reservation_id = Count(min_value=1, max_value=2**63 - 1)


class ResultSerializer(serializers.Serializer):
    reservation_id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=ReservationState.values)
    posted = serializers.DecimalField(max_digits=20, decimal_places=4)
    released = serializers.DecimalField(max_digits=20, decimal_places=4)


ERRORS = {
    401: OpenApiResponse(description="Missing, unknown or revoked key"),
    404: OpenApiResponse(description="No such reservation in this organisation"),
    415: OpenApiResponse(description="Content-Type is not application/json"),
}


def _valid(serializer_class, request) -> dict:
    s = serializer_class(data=request.data)
    s.is_valid(raise_exception=True)
    return s.validated_data


class GatewayView(KeyAPIView):
    parser_classes = [JSONParser]


class Authorize(GatewayView):
    @extend_schema(
        summary="Authorize a gateway request",
        description=(
            "Allow or deny a request before it is sent, and hold its estimated cost on the "
            "unit's team wallet. Send `estimated_cost`, or `provider`, `model`, `input_tokens` "
            "and `max_output_tokens` to have it priced with the price in force. The same "
            "`request_id` gets the same answer and one reservation."
        ),
        request=AuthorizeSerializer,
        responses={200: AnswerSerializer, 401: ERRORS[401], 415: ERRORS[415]},
        examples=[
            OpenApiExample(
                "By tokens",
                value={
                    "gateway_key_id": "gk-support-prod",
                    "request_id": "req-1",
                    "provider": "openai",
                    "model": "gpt-4o",
                    "input_tokens": 1200,
                    "max_output_tokens": 800,
                },  # fmt: skip
                request_only=True,
            )
        ],
    )
    def post(self, request):
        d = _valid(AuthorizeSerializer, request)
        try:
            answer = authorize(organization=self.key.organization, request=Request(**d))
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        return Response(answer.as_json())

    def dispatch(self, request, *args, **kwargs):
        """POST, the gateway's hot path, skips DRF's request wrapping, content negotiation and
        exception handling, as the ingestion endpoint does: the same key check, the same
        validation and the same answers, as plain JSON. Anything unusual (another method, a
        body that is not a plain UTF-8 JSON object, an Accept header that does not take JSON)
        goes through DRF, which words the error."""
        data = _fast_body(request)
        if data is None:
            return super().dispatch(request, *args, **kwargs)
        key, problem = key_from_header(request.META.get("HTTP_AUTHORIZATION", ""))
        if key is None:
            response = JsonResponse(
                {"detail": problem or NOT_AUTHENTICATED}, status=status.HTTP_401_UNAUTHORIZED
            )
            response["WWW-Authenticate"] = IngestionKeyAuthentication.keyword
            return response
        with within(key.organization):
            try:
                valid = AUTHORIZE.run_validation(data)
            except ValidationError as exc:
                return JsonResponse(exc.detail, status=400)
            try:
                answer = authorize(organization=key.organization, request=Request(**valid))
            except DjangoValidationError as exc:
                return JsonResponse(exc.message_dict, status=400)
            return JsonResponse(answer.as_json())


def _fast_body(request) -> dict | None:
    """The posted JSON object when the request can take the fast path, else None."""
    if request.method != "POST" or request.content_type != "application/json":
        return None
    if request.content_params.get("charset", "utf-8").lower() not in ("utf-8", "utf8"):
        return None
    accept = request.META.get("HTTP_ACCEPT", "")
    if accept and "application/json" not in accept and "*/*" not in accept:
        return None
    try:
        data = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


class Settle(GatewayView):
    @extend_schema(
        summary="Settle a reservation",
        description=(
            "Post the actual cost (at most the reserved amount) and release the rest. Settling "
            "again answers the first result. An unknown, voided, expired or another "
            "organisation's reservation is a 404."
        ),
        request=SettleSerializer,
        responses={200: ResultSerializer, **ERRORS},
    )
    def post(self, request):
        d = _valid(SettleSerializer, request)
        try:
            result = settle_reservation(
                organization=self.key.organization,
                reservation_id=d["reservation_id"],
                actual_cost=d["actual_cost"],
            )
        except UnknownReservation:
            raise NotFound("No such reservation, or it was voided or expired.") from None
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        return Response(result.as_json())


class Release(GatewayView):
    @extend_schema(
        summary="Release a reservation",
        description=(
            "Void the reservation: its whole amount is released. Releasing it again answers "
            "the same. A settled or expired reservation cannot be released (409); an unknown "
            "or another organisation's is a 404."
        ),
        request=ReleaseSerializer,
        responses={
            200: ResultSerializer,
            409: OpenApiResponse(description="The reservation was settled or expired"),
            **ERRORS,
        },
    )
    def post(self, request):
        d = _valid(ReleaseSerializer, request)
        try:
            result = release_reservation(
                organization=self.key.organization, reservation_id=d["reservation_id"]
            )
        except UnknownReservation:
            raise NotFound("No such reservation.") from None
        except ReservationClosed as exc:
            return Response({"detail": exc.messages[0]}, status=409)
        return Response(result.as_json())
