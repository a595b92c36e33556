"""Reads of statements, by who may see them."""

from __future__ import annotations

from django.db.models import QuerySet

from chargeback.billing.models import Statement, StatementStatus
from chargeback.tenancy.models import Membership, Organization
from chargeback.units.queries import visible_unit_ids


def visible_statements(organization: Organization, membership: Membership) -> QuerySet[Statement]:
    """The statements the membership may see: a team lead only its units'; drafts only for
    those who close the books (they change until issued)."""
    qs = Statement.objects.filter(organization=organization)
    if not membership.has_perm("statements.view_all"):
        qs = qs.filter(unit_id__in=sorted(visible_unit_ids(membership) or ()))
    if not membership.has_perm("billing.close"):
        qs = qs.exclude(status=StatementStatus.DRAFT)
    return qs
