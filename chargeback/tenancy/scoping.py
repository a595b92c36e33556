"""The ways into an organisation's scope. django-scopes makes every query on a tenant model
raise unless a scope is active; these are the only places that enter one:

- `within(org)`: the one context manager around django-scopes' `scope()`. The request
  middleware (which adds the organisation's timezone for pages), the API's views and
  everything below use it;
- `OrgCommand`: the base of every management command that takes `--org`;
- `org_task` / `scope_of`: Celery tasks (and the functions they run) on one organisation's
  rows, found from the id of one of its rows.

Nothing else enters a scope by hand. Looking a row's organisation up across tenants is the one
unscoped read here (`scopes_disabled`), before any of the organisation's data is touched.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

from celery import shared_task
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Model
from django_scopes import scope, scopes_disabled

from chargeback.tenancy.models import Organization

GONE = "gone"


@contextlib.contextmanager
def within(org: Organization) -> Iterator[Organization]:
    """Run inside `org`'s scope."""
    with scope(organization=org):
        yield org


def org_by_slug(slug: str) -> Organization:
    """The organisation of a `--org` flag, or a one-line CommandError naming the slug."""
    org = Organization.objects.filter(slug=slug).first()
    if org is None:
        raise CommandError(f'unknown organization "{slug}"')
    return org


def org_of(model: type[Model], pk: Any) -> Organization | None:
    """The organisation that owns row `pk` of `model` (None if the row is gone)."""
    with scopes_disabled():
        org_id = model._default_manager.filter(pk=pk).values_list("organization_id", flat=True)
        return Organization.objects.filter(pk__in=list(org_id)).first()


@contextlib.contextmanager
def scope_of(model: type[Model], pk: Any) -> Iterator[Organization | None]:
    """Enter the scope of the organisation that owns row `pk` of `model`; yields it, or None
    (and no scope) when the row is gone."""
    org = org_of(model, pk)
    if org is None:
        yield None
        return
    with within(org):
        yield org


def org_task(model: type[Model], *, name: str, **options: Any) -> Callable:
    """A Celery task on one organisation's rows, keyed by the id of a `model` row (its first
    argument). The body runs inside the owning organisation's scope and gets it as the keyword
    `organization`; when the row is gone, the task returns "gone" without running the body.
    Celery options (`acks_late`, `bind`, ...) pass through; with `bind=True` the body gets the
    task first, as usual."""

    def decorate(fn: Callable) -> Any:
        bound = options.get("bind", False)

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            pk = args[1] if bound else args[0]
            with scope_of(model, pk) as org:
                if org is None:
                    return GONE
                return fn(*args, organization=org, **kwargs)

        run.org_task_model = model  # how a test tells an org_task from a plain one
        return shared_task(name=name, **options)(run)

    return decorate


class OrgCommand(BaseCommand):
    """A management command on one organisation. It adds `--org SLUG`, resolves it (an unknown
    slug is a one-line error) and runs `handle_org(org, **options)` inside the organisation's
    scope. Subclasses define `add_arguments` for their own flags and `handle_org`."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.add_argument("--org", required=True, metavar="SLUG", help="organisation slug")
        return parser

    def handle(self, *args: Any, **options: Any) -> str | None:
        org = org_by_slug(options.pop("org"))
        with within(org):
            return self.handle_org(org, *args, **options)

    def handle_org(self, org: Organization, *args: Any, **options: Any) -> str | None:
        raise NotImplementedError("an OrgCommand defines handle_org(org, **options)")
