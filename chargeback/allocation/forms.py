"""The policy editor: one form for the scalar settings and a formset per list (tiers, pools,
activity rates, discounts). It builds the policy document of DESIGN 6.2 from the rows, has it
checked by `policies.check_policy`, and puts each path-named PolicyError next to its field
(`policy.tiers[1].markup: ...` lands on the markup of the second tier row kept)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.forms import formset_factory

from chargeback.allocation.policies import check_policy
from chargeback.allocation.policy import Policy, PolicyError
from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit, Service

DECIMAL = {"inputmode": "decimal", "autocomplete": "off"}
CHARGE_BASES = [
    ("token", "Per token (default)"),
    ("request", "Per request"),
    ("task", "Per successful task"),
    ("blended", "Blended metric"),
]
TIER_MODES = [
    ("volume", "Volume: the whole month at the tier reached"),
    ("graduated", "Graduated: each band at its own markup"),
]
FAILED = [
    ("owner", "Charged to the unit that sent them"),
    ("platform", "Charged to the central (platform) bucket"),
]
CONFIDENCE = [
    ("", "Off: all attributed spend is charged to its unit"),
    ("team_tag", "Only spend attributed by a team tag"),
    ("gateway_key", "Team tags and gateway keys"),
    ("provider_account", "Team tags, gateway keys and provider accounts"),
    ("service", "All but ownership rules"),
]
POOL_BASES = [
    ("spend", "Spend"),
    ("tokens", "Tokens"),
    ("requests", "Requests"),
    ("fixed", "Fixed weights"),
]
# policy path -> field of the main form
MAIN_FIELDS = {
    "effective_from": "effective_from",
    "charge_basis": "charge_basis",
    "tier_mode": "tier_mode",
    "failed_requests": "failed_requests",
    "platform_fee.percent": "fee_percent",
    "platform_fee.fixed_per_unit": "fee_fixed",
    "platform_fee.fixed_to": "fee_fixed_all",
    "hybrid.central_baseline_per_unit": "central_baseline",
    "experimental_allowance.per_unit": "allowance",
    "confidence_gate.min_method": "confidence_gate",
}
PATH = re.compile(r"^policy\.(?P<key>[a-z_]+)(?:\[(?P<index>\d+)\])?(?:\.(?P<field>[a-z_]+))?")
WEIGHT = re.compile(r"^\s*([^=:\s]+)\s*[=:]\s*(\S+)\s*$")


def _text(**attrs: Any) -> forms.CharField:
    """An optional text field; `label` and `help_text` go to the field, the rest to the input."""
    options = {k: attrs.pop(k) for k in ("label", "help_text") if k in attrs}
    return forms.CharField(
        required=False, max_length=200, widget=forms.TextInput(attrs=attrs), **options
    )


class PolicyForm(forms.Form):
    effective_from = forms.CharField(
        label="Effective from",
        max_length=7,
        help_text="The first month (YYYY-MM) this version applies to, until the next version.",
        widget=forms.TextInput(attrs={"placeholder": "2026-10", "autocomplete": "off"}),
    )
    charge_basis = forms.ChoiceField(choices=CHARGE_BASES, label="Charge basis")
    tier_mode = forms.ChoiceField(choices=TIER_MODES, label="Tier mode")
    fee_percent = _text(
        label="Platform fee, percent of usage cost",
        help_text='In percent: "15" is 15%.',
        **DECIMAL,
    )
    fee_fixed = _text(
        label="Platform fee, fixed per unit and month",
        help_text="Charged to each unit that has usage in the month (and to every unit when "
        "the box below is ticked).",
        **DECIMAL,
    )
    fee_fixed_all = forms.BooleanField(
        required=False, label="Charge the fixed fee to units without usage too"
    )
    failed_requests = forms.ChoiceField(choices=FAILED, label="Failed and retried requests")
    central_baseline = _text(
        label="Hybrid: central baseline per unit",
        help_text="The central bucket pays each unit's first amount per month; units pay the rest.",
        **DECIMAL,
    )
    allowance = _text(
        label="Development allowance per unit",
        help_text="Spend in development, sandbox and experiment environments up to this amount "
        "is shown, not charged (not to be confused with a tier's name).",
        **DECIMAL,
    )
    confidence_gate = forms.ChoiceField(
        choices=CONFIDENCE,
        required=False,
        label="Confidence-gated charging: charge a unit for",
        help_text="The rest of its spend stays with the central bucket, shown on both statements.",
    )


class TierForm(forms.Form):
    name = _text(size=16)
    up_to_tokens = _text(inputmode="numeric", placeholder="open (top tier)", size=16)
    markup = _text(placeholder="20", size=8, **DECIMAL)


class PoolForm(forms.Form):
    name = _text(size=14)
    source = forms.ChoiceField(
        required=False,
        error_messages={
            "invalid_choice": "%(value)s is not manual, unallocated or service:<one of the "
            "organisation's services>"
        },
    )
    amount = _text(placeholder="manual pools", size=10, **DECIMAL)
    basis = forms.ChoiceField(choices=POOL_BASES, required=False)
    targets = _text(placeholder="all", size=10)
    weights = _text(placeholder="SUP=2, SALES=1", size=12)

    def __init__(self, *args, sources: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = sources


class RateForm(forms.Form):
    unit = _text(list="unit-codes", size=10)
    outcome = _text(placeholder="resolved_ticket", size=18)
    rate = _text(placeholder="0.50", size=8, **DECIMAL)


class DiscountForm(forms.Form):
    name = _text(size=16)
    amount = _text(size=10, **DECIMAL)
    basis = forms.ChoiceField(choices=[("model_spend", "Model spend")], required=False)
    models = _text(placeholder="all models", size=24)


SECTIONS = {
    "tiers": (
        "Tiers",
        "Add a tier",
        "By the unit's monthly input + output tokens, lowest first. Upper bounds are exclusive; "
        'leave the last one empty (open). Markups are in percent: "20" is 20%.',
    ),
    "pools": (
        "Shared-cost pools",
        "Add a pool",
        "A manual amount, the unallocated spend or a shared service's spend, shared by spend, "
        'tokens, requests or fixed weights. Targets: "all" or unit codes separated by commas; '
        'for fixed weights give them as "SUP=2, SALES=1" instead.',
    ),
    "activity_rates": (
        "Activity rates",
        "Add a rate",
        "A unit on a rate is charged its outcome counts × rate instead of its usage cost; "
        "the difference goes to the central bucket.",
    ),
    "discounts": (
        "Discounts",
        "Add a discount",
        "Invoice-time discounts, shared by each unit's spend on the models (all models if "
        "empty; model names separated by commas).",
    ),
}
LISTS = {
    "tiers": (TierForm, ("name", "up_to_tokens", "markup")),
    "pools": (PoolForm, ("name", "source", "amount", "basis", "targets", "weights")),
    "activity_rates": (RateForm, ("unit", "outcome", "rate")),
    "discounts": (DiscountForm, ("name", "amount", "basis", "models")),
}


def policy_initial(policy: Policy) -> tuple[dict, dict[str, list[dict]]]:
    """The form's and formsets' initial values for a policy."""
    main = {
        "effective_from": policy.effective_from or "",
        "charge_basis": policy.charge_basis,
        "tier_mode": policy.tier_mode,
        "fee_percent": percent_text(policy.fee_percent),
        "fee_fixed": str(policy.fee_fixed),
        "fee_fixed_all": policy.fee_fixed_to == "all_units",
        "failed_requests": policy.failed_requests,
        "central_baseline": str(policy.central_baseline),
        "allowance": str(policy.allowance_per_unit),
        "confidence_gate": policy.confidence_min or "",
    }
    rows = {
        "tiers": [
            {
                "name": t.name,
                "up_to_tokens": "" if t.up_to_tokens is None else f"{t.up_to_tokens:,}",
                "markup": percent_text(t.markup),
            }
            for t in policy.tiers
        ],
        "pools": [
            {
                "name": p.name,
                "source": p.source,
                "amount": "" if p.amount is None else str(p.amount),
                "basis": p.basis,
                "targets": ""
                if p.weights
                else ("all" if p.targets is None else ", ".join(p.targets)),
                "weights": ", ".join(f"{code}={w}" for code, w in p.weights),
            }
            for p in policy.pools
        ],
        "activity_rates": [
            {"unit": a.unit, "outcome": a.outcome, "rate": str(a.rate)}
            for a in policy.activity_rates
        ],
        "discounts": [
            {
                "name": d.name,
                "amount": str(d.amount),
                "basis": d.basis,
                "models": ", ".join(d.models),
            }
            for d in policy.discounts
        ],
    }
    return main, rows


class PolicyEditor:
    """The main form and the four formsets, bound together. `month` fixes the effective month
    (editing a version); `data` with `action=add-<list>` adds an empty row to that list."""

    def __init__(
        self,
        organization: Organization,
        policy: Policy,
        *,
        data: Any = None,
        month: str | None = None,
        initial_month: str | None = None,
    ) -> None:
        self.organization = organization
        self.fixed_month = month
        main, rows = policy_initial(policy)
        if initial_month:
            main["effective_from"] = initial_month
        if data is not None:
            data = data.copy()
            action = data.get("action", "")
            if action.startswith("add-") and action[4:] in LISTS:
                key = f"{action[4:]}-TOTAL_FORMS"
                total = data.get(key, "0")
                data[key] = str(int(total) + 1) if total.isdigit() and int(total) < 100 else total
            if month:
                data["effective_from"] = month
        self.form = PolicyForm(data, initial=main)
        if month:
            self.form.fields["effective_from"].disabled = True
            self.form.fields[
                "effective_from"
            ].help_text = (
                "A version keeps its month: to change from another month, make a new version."
            )
        sources = [("manual", "Manual amount"), ("unallocated", "Unallocated spend")] + [
            (f"service:{name}", f"Service {name}")
            for name in Service.objects.filter(organization=organization)
            .order_by("name")
            .values_list("name", flat=True)
        ]
        self.formsets = {}
        for key, (form_class, _fields) in LISTS.items():
            factory = formset_factory(form_class, extra=0, can_delete=True, max_num=100)
            kwargs = {"form_kwargs": {"sources": sources}} if key == "pools" else {}
            # Bound rows are all new (INITIAL_FORMS is 0): with initial values, a row equal to
            # them would count as unchanged, so empty, and be dropped.
            initial = rows[key] if data is None else None
            self.formsets[key] = factory(data, initial=initial, prefix=key, **kwargs)
        self.errors: list[str] = []  # every problem, path-named, for the summary
        self.list_errors: dict[str, list[str]] = {}
        self._kept: dict[str, list[forms.Form]] = {}

    @property
    def sections(self) -> list[dict]:
        return [
            {
                "key": key,
                "title": title,
                "add": add,
                "help": help_text,
                "formset": self.formsets[key],
                "errors": self.list_errors.get(key, []),
            }
            for key, (title, add, help_text) in SECTIONS.items()
        ]

    @property
    def adding(self) -> bool:
        return bool(self.form.data.get("action", "").startswith("add-"))

    def unit_codes(self) -> list[str]:
        return list(
            BusinessUnit.objects.filter(organization=self.organization, archived=False)
            .order_by("code")
            .values_list("code", flat=True)
        )

    def policy(self) -> Policy | None:
        """The checked policy, or None with the errors put on the forms."""
        checked = [self.form.is_valid()] + [fs.is_valid() for fs in self.formsets.values()]
        if not all(checked):  # every form checked, so every error shows
            self.errors.append("Some fields are invalid: see the messages next to them.")
            return None
        doc, problems = self.document()
        try:
            policy = check_policy(self.organization, doc)
        except PolicyError as exc:
            # A value the form could not read is reported once, not again by the parser.
            seen = tuple(p.split(":", 1)[0] for p in problems)
            problems = problems + [e for e in exc.errors if not e.startswith(seen or ("\0",))]
            policy = None
        for message in problems:
            self.add_error(message)
        return None if problems else policy

    def document(self) -> tuple[dict, list[str]]:
        """The policy document the rows describe, and the problems only the form can see."""
        d = self.form.cleaned_data
        problems: list[str] = []
        doc: dict[str, Any] = {
            "effective_from": (self.fixed_month or d["effective_from"]).strip(),
            "charge_basis": d["charge_basis"],
            "tier_mode": d["tier_mode"],
            "tiers": [],
            "platform_fee": {
                "percent": fraction(d["fee_percent"], "policy.platform_fee.percent", problems, 100),
                "fixed_per_unit": d["fee_fixed"] or "0",
                "fixed_to": "all_units" if d["fee_fixed_all"] else "units_with_usage",
            },
            "failed_requests": d["failed_requests"],
            "pools": [],
            "hybrid": {"central_baseline_per_unit": d["central_baseline"] or "0"},
            "activity_rates": [],
            "discounts": [],
            "experimental_allowance": {"per_unit": d["allowance"] or "0"},
        }
        if d["confidence_gate"]:
            doc["confidence_gate"] = {"min_method": d["confidence_gate"]}
        for key in LISTS:
            kept = self._kept[key] = []
            for form in self.formsets[key].forms:
                row = form.cleaned_data
                if not row or row.get("DELETE") or _blank(row):
                    continue
                kept.append(form)
                doc[key].append(_entry(key, row, f"policy.{key}[{len(kept) - 1}]", problems))
        return doc, problems

    def add_error(self, message: str) -> None:
        """Put a path-named problem next to its field (and in the summary)."""
        self.errors.append(message)
        match = PATH.match(message)
        if not match:
            return
        key, index, field = match["key"], match["index"], match["field"]
        main = MAIN_FIELDS.get(f"{key}.{field}" if field else key)
        if main and index is None:
            self.form.add_error(main if main in self.form.fields else None, message)
        elif key in LISTS and index is None:
            self.list_errors.setdefault(key, []).append(message)
        elif key in LISTS:
            kept = self._kept.get(key, [])
            if int(index) < len(kept):
                form = kept[int(index)]
                form.add_error(field if field in form.fields else None, message)
        else:
            self.form.add_error(None, message)


def percent_text(rate: Decimal) -> str:
    """A stored fraction as people type it: 0.15 is "15", 0.125 is "12.5"."""
    text = format((rate * 100).normalize(), "f")
    return text


def fraction(text: str, path: str, problems: list[str], most: int | None = None) -> str:
    """What people type ("20", "20%", "12.5") as the fraction the policy stores ("0.2"). A
    value that is not a percentage is reported here, in the words it was typed."""
    plain = (text or "").strip().removesuffix("%").strip() or "0"
    try:
        number = Decimal(plain.replace(",", ""))
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        problems.append(f'{path}: "{text.strip()[:40]}" is not a percentage (write 20% as "20")')
        return "0"
    if number < 0:
        problems.append(f'{path}: "{text.strip()[:40]}" must not be negative')
        return "0"
    if most is not None and number > most:
        problems.append(f'{path}: "{text.strip()[:40]}" is more than {most}%')
        return "0"
    return format((number / 100).normalize(), "f")


# What an untouched row holds: empty texts, and the first choice of each select.
BLANK = {"DELETE": {False}, "basis": {"spend", "model_spend", ""}, "source": {"manual", ""}}


def _blank(row: dict) -> bool:
    return all(v in BLANK.get(k, {""}) for k, v in row.items())


def _entry(key: str, row: dict, path: str, problems: list[str]) -> dict:
    def value(name: str) -> str | None:
        text = (row.get(name) or "").strip()
        return text or None

    if key == "tiers":
        up_to = value("up_to_tokens")
        if up_to is not None:
            plain = re.sub(r"[,_\s]", "", up_to)
            up_to = int(plain) if plain.isascii() and plain.isdigit() else up_to
        markup = fraction(value("markup") or "", f"{path}.markup", problems)
        return {"name": value("name"), "up_to_tokens": up_to, "markup": markup}
    if key == "pools":
        source = value("source") or "manual"
        entry: dict[str, Any] = {"name": value("name"), "source": source}
        amount = value("amount")
        if amount is not None:  # a manual pool without one: "required" from the parser
            entry["amount"] = amount
        entry["basis"] = value("basis") or "spend"
        targets = value("targets")
        if targets and targets.lower() != "all":
            entry["targets"] = [t for t in re.split(r"[,\s]+", targets) if t]
        weights = value("weights")
        if weights:
            parsed = {}
            for part in weights.split(","):
                if not part.strip():
                    continue
                match = WEIGHT.match(part)
                if match is None:
                    problems.append(
                        f'{path}.weights: "{part.strip()[:40]}" is not CODE=weight '
                        '(write "SUP=2, SALES=1")'
                    )
                    continue
                parsed[match[1]] = match[2]
            entry["weights"] = parsed
        return entry
    if key == "activity_rates":
        return {"unit": value("unit"), "outcome": value("outcome"), "rate": value("rate")}
    models = [m for m in re.split(r"[,\s]+", value("models") or "") if m]
    entry = {
        "name": value("name"),
        "amount": value("amount"),
        "basis": value("basis") or "model_spend",
    }
    if models:
        entry["models"] = models
    return entry
