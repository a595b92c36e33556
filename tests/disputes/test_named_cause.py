"""Finance names the gateway key or team tag behind a wrong-owner dispute nobody owns, on the
page, in `disputes resolve` and through the API; another organisation's key is refused as a
field error and nothing is written."""

from __future__ import annotations

import pytest
from django.core.management import CommandError
from django.urls import reverse
from django_scopes import scopes_disabled

from chargeback.disputes import operations as ops
from chargeback.disputes.models import EnforcementItem
from chargeback.tenancy.scoping import within
from chargeback.units.models import BusinessUnit
from tests import factories as f

from .test_commands import issued, run  # noqa: F401 (issued today, so the window is open)


@pytest.fixture
def keys(issued):  # noqa: F811 (the fixture imported above)
    with scopes_disabled():
        sales = BusinessUnit.objects.get(organization=issued, code="SALES")
        ours = f.GatewayKeyFactory(organization=issued, unit=sales, key_id="key-ours")
        theirs = f.GatewayKeyFactory(key_id="key-theirs")
    return ours, theirs


def _dispute(issued, statements, people):  # noqa: F811
    with within(issued):
        return ops.open_dispute(membership=people["sup_lead"], statement=statements["SUP"],
                                amount="1.00", reason="wrong_owner", description="not ours")  # fmt: skip


def _items(issued):  # noqa: F811
    with scopes_disabled():
        return list(
            EnforcementItem.objects.filter(organization=issued).values_list("kind", "value")
        )


def test_the_page_names_a_key_and_refuses_another_orgs(client, issued, statements, people, keys):  # noqa: F811
    ours, theirs = keys
    d = _dispute(issued, statements, people)
    client.force_login(people["finance"].user)
    url = reverse("disputes:dispute-detail", kwargs={"org_slug": "alpha", "dispute_id": d.pk})
    act = reverse("disputes:dispute-act", kwargs={"org_slug": "alpha", "dispute_id": d.pk})
    form = client.get(url).content.decode()
    assert f'<option value="{ours.pk}">key-ours</option>' in form and "key-theirs" not in form
    body = {"action": "resolve", "outcome": "accepted", "text": "no owner"}
    refused = client.post(act, {**body, "cause_key": theirs.pk}, follow=True).content.decode()
    assert "cause_key: no such gateway key in this organisation" in refused
    assert _items(issued) == []
    with scopes_disabled():
        d.refresh_from_db()
    assert d.state == "open"
    client.post(act, {**body, "cause_key": ours.pk})
    assert _items(issued) == [("key", "key-ours")]


def test_the_command_names_a_tag_or_a_key(issued, statements, people, keys):  # noqa: F811
    d = _dispute(issued, statements, people)
    e = _dispute(issued, statements, people)
    base = ["disputes", "--org", "alpha", "resolve", "--outcome", "accepted",
            "--by", "fin@alpha.example", "--text", "no owner"]  # fmt: skip
    with pytest.raises(CommandError, match="cause_key: no such gateway key"):
        run(*base[:4], str(d.pk), *base[4:], "--cause-key", "key-theirs")
    with pytest.raises(CommandError, match="cause_tag: no request of this organisation"):
        run(*base[:4], str(d.pk), *base[4:], "--cause-tag", "team=NOBODY")
    assert _items(issued) == []
    run(*base[:4], str(d.pk), *base[4:], "--cause-tag", "team=SALES")
    run(*base[:4], str(e.pk), *base[4:], "--cause-key", "key-ours")
    assert sorted(_items(issued)) == [("key", "key-ours"), ("tag", "team=SALES")]


def test_the_api_refuses_the_wrong_field(client, issued, statements, people, keys):  # noqa: F811
    ours, theirs = keys
    d = _dispute(issued, statements, people)
    client.force_login(people["finance"].user)
    act = reverse("api:dispute-action", kwargs={"org_slug": "alpha", "dispute_id": d.pk})
    body = {"action": "resolve", "outcome": "accepted", "text": "no owner"}

    def post(**extra):
        return client.post(act, {**body, **extra}, content_type="application/json")

    foreign = post(cause_key=theirs.pk)
    assert foreign.status_code == 400 and "cause_key:" in foreign.json()["detail"]
    both = post(cause_key=ours.pk, cause_tag="team=SALES")
    assert both.status_code == 400 and "cause_tag:" in both.json()["detail"]
    assert post(cause_tag="").status_code == 400 and "cause_tag" in post(cause_tag="").json()
    assert _items(issued) == []
    done = post(cause_key=ours.pk)
    assert done.status_code == 200 and done.json()["state"] == "accepted"
    assert _items(issued) == [("key", "key-ours")]


def test_a_cause_only_for_an_unowned_wrong_owner(issued, statements, people, keys):  # noqa: F811
    d = _dispute(issued, statements, people)
    with within(issued), pytest.raises(ops.DisputeError, match="cause_key: only a wrong_owner"):
        ops.resolve(membership=people["finance"], dispute=d, outcome="accepted", text="x",
                    to_unit=BusinessUnit.objects.get(code="SALES"), cause_key=keys[0].pk)  # fmt: skip


@pytest.mark.parametrize("who", ["sup_lead", "viewer"])
def test_who_may_not_resolve_learns_nothing_of_keys_tags_or_units(
    client,
    issued,  # noqa: F811 (the fixture imported above)
    statements,
    people,
    keys,
    who,
):
    """A team lead (or a viewer) is refused a resolution the same way whatever it names:
    the answer does not tell whether a gateway key, a team tag or a unit code exists (SALES's
    key and tag are outside SUP's lead's reach)."""
    ours, _theirs = keys
    d = _dispute(issued, statements, people)
    client.force_login(people[who].user)
    api = reverse("api:dispute-action", kwargs={"org_slug": "alpha", "dispute_id": d.pk})
    page = reverse("disputes:dispute-act", kwargs={"org_slug": "alpha", "dispute_id": d.pk})
    body = {"action": "resolve", "outcome": "accepted", "text": "no owner"}
    probes = [{"cause_tag": "team=SALES"}, {"cause_tag": "team=NOBODY"},
              {"cause_key": ours.pk}, {"cause_key": 987654}, {"to_unit": "SALES"},
              {"to_unit": "NOPE"}]  # fmt: skip
    answers = set()
    for probe in probes:
        r = client.post(api, {**body, **probe}, content_type="application/json")
        answers.add((r.status_code, r.content))
        p = client.post(page, {**body, **probe}, follow=True)
        answers.add((p.status_code, str([str(m) for m in p.context["messages"]])))
    assert len(answers) == 2, answers  # one answer from the API, one from the page
    assert _items(issued) == []
