"""Each line of an issued statement in its window has a Dispute action that opens the form
with that line ticked and its amount filled in."""

from __future__ import annotations

import re

from django.urls import reverse

from chargeback.tenancy.scoping import within

from .test_commands import issued  # noqa: F401 (issued today, so the window is open)


def test_a_lines_dispute_action_prefills_the_form(client, issued, statements, people):  # noqa: F811
    sup = statements["SUP"]
    with within(issued):
        usage = sup.lines.get(kind="usage")
        count = sup.lines.count()
    client.force_login(people["sup_lead"].user)
    detail = reverse(
        "billing:statement-detail", kwargs={"org_slug": "alpha", "statement_id": sup.pk}
    )
    new = reverse("disputes:dispute-new", kwargs={"org_slug": "alpha", "statement_id": sup.pk})
    page = client.get(detail).content.decode()
    assert f'href="{new}?line={usage.pk}"' in page
    assert page.count('class="line-dispute"') == count
    form = client.get(f"{new}?line={usage.pk}").content.decode()
    ticked = re.findall(r'<input type="checkbox" name="lines" value="(\d+)"[^>]*checked', form)
    assert ticked == [str(usage.pk)]
    assert f'name="amount" value="{usage.amount:.2f}"' in form
    # an id that is not one of the statement's lines is ignored, never a 500
    for junk in ("abc", "999999", ""):
        assert client.get(f"{new}?line={junk}").status_code == 200
    client.force_login(people["viewer"].user)
    assert 'class="line-dispute"' not in client.get(detail).content.decode()
