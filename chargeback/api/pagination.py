"""The API's one pagination: `limit` and `offset`, both bounded. `limit` is capped at
`MAX_LIMIT` (a larger one gives `MAX_LIMIT` items, as documented in the schema); a `limit`
that is not a whole number from 1, or an `offset` that is not one from 0 to `MAX_OFFSET`, is a
400 naming it; a parameter given empty is not a number either (as the schema says)."""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

MAX_LIMIT = 500
MAX_OFFSET = 10**9
MAX_DIGITS = 12  # digits read of a limit or an offset (never a huge int conversion)


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    max_limit = MAX_LIMIT

    def get_limit(self, request):
        text = request.query_params.get(self.limit_query_param)
        if text is None:
            return self.default_limit
        if not text.isdigit() or int(text[: MAX_DIGITS + 1]) < 1:
            raise ValidationError(
                {
                    "limit": [
                        f"must be a whole number from 1 (at most {MAX_LIMIT} are given), got {text[:30]!r}"
                    ]
                }
            )
        return min(int(text[: MAX_DIGITS + 1]), self.max_limit)  # beyond the cap: the cap

    def get_offset(self, request):
        text = request.query_params.get(self.offset_query_param)
        if text is None:
            return 0
        if not text.isdigit() or len(text) > MAX_DIGITS or int(text) > MAX_OFFSET:
            raise ValidationError(
                {"offset": [f"must be a whole number from 0 to {MAX_OFFSET:,}, got {text[:30]!r}"]}
            )
        return int(text)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.limit_query_param:
                parameter["description"] = (
                    f"Number of results to return per page (default {self.default_limit}, "
                    f"at most {MAX_LIMIT}: a larger limit gives {MAX_LIMIT})."
                )
                parameter["schema"] = {"type": "integer", "minimum": 1}
            elif parameter["name"] == self.offset_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}
        return parameters
