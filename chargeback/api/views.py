from rest_framework import generics

from chargeback.api.base import OrgAPIView
from chargeback.api.serializers import BusinessUnitSerializer
from chargeback.units.queries import visible_units


class UnitList(OrgAPIView, generics.ListAPIView):
    """Business units the caller may see (a team lead: its units and their descendants)."""

    serializer_class = BusinessUnitSerializer
    required_permission = "units.view"

    def get_queryset(self):
        return visible_units(self.membership).select_related("parent").order_by("code")


class UnitDetail(OrgAPIView, generics.RetrieveAPIView):
    serializer_class = BusinessUnitSerializer
    required_permission = "units.view"
    lookup_url_kwarg = "unit_id"

    def get_queryset(self):
        return visible_units(self.membership).select_related("parent")
