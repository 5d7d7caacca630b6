"""The OpenAPI 3.1 document, built from the API routes and the schemas their views declare.

A view's @documented names the schema it accepts and the one it answers with; the view
answers through core.api.reply/page/created, which dump with that same schema.
"""

import re

from flask import current_app

from agency.core.bounds import MAX_ID

API_PREFIX = "/api/v1"

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "additionalProperties": False,
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

PAGE_PARAMETERS = [
    {"name": "limit", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
    {"name": "cursor", "in": "query", "required": False,
     "schema": {"type": "string", "pattern": "^[0-9]{1,10}$"},
     "description": "next_cursor of the page before"},
]


def documented(summary: str, *, request=None, partial: bool | None = None, response=None,
               responses=None, many: bool = False, status: int = 200, errors=(400, 404), query=None,
               multipart=None, content_type: str | tuple | None = None, paged: bool = False):
    """Attach the OpenAPI description to an API view.

    `request` and `response` are core.api Schemas; `partial` (default: for PATCH) makes every
    request field optional; `responses` maps another status to the Schema of its body (an import
    report that is a 400); `query` is the Schema of the query-string filters; `content_type`, one
    or a tuple, what a download may be; `paged` says a single object takes ?limit= and ?cursor=
    like a list does (a matrix whose rows come a page at a time).
    """

    def decorator(view):
        view.openapi = {
            "summary": summary, "request": request, "partial": partial, "response": response,
            "responses": dict(responses or {}), "many": many, "status": status, "errors": errors,
            "query": query, "multipart": multipart, "content_type": content_type, "paged": paged,
        }
        return view

    return decorator


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _page_of(item: dict) -> dict:
    return {"type": "object", "required": ["items", "next_cursor"], "additionalProperties": False,
            "properties": {"items": {"type": "array", "items": item},
                           "next_cursor": {"type": ["string", "null"]}}}


def _path_parameters(rule) -> list[dict]:
    params = []
    for conv, name in re.findall(r"<(?:(\w+):)?(\w+)>", rule.rule):
        schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID} if conv == "int" else \
            {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def _query_parameters(meta) -> list[dict]:
    params = []
    if meta["query"] is not None:
        for name, spec in meta["query"].fields.items():
            params.append({"name": name, "in": "query", "required": False, "schema": spec.json_schema(),
                           **({"description": spec.description} if spec.description else {})})
    return params + (PAGE_PARAMETERS if meta["many"] or meta["paged"] else [])


def _json_content(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


class _Components:
    def __init__(self):
        self.schemas = {"Error": ERROR_SCHEMA}

    def output(self, schema) -> dict:
        self.schemas[schema.name] = schema.output_schema()
        return _ref(schema.name)

    def input(self, schema, partial: bool) -> dict:
        name = f"{schema.name}{'Patch' if partial else 'Input'}"
        self.schemas[name] = schema.input_schema(partial=partial)
        return _ref(name)


def _operation(rule, view, meta, method: str, components: _Components) -> dict:
    op = {
        "operationId": f"{rule.endpoint}_{method.lower()}".replace(".", "_"),
        "summary": meta["summary"],
        "tags": [rule.endpoint.split(".")[0]],
        "responses": {},
    }
    if params := _path_parameters(rule) + _query_parameters(meta):
        op["parameters"] = params
    protected = not getattr(view, "is_public", False)
    if protected:
        op["security"] = [{"bearerAuth": []}]
    if meta["request"] is not None:
        partial = meta["partial"] if meta["partial"] is not None else method == "PATCH"
        op["requestBody"] = {"required": True,
                             "content": _json_content(components.input(meta["request"], partial))}
    if meta["multipart"] is not None:
        op["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": meta["multipart"]}}}
    response: dict = {"description": "OK"}
    if meta["content_type"]:
        types = meta["content_type"] if isinstance(meta["content_type"], tuple) else (meta["content_type"],)
        binary = {"type": "string", "format": "binary"}
        response["content"] = {kind: {"schema": {"type": "object"} if kind == "application/json" else binary}
                               for kind in types}
    elif meta["response"] is not None:
        body = components.output(meta["response"])
        response["content"] = _json_content(_page_of(body) if meta["many"] else body)
    op["responses"][str(meta["status"])] = response
    paged = meta["many"] or meta["paged"]
    codes = set(meta["errors"]) | ({401, 403} if protected else set()) | ({400} if paged else set())
    for code in sorted(codes | set(meta["responses"])):
        schema = meta["responses"].get(code)
        body = _ref("Error") if schema is None else components.output(schema)
        if schema is not None and code in codes:  # a report of its own, or an error like any other
            body = {"oneOf": [body, _ref("Error")]}
        op["responses"][str(code)] = {"description": ERROR_TEXT.get(code, "Error"), "content": _json_content(body)}
    return op


def build_document() -> dict:
    paths: dict = {}
    components = _Components()
    for rule in sorted(current_app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(API_PREFIX):
            continue
        view = current_app.view_functions[rule.endpoint]
        meta = getattr(view, "openapi", None)
        if meta is None:
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix(API_PREFIX))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(rule, view, meta, method, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Agency placement and licensure API",
            "version": "1.0.0",
            "description": "Therapists and their credentials, facilities and rate cards, placements, "
            "timesheets, invoices and receivables. Money is a string with two decimals; "
            "dates are YYYY-MM-DD.",
        },
        "servers": [{"url": API_PREFIX}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.schemas.items())),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }
