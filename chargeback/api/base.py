"""The API's one base: org and membership come from TenantMiddleware (session auth under
/api/v1/o/<org_slug>/); each view names its permission string."""

from __future__ import annotations

from rest_framework import generics, permissions
from rest_framework.exceptions import NotFound


class HasOrgPermission(permissions.BasePermission):
    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        membership = getattr(request._request, "membership", None)
        if membership is None:
            raise NotFound()
        return membership.has_perm(view.required_permission)


class OrgAPIView(generics.GenericAPIView):
    permission_classes = [permissions.IsAuthenticated, HasOrgPermission]
    required_permission = "org.view"

    @property
    def org(self):
        return self.request._request.org

    @property
    def membership(self):
        return self.request._request.membership
