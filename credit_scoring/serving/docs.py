"""The API's documents: the OpenAPI example, the spec as the service really answers, and a
Swagger page that loads nothing from outside.

- The example is a *typical* applicant, made of statistics of the reference sample shipped
  with the model (each field's median or most frequent category, fields mostly missing left
  out; history rows from other quantiles, with made-up row ids): never a record of a real client,
  since the spec is served to anyone without a key.
- BentoML 1.4.40's spec declares a 400's ``detail`` as a string (it is pydantic's list of
  errors), documents neither 413 nor 415 (the guards' answers) nor 401 (the API key), and
  leaves request bodies optional although every endpoint needs one. ``amend_spec`` corrects
  that, once; the middleware serves the result instead of regenerating it per request.
- BentoML's Swagger page loads Google Tag Manager (a privacy leak, and a broken page on an
  offline network); Swagger UI's default also sends the spec's URL to validator.swagger.io.
  The page here uses only the Swagger UI files BentoML ships under ``/static_content``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from credit_scoring.core.schema import FieldSpec, InputSchema
from credit_scoring.core.tables import HistoryTable, linking_order
from credit_scoring.serving.contract import BadRequest, ErrorMessage

EXAMPLE_ID = 1  # a made-up applicant id (string ids: "example-1")
EXAMPLE_HISTORY_ROWS = 2  # rows of each history table in the example
MOSTLY_MISSING = 0.5  # a field missing more often than this is left out of the example
REF = "#/components/schemas/{model}"

# --- the example ---------------------------------------------------------------------------


def typical_application(
    schema: InputSchema,
    reference: pd.DataFrame | None,
    histories: Mapping[str, pd.DataFrame],
    tables: Mapping[str, HistoryTable],
) -> dict[str, Any]:
    """A typical applicant of the reference sample, valid for the request model built from
    ``schema``, with ``EXAMPLE_HISTORY_ROWS`` typical rows of each history table."""
    example: dict[str, Any] = {
        schema.id_column: EXAMPLE_ID if schema.id_integer else f"example-{EXAMPLE_ID}"
    }
    for spec in schema.fields:
        column = None if reference is None or spec.name not in reference else reference[spec.name]
        value = _typical_field(spec, column)
        if value is not None:
            example[spec.name] = value
    for name in linking_order(tables, histories):
        parent = tables[name].link.parent
        if len(histories[name]) and (parent is None or parent in example):
            example[name] = typical_rows(tables[name], histories[name])
    return example


def typical_rows(spec: HistoryTable, frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of one history table: row k holds each column's (k+1)/(n+1) quantile (the most
    frequent category), row ids 1..n; a child's key points at its parent's row k."""
    rows = []
    for k in range(EXAMPLE_HISTORY_ROWS):
        row: dict[str, Any] = {}
        for column in spec.columns:
            if spec.link.parent is None and column == spec.link.key:
                continue  # the applicant's id: implied by the application the rows come with
            if column in spec.row_ids or column == spec.link.key:
                row[column] = k + 1
                continue
            value = _typical(
                frame[column],
                categorical=column in spec.categories,
                integer=column in spec.integers,
                quantile=(k + 1) / (EXAMPLE_HISTORY_ROWS + 1),
            )
            if value is not None:
                row[column] = value
        rows.append(row)
    return rows


def _typical_field(spec: FieldSpec, column: pd.Series | None) -> Any:
    value = None
    if column is not None:
        value = _typical(
            column,
            categorical=spec.kind == "categorical",
            integer=spec.integer,
            bounds=(spec.minimum, spec.maximum),
        )
    if value is None and spec.required:  # no statistic: any value the field accepts
        if spec.categories:
            return spec.categories[0]
        value = _clip(0.0, spec.minimum, spec.maximum)
        return round(value) if spec.integer else value
    return value


def _typical(
    values: pd.Series,
    *,
    categorical: bool,
    integer: bool,
    quantile: float = 0.5,
    bounds: tuple[float | None, float | None] = (None, None),
) -> Any:
    """The column's typical value (None when mostly missing): its most frequent category, or
    the value observed at its quantile (an observed value keeps a profile's sentinel value a
    sentinel), inside the field's bounds."""
    present = values.dropna()
    if not len(present) or len(present) < (1 - MOSTLY_MISSING) * len(values):
        return None
    if categorical:
        return str(present.astype(str).mode().iloc[0])
    value = _clip(float(present.quantile(quantile, interpolation="nearest")), *bounds)
    return round(value) if integer else value


def _clip(value: float, low: float | None, high: float | None) -> float:
    if low is not None:
        value = max(value, low)
    if high is not None:
        value = min(value, high)
    return value


# --- the spec ------------------------------------------------------------------------------

STATUS_MODELS: dict[int, tuple[str, type[BaseModel]]] = {
    400: ("Invalid input: every bad field, with its location and pydantic's error", BadRequest),
    404: ("An unknown client id (scoring by id)", ErrorMessage),
    413: ("Request body larger than the limit (4 MiB), refused before parsing", ErrorMessage),
    415: ("Request body not JSON: send 'Content-Type: application/json'", ErrorMessage),
}
UNAUTHORIZED = (401, "Missing or wrong bearer token", ErrorMessage)
REPLACED_COMPONENTS = ("InvalidArgument", "NotFound")  # BentoML's, wrong for this service
# A valid override can contradict the record: its 409 (an applicant never scored is a 404).
OVERRIDES = ("/override",)
CONFLICT = ("The override repeats the model's own decision", ErrorMessage)
# /outcomes has a key of its own (always: without CREDIT_OUTCOMES_KEY it is closed, 403) and
# a 409 for an outcome that contradicts the one recorded.
OUTCOMES = "/outcomes"
OUTCOMES_ANSWERS: dict[int, tuple[str, type[BaseModel]]] = {
    401: ("Missing or wrong outcomes key (the scoring key cannot write outcomes)", ErrorMessage),
    403: ("Outcomes are closed: the server has no CREDIT_OUTCOMES_KEY", ErrorMessage),
    409: ("An applicant already has a different outcome recorded", ErrorMessage),
}


def amend_spec(spec: dict[str, Any], api_key: bool, metrics_token: bool) -> dict[str, Any]:
    """BentoML's OpenAPI spec with the answers this service really gives: a POST's body
    required where its input has required fields, 400/404/413/415 (and 401 with a key) with
    their real bodies; ``/metrics`` with its 401 when it has a token."""
    spec = json.loads(json.dumps(spec))  # a copy, with status codes as JSON has them: strings
    _, definitions = models_json_schema(
        [(model, "serialization") for model in (BadRequest, ErrorMessage)], ref_template=REF
    )
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name in REPLACED_COMPONENTS:
        schemas.pop(name, None)
    schemas.update(definitions["$defs"])
    for path, item in spec["paths"].items():
        operation = item.get("post")
        if operation is not None and "requestBody" in operation:
            body = operation["requestBody"]
            # Required where the input has a required field (an endpoint without input,
            # /clients, /metadata, takes an empty body too).
            body["required"] = any(
                media.get("schema", {}).get("required") for media in body["content"].values()
            )
            answers = STATUS_MODELS | ({401: UNAUTHORIZED[1:]} if api_key else {})
            answers |= OUTCOMES_ANSWERS if path == OUTCOMES else {}
            operation["responses"].update(_responses(answers))
            if path in OVERRIDES:
                operation["responses"].update(_responses({409: CONFLICT}))
        elif path == "/metrics" and metrics_token and "get" in item:
            item["get"]["responses"].update(_responses({401: UNAUTHORIZED[1:]}))
    _mark_nullable(spec)
    return spec


def _mark_nullable(node: Any) -> None:
    """BentoML turns pydantic's ``X | None`` into plain ``X``, so an answer's null (e.g.
    ``/metadata``'s ``challenger`` without one) would break its own spec: every property
    whose default is null is nullable (OpenAPI 3.0; a ``$ref`` is wrapped, as siblings of a
    ``$ref`` are ignored)."""
    if isinstance(node, list):
        for item in node:
            _mark_nullable(item)
        return
    if not isinstance(node, dict):
        return
    for name, prop in (node.get("properties") or {}).items():
        if isinstance(prop, dict) and "default" in prop and prop["default"] is None:
            if "$ref" in prop:
                prop = node["properties"][name] = {
                    **{k: v for k, v in prop.items() if k != "$ref"},
                    "allOf": [{"$ref": prop["$ref"]}],
                }
            prop["nullable"] = True
    for value in node.values():
        _mark_nullable(value)


def _responses(answers: Mapping[int, tuple[str, type[BaseModel]]]) -> dict[str, Any]:
    return {
        str(status): {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}},
        }
        for status, (text, model) in sorted(answers.items())
    }


# --- the Swagger page ----------------------------------------------------------------------

SWAGGER_PAGE = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>Credit scoring API</title>
    <link rel="stylesheet" type="text/css" href="./static_content/swagger-ui.css" />
    <link rel="stylesheet" type="text/css" href="./static_content/index.css" />
    <link rel="icon" type="image/png" href="./static_content/favicon-light-32x32.png" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="./static_content/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="./static_content/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
    <script>
      window.onload = function () {
        window.ui = SwaggerUIBundle({
          url: "./docs.json",
          dom_id: "#swagger-ui",
          deepLinking: true,
          validatorUrl: "none",
          presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
          layout: "StandaloneLayout",
        });
      };
    </script>
  </body>
</html>
"""


class DocsMiddleware:
    """Serves ``GET /`` (the offline Swagger page) and ``GET /docs.json`` (the amended spec,
    built once from ``spec()`` on first use) in front of BentoML's own routes."""

    def __init__(self, app, spec: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self.spec = spec
        self.spec_body: bytes | None = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            return await self.app(scope, receive, send)
        if scope["path"] == "/":
            return await _send(send, b"text/html; charset=utf-8", SWAGGER_PAGE.encode())
        if scope["path"] == "/docs.json":
            if self.spec_body is None:
                self.spec_body = json.dumps(self.spec()).encode()
            return await _send(send, b"application/json", self.spec_body)
        await self.app(scope, receive, send)


async def _send(send, content_type: bytes, body: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
