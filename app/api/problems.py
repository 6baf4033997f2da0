"""OpenAPI descriptions of problem responses, shared by the routers."""

from __future__ import annotations

from typing import Any

from app.api.schemas import ProblemOut

__all__ = ["json_body", "problems"]

_TEXT = {
    400: "Malformed request (e.g. invalid JSON)",
    401: "Missing, invalid or revoked API key; unknown case or wrong PIN",
    403: "The API key lacks the scope this route needs",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Body or image over the size limit",
    415: "Unsupported Content-Type",
    422: "Invalid hash, image or body shape",
    423: "Case locked after too many wrong PINs",
    429: "Rate limited (see Retry-After)",
    503: "Too busy decoding images, or the database is unreachable (see Retry-After)",
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {
            "model": ProblemOut,
            "description": _TEXT[code],
            "content": {"application/problem+json": {}},
        }
        for code in codes
    }


def json_body(model: Any, *, multipart: bool = False, description: str = "") -> dict[str, Any]:
    """``openapi_extra`` documenting a body that the handler reads itself (after auth)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    content: dict[str, Any] = {"application/json": {"schema": schema}}
    if multipart:
        content["multipart/form-data"] = {
            "schema": {
                "type": "object",
                "properties": {
                    "image": {"type": "array", "items": {"type": "string", "format": "binary"}}
                },
                "required": ["image"],
            }
        }
    return {
        "requestBody": {"required": True, "description": description, "content": content},
        "x-hashbank-defs": list(defs),
        "__defs__": defs,
    }
