"""Bearer authentication with an organisation's ingestion key."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from chargeback.usage.keys import check_key


class KeyUser(AnonymousUser):
    """The caller of a key-authenticated endpoint: a machine, not a person."""

    @property
    def is_authenticated(self) -> bool:  # type: ignore[override]
        return True


class IngestionKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):  # noqa: ANN001, ANN201
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0] != self.keyword:
            raise exceptions.AuthenticationFailed('Use "Authorization: Bearer <ingestion key>".')
        key, problem = check_key(parts[1])
        if key is None:
            raise exceptions.AuthenticationFailed(f"Invalid ingestion key: {problem}.")
        return KeyUser(), key

    def authenticate_header(self, request) -> str:  # noqa: ANN001
        return self.keyword


class IngestionKeyScheme(OpenApiAuthenticationExtension):
    target_class = "chargeback.api.auth.IngestionKeyAuthentication"
    name = "ingestionKey"

    def get_security_definition(self, auto_schema):  # noqa: ANN001, ANN201
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An organisation ingestion key (cbk_...).",
        }
