from django.urls import reverse
from rest_framework import serializers

from chargeback.billing.documents import line_json, statement_json
from chargeback.billing.models import Statement, StatementLine, StatementMode, StatementStatus
from chargeback.units.models import BusinessUnit


class BusinessUnitSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = BusinessUnit
        fields = [
            "id",
            "code",
            "name",
            "kind",
            "parent",
            "owner_email",
            "billing_mode",
            "is_central",
            "archived",
        ]


# Statements (the shape of chargeback.billing.documents.statement_json; these serializers
# document it for the schema and render through it) ------------------------------------------

DECIMAL_HELP = 'A decimal string, e.g. "1234.50".'
MODES = [
    (StatementMode.SHOWBACK, "Showback statement: informational, no money moves"),
    (StatementMode.CHARGEBACK, "Chargeback statement: billed to the unit"),
]


class StatementLineSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=[k for k, _ in StatementLine.KINDS])
    description = serializers.CharField()
    quantity = serializers.CharField(allow_null=True, help_text=DECIMAL_HELP)
    unit_price = serializers.CharField(allow_null=True, help_text=DECIMAL_HELP)
    amount = serializers.CharField(help_text='At the currency\'s minor unit, e.g. "12.30".')
    ref = serializers.CharField(help_text="provider/model, pool, discount, outcome or unit code")
    month = serializers.CharField(
        allow_null=True, help_text="For adjustments: the month (YYYY-MM) it corrects."
    )

    def to_representation(self, instance: StatementLine) -> dict:
        return line_json(instance, self.context["currency"])


class StatementSerializer(serializers.Serializer):
    """A statement as `chargeback.billing.documents.statement_json` gives it, plus links to
    itself, its lines, PDF and CSV. `lines` is on the detail only, not in the list."""

    id = serializers.IntegerField()
    number = serializers.CharField()
    period = serializers.CharField(help_text="YYYY-MM")
    unit = serializers.CharField(help_text="The unit's cost-center code.")
    unit_name = serializers.CharField()
    mode = serializers.ChoiceField(choices=MODES)
    status = serializers.ChoiceField(choices=StatementStatus.choices)
    central = serializers.BooleanField()
    tier = serializers.CharField(allow_null=True)
    currency = serializers.CharField()
    total = serializers.CharField(help_text='At the currency\'s minor unit, e.g. "1234.50".')
    usage_cost = serializers.CharField(help_text="Priced usage at full precision.")
    requests = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    organization_cost = serializers.CharField(help_text=DECIMAL_HELP)
    organization_unallocated = serializers.CharField(help_text=DECIMAL_HELP)
    dispute_deadline = serializers.DateField(allow_null=True)
    issued_at = serializers.DateTimeField(allow_null=True)
    checksum = serializers.CharField()
    evidence = serializers.JSONField()
    url = serializers.URLField()
    lines_url = serializers.URLField()
    pdf_url = serializers.URLField()
    csv_url = serializers.URLField()
    lines = StatementLineSerializer(many=True, required=False, help_text="On the detail only.")

    def to_representation(self, instance: Statement) -> dict:
        with_lines = self.context.get("with_lines", False)
        lines = list(instance.lines.order_by("position")) if with_lines else []
        data = statement_json(instance, lines)
        if not with_lines:
            del data["lines"]
        request = self.context["request"]
        kwargs = {"org_slug": self.context["view"].kwargs["org_slug"], "statement_id": instance.pk}
        for key, name in (
            ("url", "statement-detail"),
            ("lines_url", "statement-lines"),
            ("pdf_url", "statement-pdf"),
            ("csv_url", "statement-csv"),
        ):
            data[key] = request.build_absolute_uri(reverse(f"api:{name}", kwargs=kwargs))
        return data


# Outcome counts --------------------------------------------------------------------------------


class OutcomeRecordSerializer(serializers.Serializer):
    unit = serializers.CharField(
        max_length=60, help_text="The cost-center code of a unit of this organisation."
    )
    month = serializers.RegexField(r"^[0-9]{4}-[0-9]{2}$", help_text="YYYY-MM")
    outcome = serializers.RegexField(r"^[a-z0-9_]+$", max_length=100)
    count = serializers.IntegerField(min_value=0)


class OutcomeImportSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField(help_text="Counts that replaced a different stored count.")
    unchanged = serializers.IntegerField(help_text="Counts equal to the stored one.")


class OutcomeProblemSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The record's position in the array, from 0.")
    field = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class OutcomeErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = OutcomeProblemSerializer(many=True)
