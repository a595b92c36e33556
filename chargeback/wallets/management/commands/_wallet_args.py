"""What the wallet commands share: a ValidationError as one line naming its field."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError


def one_line(exc: ValidationError) -> CommandError:
    if hasattr(exc, "error_dict"):
        text = "; ".join(f"{k}: {m}" for k, msgs in exc.message_dict.items() for m in msgs)
    else:
        text = "; ".join(exc.messages)
    return CommandError(text)
