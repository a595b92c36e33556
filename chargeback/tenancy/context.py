from django.http import HttpRequest

from chargeback.tenancy.navigation import navigation_for


def tenant(request: HttpRequest) -> dict:
    org = getattr(request, "org", None)
    membership = getattr(request, "membership", None)
    other_orgs = []
    if getattr(request, "user", None) is not None and request.user.is_authenticated:
        other_orgs = [
            m.organization
            for m in request.user.memberships.select_related("organization")
            if org is None or m.organization_id != org.pk
        ]
    return {
        "org": org,
        "membership": membership,
        "other_orgs": other_orgs,
        "nav": navigation_for(request, membership) if membership else [],
    }
