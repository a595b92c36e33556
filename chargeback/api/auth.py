"""Bearer authentication with an organisation's ingestion key.

On the ingestion hot path (hundreds of requests a second), the key and its organisation are
read with one plain SQL query (the ORM would spend more time building it than the database
spends answering), the hash is compared in constant time, and the last-used time is written at
most once a minute. Nothing is cached across requests, so a revoked key is refused at once.
The checks and their answers are those of `chargeback.usage.keys.check_key`."""

from __future__ import annotations

import hashlib
import hmac

from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from chargeback.sql import Columns, fetch_one
from chargeback.tenancy.models import Organization
from chargeback.usage.keys import PREFIX
from chargeback.usage.models import IngestionKey

LAST_USED_EVERY = 60  # seconds


class KeyUser(AnonymousUser):
    """The caller of a key-authenticated endpoint: a machine, not a person."""

    @property
    def is_authenticated(self) -> bool:  # type: ignore[override]
        return True


class IngestionKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        key, problem = key_from_header(request.META.get("HTTP_AUTHORIZATION", ""))
        if problem:
            raise exceptions.AuthenticationFailed(problem)
        return None if key is None else (KeyUser(), key)

    def authenticate_header(self, request) -> str:
        return self.keyword


NOT_AUTHENTICATED = 'No ingestion key: send the header "Authorization: Bearer <ingestion key>".'


def key_from_header(header: str) -> tuple[IngestionKey | None, str]:
    """The key an Authorization header presents: (key, "") when valid, (None, "") when there
    is no header, (None, the error's wording) otherwise. DRF's authentication and the ingest
    endpoint's own fast path both answer with it."""
    if not header:
        return None, ""
    parts = header.split()
    if len(parts) != 2 or parts[0] != IngestionKeyAuthentication.keyword:
        return None, 'Use "Authorization: Bearer <ingestion key>".'
    key, problem = find_key(parts[1])
    if key is None:
        return None, f"Invalid ingestion key: {problem}."
    return key, ""


def find_key(presented: str) -> tuple[IngestionKey | None, str]:
    """(key with its organisation, "") when valid; (None, reason) otherwise."""
    if not presented.startswith(PREFIX) or presented.count("_") < 2:
        return None, "malformed key"
    prefix = presented[len(PREFIX) :].split("_", 1)[0]
    row = fetch_one(_query.sql, [prefix])
    if row is None:
        return None, "unknown key"
    key = _query.build(row)
    if not hmac.compare_digest(key.hashed, hashlib.sha256(presented.encode()).hexdigest()):
        return None, "unknown key"
    if key.revoked_at is not None:
        return None, "this key was revoked"
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > LAST_USED_EVERY:
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {IngestionKey._meta.db_table} SET last_used_at = %s WHERE id = %s",  # noqa: S608
                [now, key.pk],
            )
        key.last_used_at = now
    return key, ""


class _KeyQuery:
    """SELECT key.*, organization.* by prefix, and the model instances from a row."""

    def __init__(self) -> None:
        self.key = Columns(IngestionKey, "k")
        self.org = Columns(Organization, "o")
        self.sql = (
            f"SELECT {self.key.sql}, {self.org.sql} FROM {IngestionKey._meta.db_table} k "  # noqa: S608
            f'JOIN {Organization._meta.db_table} o ON o."{Organization._meta.pk.column}" = '
            f'k."{IngestionKey._meta.get_field("organization").column}" WHERE k.prefix = %s'
        )

    def build(self, row: tuple) -> IngestionKey:
        key = self.key.build(row[: self.key.width])
        key.organization = self.org.build(row[self.key.width :])
        return key


_query = _KeyQuery()


class IngestionKeyScheme(OpenApiAuthenticationExtension):
    target_class = "chargeback.api.auth.IngestionKeyAuthentication"
    name = "ingestionKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An organisation ingestion key (cbk_...).",
        }
