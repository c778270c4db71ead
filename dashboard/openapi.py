"""The OpenAPI document says what the JSON API and CSV downloads really answer (issue 13).

FastAPI documents each route's 200 and 422; the handlers also answer 400 (a bad parameter,
from `BadParameter`), 401 (no access token) and 404 (no such video or post), CSV routes answer
text/csv, and several string parameters take only a few values. `install` amends the generated
document once, for every route, so the routers need not repeat it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic.json_schema import models_json_schema

from dashboard.api_schema import ANSWERS, ErrorDetail
from dashboard.params import BUCKET_NAMES, RANGE_CHOICES
from dashboard.series import SERIES_METRICS
from storage.read import POST_SORTS

REF_TEMPLATE = "#/components/schemas/{model}"
ERROR_RESPONSES = {
    "400": "A parameter is wrong; `detail` names it and what to use instead",
    "401": "An access token is configured and this request carries none (or a wrong one)",
    "404": "No such video or post",
}
MAX_ID = 2**31 - 1  # ids are INTEGER columns: 32 bits on PostgreSQL
SORT_CHOICES = POST_SORTS
PARAMETER_CHOICES: dict[str, tuple[str, ...]] = {
    "range": RANGE_CHOICES,
    "metric": SERIES_METRICS,
    "bucket": ("auto", *BUCKET_NAMES),
    "sort": SORT_CHOICES,
    "order": ("asc", "desc"),
    "reshares": ("include", "exclude"),
}
PARAMETER_FORMATS = {
    "start": {"format": "date-time"},
    "end": {"format": "date-time"},
    "page": {"pattern": "^[1-9][0-9]{0,4}$"},
    "platform": {"pattern": "^[a-z0-9_]{1,32}(,[a-z0-9_]{1,32})*$"},
    "post_id": {"minimum": 1, "maximum": MAX_ID},
}


def install(app: FastAPI) -> None:
    """Make `app.openapi()` return the amended document (built once, then cached)."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    amended: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not amended:
            amended.update(amend(generate()))
        return amended

    app.openapi = openapi  # type: ignore[method-assign]


def amend(document: dict[str, Any]) -> dict[str, Any]:
    models = [ErrorDetail, *ANSWERS.values()]
    refs, definitions = models_json_schema(
        [(model, "serialization") for model in models], ref_template=REF_TEMPLATE
    )
    document.setdefault("components", {}).setdefault("schemas", {}).update(definitions["$defs"])
    for path, operations in document["paths"].items():
        for operation in operations.values():
            _declare_errors(operation, has_ids="{" in path)
            ok = operation["responses"]["200"]
            if "csv" in operation.get("tags", ()):
                ok["content"] = {"text/csv": {"schema": {"type": "string"}}}
            elif path in ANSWERS:
                ok["content"] = {
                    "application/json": {"schema": refs[(ANSWERS[path], "serialization")]}
                }
            for parameter in operation.get("parameters", ()):
                _narrow(parameter)
    return document


def _declare_errors(operation: dict[str, Any], *, has_ids: bool) -> None:
    for status, description in ERROR_RESPONSES.items():
        if status == "404" and not has_ids:
            continue
        operation["responses"].setdefault(
            status,
            {
                "description": description,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorDetail"}}
                },
            },
        )


def _narrow(parameter: dict[str, Any]) -> None:
    """Give a string parameter the values its parser accepts."""
    name = parameter["name"]
    extra: dict[str, Any] = {}
    if name in PARAMETER_CHOICES:
        extra = {"enum": list(PARAMETER_CHOICES[name])}
    elif name in PARAMETER_FORMATS:
        extra = PARAMETER_FORMATS[name]
    if not extra:
        return
    schema = parameter["schema"]
    for option in schema.get("anyOf", [schema]):
        if option.get("type") in ("string", "integer"):
            option.update(extra)
        elif option.get("type") == "array" and option["items"].get("type") == "string":
            option["items"].update(extra)
