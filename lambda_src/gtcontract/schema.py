"""JSON Schema validation with one line per problem, naming the field and the fix.

``jsonschema`` (and the schema files) are loaded on first use only, so modules that merely
import the contract stay fast (a Lambda handler module must import in well under 300 ms).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True, order=True)
class Problem:
    """One problem of a document: where (dotted path, ``[i]`` for list items) and what to do."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '(document)'}: {self.message}"


def dotted(parts: Iterable[str | int]) -> str:
    """``("task", "keywords", 2)`` -> ``task.keywords[2]``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def show(value: Any) -> str:
    """A value as the user would write it in JSON, shortened."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 160 else text[:157] + "..."


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A schema file shipped in this package."""
    from importlib import resources

    text = resources.files("gtcontract").joinpath(name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator(name: str, definition: str | None) -> Any:
    from jsonschema import Draft202012Validator

    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    if definition is None:
        return validator
    # The same validator (and so the same base for references), pointed at one of its definitions.
    return validator.evolve(schema={"$ref": f"{schema['$id']}#/$defs/{definition}"})


def _example(schema: Any) -> str | None:
    if isinstance(schema, dict) and schema.get("examples"):
        return show(schema["examples"][0])
    return None


def _type_name(kind: Any) -> str:
    names = {
        "integer": "a whole number",
        "number": "a number",
        "string": "a string",
        "boolean": "true or false",
        "object": "an object {...}",
        "array": "a list [...]",
        "null": "null",
    }
    kinds = kind if isinstance(kind, list) else [kind]
    return " or ".join(names.get(str(k), str(k)) for k in kinds)


def _bounds(schema: dict[str, Any], low: str, high: str, unit: str = "") -> str:
    lo, hi = schema.get(low), schema.get(high)
    if lo is not None and hi is not None:
        return f"from {lo} to {hi}{unit}"
    if lo is not None:
        return f"at least {lo}{unit}"
    return f"at most {hi}{unit}"


def _properties(schema: dict[str, Any]) -> list[str]:
    return [k for k in schema.get("properties", {}) if isinstance(k, str)]


def _describe(error: Any, parent_schemas: dict[str, dict[str, Any]]) -> list[Problem]:
    """The problems of one jsonschema error (``required``/``additionalProperties`` may hold several)."""
    path = dotted(error.absolute_path)
    schema: dict[str, Any] = error.schema if isinstance(error.schema, dict) else {}
    keyword, value, instance = error.validator, error.validator_value, error.instance
    custom = schema.get("errorMessage")

    if keyword == "required":
        missing = [name for name in value if isinstance(instance, dict) and name not in instance]
        problems = []
        for name in missing:
            example = _example(parent_schemas.get(path, {}).get("properties", {}).get(name))
            fix = f'; write "{name}": {example}' if example else ""
            problems.append(Problem(join(path, name), f"is required but missing{fix}"))
        return problems
    if keyword == "additionalProperties":
        allowed = _properties(schema) or _properties(parent_schemas.get(path, {}))
        extras = [k for k in instance if k not in allowed] if isinstance(instance, dict) else []
        problems = []
        import difflib

        for key in extras:
            close = difflib.get_close_matches(key, allowed, n=1)
            fix = (
                f'write "{close[0]}" instead' if close else f"remove it (allowed here: {', '.join(allowed)})"
            )
            problems.append(Problem(join(path, key), f"unknown key; {fix}"))
        return problems
    if keyword == "type":
        example = _example(schema)
        fix = f"; write e.g. {example} instead" if example else ""
        return [Problem(path, f"must be {_type_name(value)}, not {show(instance)}{fix}")]
    if keyword in ("enum", "const"):
        choices = value if keyword == "enum" else [value]
        listing = ", ".join(show(c) for c in choices)
        fix = f"write {listing} instead" if len(choices) == 1 else f"write one of {listing} instead"
        return [Problem(path, f"{show(instance)} is not allowed; {fix}")]
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        side = "below" if keyword in ("minimum", "exclusiveMinimum") else "above"
        limit = "the minimum" if side == "below" else "the maximum"
        return [
            Problem(
                path,
                f"{show(instance)} is {side} {limit} {value}; write a whole number "
                f"{_bounds(schema, 'minimum', 'maximum')} instead",
            )
        ]
    if keyword in ("minLength", "maxLength"):
        size = len(instance) if isinstance(instance, str) else 0
        return [
            Problem(
                path,
                f"is {size} characters long; write {_bounds(schema, 'minLength', 'maxLength', ' characters')}"
                " instead",
            )
        ]
    if keyword in ("minItems", "maxItems"):
        size = len(instance) if isinstance(instance, list) else 0
        return [
            Problem(
                path,
                f"has {size} item(s); write {_bounds(schema, 'minItems', 'maxItems', ' item(s)')} instead",
            )
        ]
    if keyword == "uniqueItems":
        seen: list[str] = []
        repeated: list[str] = []
        for item in instance if isinstance(instance, list) else []:
            text = show(item)
            if text in seen and text not in repeated:
                repeated.append(text)
            seen.append(text)
        return [Problem(path, f"{text} is listed more than once; write it once") for text in repeated]
    if custom:
        example = _example(schema)
        fix = f" (e.g. {example})" if example and example != show(instance) else ""
        return [Problem(path, f"{show(instance)}: {custom}{fix}")]
    if keyword == "pattern":
        example = _example(schema)
        fix = f"; write e.g. {example} instead" if example else ""
        return [Problem(path, f"{show(instance)} does not match {value}{fix}")]
    return [Problem(path, error.message)]


def schema_problems(name: str, document: Any, definition: str | None = None) -> list[Problem]:
    """Every problem the schema file ``name`` (or its ``$defs/<definition>``) finds in ``document``."""
    validator = _validator(name, definition)
    errors = list(_flatten(validator.iter_errors(document)))
    parents: dict[str, dict[str, Any]] = {}
    for path, schema in _object_schemas(load_schema(name), document):
        parents.setdefault(path, schema)
    problems: list[Problem] = []
    for error in errors:
        for problem in _describe(error, parents):
            if problem not in problems:
                problems.append(problem)
    return sorted(problems)


def _flatten(errors: Iterable[Any]) -> Iterable[Any]:
    for error in errors:
        if error.validator in ("anyOf", "oneOf") and error.context:
            yield from _flatten(error.context)
        else:
            yield error


def _object_schemas(
    schema: dict[str, Any], document: Any, path: Sequence[str | int] = ()
) -> Iterable[tuple[str, dict[str, Any]]]:
    """(path, object schema) for the document's objects that the schema describes by ``properties``."""
    if not isinstance(schema, dict):
        return
    if "properties" in schema:
        yield dotted(path), schema
    if isinstance(document, dict):
        for key, sub in schema.get("properties", {}).items():
            if key in document:
                yield from _object_schemas(sub, document[key], (*path, key))
    if isinstance(document, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(document):
            yield from _object_schemas(schema["items"], item, (*path, index))
