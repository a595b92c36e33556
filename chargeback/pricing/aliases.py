"""Model-name normalisation: raw provider/model strings -> canonical (provider, model).

Order: an exact alias row of the organisation (provider-specific, then any-provider), then the
built-in rules: lower-case, drop vendor prefixes (`openai/gpt-4o`), Bedrock region and vendor
prefixes and version suffixes (`us.anthropic.claude-sonnet-4-20250514-v1:0`), Vertex `@date`
suffixes, and dated snapshot suffixes (`gpt-4o-mini-2024-07-18`)."""

from __future__ import annotations

import re
from collections.abc import Mapping

PROVIDERS = {
    "aws.bedrock": "bedrock",
    "aws_bedrock": "bedrock",
    "amazon-bedrock": "bedrock",
    "az.ai.openai": "azure",
    "azure.ai.openai": "azure",
    "azure_openai": "azure",
    "azure-openai": "azure",
    "gcp.vertex_ai": "vertex",
    "vertex_ai": "vertex",
    "gcp.gemini": "google",
    "gemini": "google",
    "google_genai": "google",
    "mistral_ai": "mistral",
    "mistralai": "mistral",
}
_PREFIX = re.compile(
    r"^(openai|anthropic|google|gemini|mistral|mistralai|bedrock|azure|vertex_ai|vertex)/"
)
_BEDROCK_REGION = re.compile(r"^(us|eu|apac|global|us-gov)\.")
_BEDROCK_VENDOR = re.compile(r"^(anthropic|amazon|meta|mistral|cohere|ai21|deepseek)\.")
_BEDROCK_VERSION = re.compile(r"-v\d+(:\d+)?$")
_VERTEX_DATE = re.compile(r"@\d{8}$")
_DATE_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8}|latest)$")

AliasMap = Mapping[tuple[str, str], tuple[str, str]]


def normalise_provider(provider: str) -> str:
    p = provider.strip().lower()
    return PROVIDERS.get(p, p)


def normalise(provider: str, raw: str, aliases: AliasMap | None = None) -> tuple[str, str]:
    """(canonical provider, canonical model) for a raw pair."""
    p = normalise_provider(provider)
    r = raw.strip().lower()
    aliases = aliases or {}
    for key in ((p, r), ("", r)):
        if key in aliases:
            return aliases[key]
    model = _PREFIX.sub("", r)
    if p == "bedrock":
        model = _BEDROCK_VENDOR.sub("", _BEDROCK_REGION.sub("", model))
        model = _BEDROCK_VERSION.sub("", model)
    model = _VERTEX_DATE.sub("", model)
    model = _DATE_SUFFIX.sub("", model)
    return p, model
