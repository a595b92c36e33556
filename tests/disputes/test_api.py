"""The disputes API with session authentication: the same role rules as the pages."""

from __future__ import annotations

from django.urls import reverse

from .test_commands import issued  # noqa: F401 (issued today, so the window is open)


def _url(name, **kw):
    return reverse(f"api:{name}", kwargs={"org_slug": "alpha", **kw})


def test_open_list_act_and_read_the_timeline(client, statements, people):
    sup, sales = statements["SUP"], statements["SALES"]
    client.force_login(people["sup_lead"].user)
    body = {"statement": sup.pk, "amount": "1.25", "reason": "duplicate",
            "description": "billed twice", "request_ids": ["req-9"]}  # fmt: skip
    created = client.post(_url("dispute-list"), body, content_type="application/json")
    assert created.status_code == 201, created.content
    d = created.json()
    assert (d["state"], d["amount"], d["unit"]) == ("open", "1.25", "SUP")
    other = client.post(_url("dispute-list"), {**body, "statement": sales.pk},
                        content_type="application/json")  # fmt: skip
    assert other.status_code == 404
    too_much = client.post(_url("dispute-list"), {**body, "amount": "900"},
                           content_type="application/json")  # fmt: skip
    assert too_much.status_code == 400 and "amount:" in too_much.json()["detail"]
    act = _url("dispute-action", dispute_id=d["id"])
    refused = client.post(act, {"action": "start_review"}, content_type="application/json")
    assert refused.status_code == 400
    assert "only finance and admins" in refused.json()["detail"]

    client.force_login(people["finance"].user)
    assert [
        x["id"] for x in client.get(_url("dispute-list"), {"state": "open"}).json()["results"]
    ] == [d["id"]]
    assert client.get(_url("dispute-list"), {"period": "2026-13"}).status_code == 400
    done = client.post(act, {"action": "resolve", "outcome": "partially_accepted",
                             "amount": "0.50", "text": "half"}, content_type="application/json")  # fmt: skip
    assert done.status_code == 200 and done.json()["credited"] == "0.50"
    again = client.post(act, {"action": "resolve", "outcome": "rejected", "text": "no"},
                        content_type="application/json")  # fmt: skip
    assert again.status_code == 400 and "it is partially accepted" in again.json()["detail"]
    detail = client.get(_url("dispute-detail", dispute_id=d["id"])).json()
    assert [e["action"] for e in detail["events"]] == ["open", "start_review", "partially_accept"]
    assert detail["request_ids"] == ["req-9"]

    client.force_login(people["sales_lead"].user)
    assert client.get(_url("dispute-detail", dispute_id=d["id"])).status_code == 404
    assert client.get(_url("dispute-list")).json()["results"] == []
