"""Application logs never hold what a client submitted.

BentoML 1.4.40 logs every failed request with ``log_exception`` (``bentoml._internal.server.
http_app``): ERROR and the full traceback, whose pydantic message repeats each bad value
(``input_value='...'``): personal data in what a log shipper collects, ~2 KB per 400. A
client's error (any 4xx) becomes one line here instead: the path, the status, and for a
validation error each field's location and the error type, never its value. Server faults
(5xx) keep their traceback: they are bugs to fix.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import ValidationError

BENTOML_ERROR_LOGGER = "bentoml._internal.server.http_app"  # where log_exception logs
MAX_ERRORS_LISTED = 20  # a 1,000-row request can fail on every row: the first ones say enough
MAX_NAME_CHARS = 64  # an unknown field's name is the client's text: keep it short


def _client_status(error: BaseException) -> int | None:
    """The 4xx BentoML answers for this error, or None for a server fault."""
    if isinstance(error, ValidationError):
        return 400
    code = getattr(getattr(error, "error_code", None), "value", None)
    return code if isinstance(code, int) and 400 <= code < 500 else None


def _where(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part)[:MAX_NAME_CHARS] for part in location)


def client_error_line(path: str, error: BaseException) -> str | None:
    """The one JSON line logged for a client's error (None: not a client's error)."""
    status = _client_status(error)
    if status is None:
        return None
    line: dict[str, Any] = {"event": "rejected", "path": path, "status": status}
    if isinstance(error, ValidationError):
        problems = error.errors(include_input=False, include_context=False, include_url=False)
        line["errors"] = [
            {"field": _where(p["loc"]), "type": p["type"]} for p in problems[:MAX_ERRORS_LISTED]
        ]
        line["error_count"] = len(problems)
    else:
        line["error"] = type(error).__name__
    return json.dumps(line)


class OneLineClientErrors(logging.Filter):
    """Rewrites BentoML's traceback of a client's error into its one line (see module)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        path = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        line = None if error is None else client_error_line(str(path), error)
        if line is not None:
            record.msg, record.args = line, ()
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def install() -> None:
    """Attach the filter to BentoML's error logger, once per process."""
    logger = logging.getLogger(BENTOML_ERROR_LOGGER)
    if not any(isinstance(f, OneLineClientErrors) for f in logger.filters):
        logger.addFilter(OneLineClientErrors())
