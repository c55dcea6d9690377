"""The counter service's OpenAPI 3.1 document, built from the national functions' signatures."""

from __future__ import annotations

from typing import Any

from sbkcard.service.protocol import FUNCTIONS
from sbkcard.terminal.national.codes import TEXT

_ANSWER: dict[str, Any] = {
    "type": "object",
    "required": ["id", "function", "code", "pOutInfo"],
    "properties": {
        "id": {"type": ["string", "integer", "null"]},
        "function": {"type": ["string", "null"]},
        "code": {
            "type": "integer",
            "description": "0, a code of S3 App. A, or -(SW1*256+SW2): "
            + "; ".join(f"{int(c)} {t}" for c, t in TEXT.items() if int(c)),
        },
        "pOutInfo": {"type": "string", "description": "the national output string, or the error"},
    },
}


def openapi(version: str) -> dict[str, Any]:
    """The document (one path per function)."""
    paths: dict[str, Any] = {
        "/api/status": {
            "get": {
                "summary": "readers, card and PSAM presence, versions",
                "responses": {"200": {"description": "the status"}},
            }
        }
    }
    for name, function in sorted(FUNCTIONS.items()):
        properties: dict[str, Any] = {
            p: {"type": "integer" if kind is int else "string"}
            for p, kind in function.parameters.items()
        }
        properties["id"] = {"type": ["string", "integer"], "description": "echoed back"}
        properties["reader"] = {"type": "string", "description": "the reader, if several"}
        properties["hsm"] = {"type": "boolean", "description": "false: no HSM fallback"}
        paths[f"/api/{name}"] = {
            "post": {
                "operationId": name,
                "summary": function.doc,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": list(function.parameters),
                                "properties": properties,
                                "additionalProperties": False,
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "the national answer",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Answer"}}
                        },
                    },
                    "403": {"description": "the page's Origin is not allowed"},
                    "401": {"description": "a client token is required"},
                    "413": {"description": "message too large"},
                    "429": {"description": "rate limit"},
                },
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "sbkcard counter service", "version": version},
        "paths": paths,
        "components": {"schemas": {"Answer": _ANSWER}},
    }
