"""OTLP/HTTP protobuf (`application/x-protobuf`, the collector's otlphttp exporter by default)
read into the OTLP/JSON document that `otel.py` reads, so a protobuf export gives the same
events as the same spans in JSON. Protobuf's own JSON mapping differs from OTLP/JSON in two
places, put right here: trace and span ids are hex (not base64), and enums are integers."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

IDS = ("traceId", "spanId", "parentSpanId")
EMPTY_RESPONSE = ExportTraceServiceResponse().SerializeToString()  # full success


class NotOtlp(ValueError):
    """The body is not an ExportTraceServiceRequest."""


def to_otlp_json(body: bytes) -> dict[str, Any]:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, RecursionError):
        raise NotOtlp("not an OTLP ExportTraceServiceRequest in protobuf") from None
    data = json_format.MessageToDict(request, use_integers_for_enums=True)
    for resource_spans in data.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                _hex_ids(span)
                for link in span.get("links", []):
                    _hex_ids(link)
    return data


def _hex_ids(item: dict[str, Any]) -> None:
    for name in IDS:
        if isinstance(item.get(name), str):
            try:
                item[name] = base64.b64decode(item[name]).hex()
            except binascii.Error:  # MessageToDict writes bytes as base64: never here
                item[name] = ""
