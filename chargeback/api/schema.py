"""The schema documents every answer: a postprocessing hook (SPECTACULAR_SETTINGS) adds the
answers every operation can give but that its view does not declare, each with the API's error
body (`{"detail": "..."}`): 401 (no valid key or session), 403 (a session whose role does not
allow it), 404 (an organisation, or an object in it, that is not found or not yours), 400 (a
query parameter or body that is refused, named in `detail`). A request body is required, a
JSON array of events holds at least one, and an NDJSON body at least one line not blank."""

from __future__ import annotations

from typing import Any

ERROR = {
    "type": "object",
    "description": "`detail` says what is wrong; a refused field is a key with its problems.",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": True,
}
ANSWERS = {
    "400": "A query parameter or the body is refused: `detail` names it",
    "401": "Not authenticated: no valid ingestion key (machine endpoints) or no session",
    "403": "Your role does not allow this",
    "404": "Not found in this organisation (or not yours)",
}


def document_every_answer(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR
    ref = {"$ref": "#/components/schemas/Error"}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            wanted = ["401"]
            if path.startswith("/api/v1/o/"):
                wanted += ["403", "404"]
            elif "{" in path:
                wanted.append("404")
            if operation.get("parameters") or "requestBody" in operation:
                wanted.append("400")
            for code in wanted:
                if code not in responses:
                    responses[code] = {
                        "description": ANSWERS[code],
                        "content": {"application/json": {"schema": ref}},
                    }
            body = operation.get("requestBody")
            if body and method in ("post", "put", "patch"):
                body["required"] = True
                schema = body.get("content", {}).get("application/json", {}).get("schema", {})
                if schema.get("type") == "array":
                    schema.setdefault("minItems", 1)
                lines = body.get("content", {}).get("application/x-ndjson", {}).get("schema")
                if lines is not None:  # one event per line: at least one line that is not blank
                    lines.update({"type": "string", "pattern": "\\S"})
    return result
