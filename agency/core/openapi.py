"""The OpenAPI 3.1 document, built from the API routes and their declared schemas."""

import re

from flask import current_app

API_PREFIX = "/api/v1"

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
        }
    },
}

ERROR_TEXT = {
    400: "Invalid input; nothing was changed",
    401: "No token or a bad one",
    403: "The token's role may not do this",
    404: "No such object, or not yours to see",
    409: "Conflict: duplicate or a transition that is not allowed; nothing was changed",
    413: "Upload too large",
    503: "Background jobs unavailable",
}


def documented(summary: str, *, request=None, response=None, many: bool = False,
               status: int = 200, errors=(400, 404), query=None, multipart=None,
               content_type: str | None = None):
    """Attach the OpenAPI description to an API view."""

    def decorator(view):
        view.openapi = {
            "summary": summary, "request": request, "response": response, "many": many,
            "status": status, "errors": errors, "query": query or {}, "multipart": multipart,
            "content_type": content_type,
        }
        return view

    return decorator


def _ref(schema) -> dict:
    return {"$ref": f"#/components/schemas/{schema.name}"}


def build_document() -> dict:
    paths: dict = {}
    schemas = {"Error": ERROR_SCHEMA}
    for rule in sorted(current_app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(API_PREFIX):
            continue
        view = current_app.view_functions[rule.endpoint]
        meta = getattr(view, "openapi", None)
        if meta is None:
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix(API_PREFIX))
        params = [
            {"name": name, "in": "path", "required": True,
             "schema": {"type": "integer" if conv == "int" else "string"}}
            for conv, name in re.findall(r"<(?:(\w+):)?(\w+)>", rule.rule)
        ]
        for name, spec in meta["query"].items():
            params.append({"name": name, "in": "query", "required": False, "schema": spec})
        if meta["many"]:
            params += [
                {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
                {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"}},
            ]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            op = {
                "operationId": f"{rule.endpoint}_{method.lower()}".replace(".", "_"),
                "summary": meta["summary"],
                "tags": [rule.endpoint.split(".")[0]],
                "responses": {},
            }
            if params:
                op["parameters"] = params
            if not getattr(view, "is_public", False):
                op["security"] = [{"bearerAuth": []}]
            if meta["request"] is not None:
                schemas[meta["request"].name] = meta["request"].openapi()
                op["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(meta["request"])}},
                }
            if meta["multipart"] is not None:
                op["requestBody"] = {
                    "required": True,
                    "content": {"multipart/form-data": {"schema": meta["multipart"]}},
                }
            response: dict = {"description": "OK"}
            if meta["content_type"]:
                binary = {"type": "string", "format": "binary"}
                response["content"] = {meta["content_type"]: {"schema": binary}}
            elif meta["response"] is not None:
                schemas[meta["response"].name] = meta["response"].openapi()
                body = _ref(meta["response"])
                if meta["many"]:
                    body = {
                        "type": "object",
                        "required": ["items", "next_cursor"],
                        "properties": {
                            "items": {"type": "array", "items": body},
                            "next_cursor": {"type": ["string", "null"]},
                        },
                    }
                response["content"] = {"application/json": {"schema": body}}
            op["responses"][str(meta["status"])] = response
            codes = set(meta["errors"])
            if not getattr(view, "is_public", False):
                codes |= {401, 403}
            for code in sorted(codes):
                op["responses"][str(code)] = {
                    "description": ERROR_TEXT.get(code, "Error"),
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Agency placement and licensure API",
            "version": "1.0.0",
            "description": "Therapists, licenses, CE, panels and credential documents. "
            "Money is a string with two decimals; dates are YYYY-MM-DD.",
        },
        "servers": [{"url": API_PREFIX}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }
