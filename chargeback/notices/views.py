from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from chargeback.notices import inbox
from chargeback.tenancy.permissions import org_permission


@org_permission("org.view")
def notice_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    membership = request.membership
    if request.method == "POST":
        ids = [int(i) for i in request.POST.getlist("notice") if i.isdigit()]
        count = inbox.mark_read(membership, ids=ids or None)
        messages.success(request, f"{count} notice(s) marked as read.")
        return redirect("notices:notice-list", org_slug=org_slug)
    page = Paginator(inbox.notices_for(membership), 50).get_page(request.GET.get("page"))
    unread = {n.pk for n in page if n.read_at is None}
    return render(request, "notices/notice_list.html", {"page": page, "unread": unread})
