"""The live OpenAPI schema against the API's behaviour (issue 15, finding 9): schemathesis
generates requests from the schema (drf-spectacular's, as served) and sends them to the WSGI
app in-process, authenticated with an ingestion key (machine endpoints) and a session (the
organisation's endpoints); every answer must be documented, match its schema and never be a
5xx. A bounded number of examples per operation keeps it quick."""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from chargeback.tenancy.scoping import within
from chargeback.usage.keys import create_key


def _live_schema() -> dict:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema))


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx, value) -> bytes:
    """The NDJSON body is documented as text: sent as UTF-8 (a lone surrogate, which no UTF-8
    text holds, replaced)."""
    return value.encode("utf-8", "replace") if isinstance(value, str) else b""


APP = get_wsgi_application()
schema = schemathesis.openapi.from_dict(_live_schema())  # built without a request or database
schema.app = APP  # every request, the checks' own probes included, goes to the app in-process


@pytest.fixture
def _connections_kept():
    """As Django's test client does: a request does not close the database connection at its
    start and end (that would end the test's transaction, on PostgreSQL)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def credentials(priced_org, admin, client, _connections_kept):
    with within(priced_org):
        secret = create_key(organization=priced_org, name="schemathesis", actor="test")[1]
    client.force_login(admin.user)
    return priced_org, secret, client.cookies["sessionid"].value


@schema.parametrize()
@settings(
    max_examples=25, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.filter_too_much],
)  # fmt: skip
def test_the_api_does_what_its_schema_says(case, credentials):
    org, secret, session = credentials
    if "org_slug" in (case.path_parameters or {}):
        case.path_parameters["org_slug"] = org.slug
    # Usage events are accepted as stored (202) and validated record by record afterwards, each
    # bad record quarantined with its reason (documented): a body whose events break their
    # documented schema is accepted on purpose, so that one check does not apply there.
    # Outcomes name units of the organisation, which no schema can list: a well-formed record
    # for an unknown unit is refused (400, naming it), so the check that a schema-valid body is
    # accepted does not apply there.
    excluded = {
        "/api/v1/usage-events": [negative_data_rejection],
        "/api/v1/outcomes": [positive_data_acceptance],
        # Authorize takes a cost or a priced model: either set of fields (no schema can say
        # which model has a price); a body with neither is refused (400, naming the field).
        "/api/v1/authorize": [positive_data_acceptance],
    }.get(case.operation.path)
    # A case that leaves the credentials out on purpose is sent without them.
    anonymous = case.operation.schema.is_security_param_negated(case)
    case.call_and_validate(
        app=APP,
        headers=None if anonymous else {"Authorization": f"Bearer {secret}"},
        cookies=None if anonymous else {"sessionid": session},
        excluded_checks=excluded,
    )
