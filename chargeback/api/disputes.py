"""Disputes API (session auth under /api/v1/o/<org_slug>/): list and open disputes, read one
with its timeline, and act on it (review, request or answer information, resolve, withdraw,
comment), with the same role rules as the pages and the `disputes` command: a team lead on its
units' statements and disputes, finance and admins on any; only finance and admins review and
resolve. A refusal is 400 with `detail` naming the field and the reason; anything out of
reach, or another organisation's id, is 404."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from chargeback.api.base import OrgAPIView
from chargeback.api.statements import visible_statements
from chargeback.calendar import MONTH_PATTERN, Period, is_month
from chargeback.disputes import attachments
from chargeback.disputes import operations as ops
from chargeback.disputes.models import Dispute, DisputeEvent, Reason, State
from chargeback.disputes.queries import dispute_json, visible_disputes
from chargeback.disputes.workflow import OUTCOMES
from chargeback.units.models import BusinessUnit

ACTIONS = ("start_review", "request_info", "answer_info", "resolve", "withdraw", "comment")


class DisputeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    statement = serializers.CharField()
    unit = serializers.CharField()
    state = serializers.ChoiceField(choices=State.choices)
    reason = serializers.ChoiceField(choices=Reason.choices)
    amount = serializers.CharField(help_text="Decimal string in the statement's currency.")
    opened_on = serializers.DateField()
    respond_by = serializers.DateField()
    outcome = serializers.CharField(allow_null=True)
    credited = serializers.CharField(allow_null=True)
    reassigned_to = serializers.CharField(allow_null=True)

    def to_representation(self, instance: Dispute) -> dict:
        return dispute_json(instance)


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = DisputeEvent
        fields = ["action", "from_state", "to_state", "actor_label", "text", "at"]


class DisputeDetailSerializer(DisputeSerializer):
    description = serializers.CharField()
    request_ids = serializers.ListField(child=serializers.CharField())
    lines = serializers.ListField(child=serializers.IntegerField())
    resolution = serializers.CharField()
    evidence_file = serializers.CharField(
        allow_null=True, help_text="The attached file's name, if any."
    )
    events = EventSerializer(many=True)

    def to_representation(self, instance: Dispute) -> dict:
        return {
            **dispute_json(instance),
            "description": instance.description,
            "request_ids": instance.request_ids,
            "lines": [t.line_id for t in instance.targets.all()],
            "resolution": instance.resolution,
            "evidence_file": instance.evidence_file.name.rsplit("/", 1)[-1]
            if instance.evidence_file
            else None,
            "events": EventSerializer(instance.events.all(), many=True).data,
        }


class OpenSerializer(serializers.Serializer):
    statement = serializers.IntegerField(help_text="The statement's id.")
    lines = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    amount = serializers.CharField(max_length=30)
    reason = serializers.ChoiceField(choices=Reason.choices)
    description = serializers.CharField(max_length=5000)
    request_ids = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, default=list
    )


class ActionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=ACTIONS)
    text = serializers.CharField(max_length=5000, required=False, default="", allow_blank=True)
    outcome = serializers.ChoiceField(choices=list(OUTCOMES), required=False)
    amount = serializers.CharField(max_length=30, required=False, allow_null=True)
    to_unit = serializers.CharField(max_length=50, required=False, allow_null=True)
    cause_key = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=2**63 - 1,
        help_text="resolve, wrong_owner with no to_unit: the id of this organisation's gateway "
        "key behind the cost, listed for enforcement (default: read from the disputed requests).",
    )
    cause_tag = serializers.RegexField(
        r"^(team=)?[^\s=][^=]{0,189}$",
        max_length=200,
        required=False,
        allow_null=True,
        help_text="resolve, wrong_owner with no to_unit: the team tag behind the cost "
        "(team=NAME), instead of cause_key.",
    )


class EvidenceSerializer(serializers.Serializer):
    file = serializers.FileField(
        required=False,
        help_text=f"At most 5 MB; one of {attachments.KINDS} (the content must match the type). "
        "Replaces an earlier file.",
    )
    request_ids = serializers.ListField(
        child=serializers.CharField(max_length=attachments.MAX_REQUEST_ID),
        required=False,
        default=list,
        max_length=attachments.MAX_REQUEST_IDS,
        help_text="Request ids behind the wrong charge, added to those the dispute names.",
    )


class DisputeAPIView(OrgAPIView):
    required_permission = "statements.view"

    def disputes(self) -> QuerySet[Dispute]:
        return visible_disputes(self.membership)

    def dispute(self) -> Dispute:
        return get_object_or_404(self.disputes(), pk=self.kwargs["dispute_id"])


def _refused(exc: ops.DisputeError):
    if isinstance(exc, ops.DisputeNotFound):
        return NotFound(str(exc))
    return ValidationError({"detail": str(exc)})


class DisputeList(DisputeAPIView, generics.ListAPIView):
    """The disputes the caller may see, oldest first. Filters: `period` (YYYY-MM), `state`."""

    serializer_class = DisputeSerializer

    @extend_schema(
        summary="List disputes",
        parameters=[
            OpenApiParameter(
                "period",
                str,
                description="The statements' month, YYYY-MM.",
                pattern=f"^{MONTH_PATTERN.pattern}$",
            ),
            OpenApiParameter("state", str, enum=list(State.values)),
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        qs = self.disputes()
        # A filter given is taken as given: empty or invalid is a 400 naming it (as statements).
        period = self.request.query_params.get("period")
        if period is not None and not is_month(period):
            raise ValidationError({"period": [f'"{period[:20]}" is not a month (YYYY-MM).']})
        if period is not None:
            qs = qs.filter(statement__period__month=Period.parse(period).first)
        state = self.request.query_params.get("state")
        if state is not None and state not in State.values:
            raise ValidationError({"state": [f'"{state[:20]}" is not a dispute state.']})
        return qs.filter(state=state) if state is not None else qs

    @extend_schema(
        summary="Open a dispute", request=OpenSerializer, responses={201: DisputeSerializer}
    )
    def post(self, request, *args, **kwargs):
        data = OpenSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        statement = get_object_or_404(
            visible_statements(self.membership).select_related("unit"), pk=v["statement"]
        )
        try:
            dispute = ops.open_dispute(
                membership=self.membership, statement=statement, line_ids=v["lines"],
                amount=v["amount"], reason=v["reason"], description=v["description"],
                request_ids=v["request_ids"],
            )  # fmt: skip
        except ops.DisputeError as exc:
            raise _refused(exc) from exc
        return Response(DisputeSerializer(dispute).data, status=status.HTTP_201_CREATED)


class DisputeDetail(DisputeAPIView, generics.RetrieveAPIView):
    """One dispute with its lines, evidence and timeline."""

    serializer_class = DisputeDetailSerializer

    @extend_schema(summary="A dispute with its timeline")
    def get(self, request, *args, **kwargs):
        return Response(DisputeDetailSerializer(self.dispute()).data)


class DisputeAction(DisputeAPIView):
    """Act on a dispute: `start_review`, `request_info` (text), `answer_info` (text), `resolve`
    (outcome, amount for a partial acceptance, to_unit for a wrong owner, cause_key or
    cause_tag for a wrong owner nobody owns, text: required to reject), `withdraw`, `comment` (text)."""

    serializer_class = ActionSerializer

    @extend_schema(
        summary="Act on a dispute", request=ActionSerializer, responses=DisputeSerializer
    )
    def post(self, request, *args, **kwargs):
        dispute = self.dispute()
        data = ActionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        action, text = v["action"], v["text"]
        try:
            if action == "resolve":
                code = v.get("to_unit") or ""
                to_unit = (  # looked up for finance only: a 404 would tell others a code exists
                    get_object_or_404(BusinessUnit, organization=self.org, code=code)
                    if code and ops.is_finance(self.membership)
                    else None
                )
                done = ops.resolve(
                    membership=self.membership, dispute=dispute, outcome=v.get("outcome", ""),
                    amount=v.get("amount"), to_unit=to_unit, text=text,
                    cause_key=v.get("cause_key"), cause_tag=v.get("cause_tag") or "",
                )  # fmt: skip
            else:
                result = getattr(ops, action)(
                    membership=self.membership, dispute=dispute, text=text
                )
                done = result if isinstance(result, Dispute) else self.disputes().get(pk=dispute.pk)
        except ops.DisputeError as exc:
            raise _refused(exc) from exc
        return Response(DisputeSerializer(done).data)


class DisputeEvidence(DisputeAPIView):
    """Add evidence to a dispute that is not resolved: a `file` (multipart) and/or more
    `request_ids`. The same people as a comment: the unit's team lead, finance and admins.
    A file too large, of another type, or whose content does not match its type is a 400
    naming `file`."""

    parser_classes = [MultiPartParser]
    serializer_class = EvidenceSerializer

    @extend_schema(
        summary="Add evidence to a dispute",
        request={"multipart/form-data": EvidenceSerializer},
        responses={200: DisputeDetailSerializer},
    )
    def post(self, request, *args, **kwargs):
        dispute = self.dispute()
        data = EvidenceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            done = attachments.add_evidence(
                membership=self.membership, dispute=dispute, upload=v.get("file"),
                request_ids=v["request_ids"],
            )  # fmt: skip
        except ops.DisputeError as exc:
            raise _refused(exc) from exc
        return Response(DisputeDetailSerializer(self.disputes().get(pk=done.pk)).data)
