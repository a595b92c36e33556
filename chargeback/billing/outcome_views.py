"""Outcome-count pages: the counts by month, unit and outcome, and a CSV upload with a preview
before anything is written. The logic is in chargeback.billing.outcomes."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from chargeback.billing.models import OutcomeCount
from chargeback.billing.outcomes import OutcomeError, import_outcomes, parse_records, read_csv
from chargeback.tenancy.permissions import org_permission
from chargeback.units.models import BusinessUnit
from chargeback.wording import plural

PAGE_SIZE = 50
MAX_BYTES = 2_000_000


class OutcomeFilterForm(forms.Form):
    month = forms.ChoiceField(required=False)
    unit = forms.ChoiceField(required=False)

    def __init__(self, data: dict, *, months: list, units: list) -> None:
        super().__init__(data)
        self.fields["month"].choices = [("", "Any month")] + [
            (f"{m:%Y-%m}", f"{m:%B %Y}") for m in months
        ]
        self.fields["unit"].choices = [("", "Any unit")] + [
            (code, f"{code} · {name}") for code, name in units
        ]

    def values(self) -> dict[str, str]:
        """The valid filters ("" where missing or invalid: a bad value is ignored)."""
        self.is_valid()
        clean = getattr(self, "cleaned_data", {})
        return {k: (clean.get(k, "") if k not in self.errors else "") for k in ("month", "unit")}


class UploadForm(forms.Form):
    file = forms.FileField(
        help_text="A CSV file with the columns unit,month,outcome,count, up to 2 MB.",
        error_messages={"required": "Choose a CSV file.", "empty": "The file is empty."},
    )

    def clean_file(self) -> str:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError("The file is larger than 2 MB.")
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError(
                f"The file is not UTF-8 text (invalid byte at position {exc.start + 1})."
            ) from None


class ConfirmForm(forms.Form):
    """The previewed file travels back hidden and is checked again before writing."""

    text = forms.CharField(strip=False, max_length=MAX_BYTES, widget=forms.HiddenInput)


@org_permission("outcomes.manage")
@require_GET
def outcome_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    org = request.org
    counts = OutcomeCount.objects.filter(organization=org)
    months = list(counts.values_list("month", flat=True).distinct().order_by("-month"))
    units = list(
        BusinessUnit.objects.filter(organization=org).order_by("code").values_list("code", "name")
    )
    form = OutcomeFilterForm(request.GET, months=months, units=units)
    filters = form.values()
    if filters["month"]:
        counts = counts.filter(month=f"{filters['month']}-01")
    if filters["unit"]:
        counts = counts.filter(unit__code=filters["unit"])
    counts = counts.select_related("unit").order_by("-month", "unit__code", "outcome")
    page = Paginator(counts, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "form": form, "filters": filters, "any": bool(months)}
    return render(request, "billing/outcome_list.html", context)


@org_permission("outcomes.manage")
@require_http_methods(["GET", "POST"])
def outcome_upload(request: HttpRequest, org_slug: str) -> HttpResponse:
    """GET: the form. POST a file: the preview (writes nothing). POST `text` (the confirm
    step): check the same file again and write it."""
    if request.method == "POST" and "text" in request.POST:
        return _confirm(request)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        return _preview(request, form.cleaned_data["file"])
    return render(request, "billing/outcome_upload.html", {"form": form})


def _check(request: HttpRequest, text: str):
    try:
        return parse_records(request.org, read_csv(text)), []
    except OutcomeError as exc:
        return [], [p.label("row") for p in exc.problems]


def _preview(request: HttpRequest, text: str) -> HttpResponse:
    records, errors = _check(request, text)
    rows = []
    if records:
        stored = {
            (code, month, outcome): count
            for code, month, outcome, count in OutcomeCount.objects.filter(
                organization=request.org, month__in={r.month for r in records}
            ).values_list("unit__code", "month", "outcome", "count")
        }
        for r in records:
            old = stored.get(r.key)
            change = "new" if old is None else ("unchanged" if old == r.count else "changed")
            rows.append({"record": r, "old": old, "change": change})
    context = {
        "errors": errors,
        "rows": rows,
        "changes": sum(1 for row in rows if row["change"] != "unchanged"),
        "confirm": ConfirmForm(initial={"text": text}),
    }
    return render(request, "billing/outcome_preview.html", context)


def _confirm(request: HttpRequest) -> HttpResponse:
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The confirmation carried no file: upload it again.")
        return redirect("billing:outcome-upload", org_slug=request.org.slug)
    text = form.cleaned_data["text"]
    records, errors = _check(request, text)
    if errors:
        return _preview(request, text)
    try:
        result = import_outcomes(
            organization=request.org, records=records, actor=request.user, source="upload"
        )
    except OutcomeError as exc:
        messages.error(request, f"Nothing was imported: {exc}.")
        return _preview(request, text)
    messages.success(
        request,
        f"Imported {plural(result.total, 'outcome count')}: {result.created:,} new, "
        f"{result.updated:,} replaced, {result.unchanged:,} unchanged.",
    )
    return redirect("billing:outcome-list", org_slug=request.org.slug)
