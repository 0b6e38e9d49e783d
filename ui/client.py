"""HTTP client of the scoring service, as the UI uses it.

The UI knows the service only through this module: URL and API key come from the UI's settings,
the input schema is read back from the service's own OpenAPI document (built from the schema
stored with the served model), and every failure becomes one of a few errors whose message a
credit officer can act on.

httpx rather than ``bentoml.SyncHTTPClient``: the page turns each HTTP status (401, 400 with its
field errors, 404, 503) into its own message, and it must start (to say so) when nothing
answers, where BentoML's client fails in its constructor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import httpx

from ui.settings import UISettings


class ServiceError(Exception):
    """The service could not answer the request; ``str(error)`` is meant for the page."""


class ServiceUnavailable(ServiceError):
    """Nothing answers at the URL (refused, timed out, not ready)."""


class Unauthorized(ServiceError):
    """HTTP 401: the API key is missing or wrong."""


class NotFound(ServiceError):
    """HTTP 404, e.g. a client id outside the reference sample."""


class InputRejected(ServiceError):
    """HTTP 400: the service's validation errors, one (field, message) pair each."""

    def __init__(self, summary: str, problems: list[tuple[str, str]]) -> None:
        super().__init__(summary)
        self.problems = problems


@dataclass(frozen=True)
class ServedField:
    """One application field as the service validates it (``None`` bounds are open)."""

    name: str
    kind: Literal["numeric", "categorical"]
    integer: bool = False
    minimum: float | None = None
    maximum: float | None = None
    categories: tuple[str, ...] = ()
    description: str = ""
    required: bool = False
    example: Any = None  # the value of the service's example applicant, None when missing


@dataclass(frozen=True)
class ServedSchema:
    """The application fields of the served model, its id field and its history tables."""

    fields: tuple[ServedField, ...]
    id_column: str
    id_integer: bool = True
    tables: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> ServedField:
        return next(f for f in self.fields if f.name == name)


@dataclass(frozen=True)
class ServiceClient:
    base_url: str
    api_key: str | None = None
    timeout_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: UISettings | None = None) -> ServiceClient:
        settings = settings or UISettings()
        return cls(settings.service_url, settings.api_key)

    def predict(self, applications: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._post("predict", {"applications": applications})

    def explain(self, applications: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._post("explain", {"applications": applications})

    def predict_client(self, client_ids: list[int | str]) -> list[dict[str, Any]]:
        return self._post("predict_client", {"client_ids": client_ids})

    def explain_client(self, client_ids: list[int | str]) -> list[dict[str, Any]]:
        return self._post("explain_client", {"client_ids": client_ids})

    def clients(self) -> list[int | str]:
        return self._post("clients", {})

    def metadata(self) -> dict[str, Any]:
        return self._post("metadata", {})

    def override(
        self, applicant_id: int | str, decision: str, reason: str, officer: str
    ) -> dict[str, Any]:
        """Record an officer's final decision against the model's logged answer."""
        payload = {
            "applicant_id": applicant_id,
            "decision": decision,
            "reason": reason,
            "officer": officer,
        }
        return self._post("override", payload)

    def model_card_url(self) -> str:
        return f"{self.base_url}/model_card"

    def input_schema(self) -> ServedSchema:
        """The served model's input schema, as the service validates it: its OpenAPI document
        (an open endpoint) and the id field its metadata names."""
        document = self._send("GET", "docs.json").json()
        return schema_from_openapi(document, self.metadata()["id_column"])

    def _post(self, endpoint: str, payload: dict[str, Any]) -> Any:
        return self._send("POST", endpoint, json=payload).json()

    def _send(self, method: str, endpoint: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        url = f"{self.base_url}/{endpoint}"
        try:
            response = httpx.request(method, url, headers=headers, timeout=self.timeout_s, **kwargs)
        except httpx.TransportError as error:
            raise ServiceUnavailable(
                f"The scoring service does not answer at {self.base_url} "
                f"({type(error).__name__}: {error}). Start it with `make serve` or `make ui`, "
                "or point CREDIT_SERVICE_URL to it."
            ) from error
        if response.is_success:
            return response
        message = _error_message(response)
        if response.status_code == 401:
            key_state = "an API key that" if self.api_key else "no API key, and"
            raise Unauthorized(
                f"The service refused the request (HTTP 401): the UI sent {key_state} the "
                f"service does not accept. Set CREDIT_API_KEY to the service's key. ({message})"
            )
        if response.status_code == 400:
            raise InputRejected(message, _problems(response))
        if response.status_code == 404:
            raise NotFound(message)
        if response.status_code == 503:
            raise ServiceUnavailable(f"The service is not ready yet (HTTP 503): {message}")
        raise ServiceError(f"The service failed (HTTP {response.status_code}): {message}")


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _error_message(response: httpx.Response) -> str:
    body = _body(response)
    if isinstance(body, dict) and "error" in body:
        return str(body["error"])
    return str(body)[:500]


def _problems(response: httpx.Response) -> list[tuple[str, str]]:
    """(field, message) per validation error; the field is the last name in pydantic's loc."""
    body = _body(response)
    details = body.get("detail", []) if isinstance(body, dict) else []
    problems = []
    for item in details:
        names = [str(part) for part in item.get("loc", []) if isinstance(part, str)]
        problems.append((names[-1] if names else "request", str(item.get("msg", item))))
    return problems or [("request", _error_message(response))]


def schema_from_openapi(document: dict[str, Any], id_column: str) -> ServedSchema:
    """Rebuild the input schema from the request model the service publishes for /predict.

    The service builds that model from the schema stored with the model (type, bounds,
    categories, description per field), so this is the same schema, read over HTTP; the
    example applicant of the same document gives each field its example value.
    """
    body = document["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    applications = body["schema"]["properties"]["applications"]
    component = document["components"]["schemas"][applications["items"]["$ref"].rsplit("/", 1)[-1]]
    example = (applications.get("examples") or [[{}]])[0][0]
    required = set(component.get("required", ()))
    fields, id_integer, tables = [], True, []
    for name, prop in component["properties"].items():
        typed = next(t for t in prop.get("anyOf", [prop]) if t.get("type") != "null")
        if name == id_column:
            id_integer = typed["type"] == "integer"
        elif typed.get("type") == "array":  # a history table's rows, not an application field
            tables.append(name)
        else:
            fields.append(_field(name, prop, typed, name in required, example.get(name)))
    return ServedSchema(tuple(fields), id_column, id_integer, tuple(tables))


def _field(
    name: str, prop: dict[str, Any], typed: dict[str, Any], required: bool, example: Any
) -> ServedField:
    """One field from its JSON schema: ``typed`` is its non-null alternative."""
    common = {"description": prop.get("description", ""), "required": required, "example": example}
    if "enum" in typed:
        return ServedField(name, "categorical", categories=tuple(typed["enum"]), **common)
    return ServedField(
        name,
        "numeric",
        integer=typed["type"] == "integer",
        minimum=typed.get("minimum"),
        maximum=typed.get("maximum"),
        **common,
    )
