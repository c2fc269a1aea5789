"""Turn pydantic validation errors into messages that name the field, the value and the rule.

Used for the config file at start-up and for request bodies of the admin API, so both speak
the same way: ``models[0].deployments[1].endpoint: got 'ftp://x'; expected a valid URL``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

_PREFIXES = ("Input should be ", "Value error, ", "Assertion failed, ")


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One invalid field: where it is, what was received and what was expected."""

    path: str
    received: str
    expected: str

    def __str__(self) -> str:
        return f"{self.path or '(top level)'}: got {self.received}; expected {self.expected}"


def field_path(loc: Sequence[int | str], data: Any) -> str:
    """Render a pydantic ``loc`` as ``a.b[0].c``, dropping discriminated-union tags.

    A tagged union inserts the tag (``azure_openai``) into ``loc``; it is not a key of the
    input, so it is recognised by walking the input alongside ``loc``.
    """
    parts: list[str] = []
    cursor: Any = data
    last = len(loc) - 1
    for i, elem in enumerate(loc):
        if isinstance(elem, int) and isinstance(cursor, list):
            parts.append(f"[{elem}]")
            cursor = cursor[elem] if 0 <= elem < len(cursor) else None
            continue
        if isinstance(cursor, dict) and elem not in cursor and i != last:
            continue  # a union tag, not a field
        parts.append(f".{elem}" if parts else str(elem))
        cursor = cursor.get(elem) if isinstance(cursor, dict) else None
    return "".join(parts)


def _expected(error: ErrorDetails) -> str:
    if error["type"] == "missing":
        return "this required field"
    if error["type"] == "extra_forbidden":
        return "no such field (remove it or check its spelling)"
    message = error["msg"]
    for prefix in _PREFIXES:
        if message.startswith(prefix):
            message = message[len(prefix) :]
            break
    return message


def _received(error: ErrorDetails) -> str:
    if error["type"] == "missing":
        return "nothing"
    text = repr(error.get("input"))
    return text if len(text) <= 120 else text[:117] + "..."


def _problem(err: ErrorDetails, data: Any) -> FieldProblem:
    path = field_path(err["loc"], data)
    ctx = err.get("ctx") or {}
    if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        # name the discriminator field itself, not the whole object
        field = str(ctx.get("discriminator", "")).strip("'")
        path = f"{path}.{field}" if path else field
        tag = ctx.get("tag")
        expected = ctx.get("expected_tags")
        return FieldProblem(
            path,
            "nothing" if tag is None else repr(tag),
            f"one of {expected}" if expected else "this required field",
        )
    return FieldProblem(path, _received(err), _expected(err))


def problems(exc: ValidationError, data: Any) -> list[FieldProblem]:
    """Every problem in ``exc``, with paths resolved against the raw input ``data``."""
    return [_problem(err, data) for err in exc.errors(include_url=False)]
