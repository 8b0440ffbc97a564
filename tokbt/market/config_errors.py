"""One way to say what is wrong with a config: ``field.path: problem; ...``.

Each problem says the rule in a user's words, with the value found: ``must be ≥ 0
(got -1)``, ``must be one of 'next_open', 'close' (got 'open')``. Given the model,
a range names both bounds of a field (``must be ≥ 0 and ≤ 1``) and an unknown key
lists the keys allowed there, suggesting the nearest one.
"""

from __future__ import annotations

import difflib
import types
from typing import Any, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

_TYPE_RULES = {
    "int_parsing": "must be an integer",
    "int_type": "must be an integer",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "date_parsing": "must be a date (YYYY-MM-DD)",
    "date_type": "must be a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "must be a date (YYYY-MM-DD)",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "missing": "is required",
}
_BOUNDS = (
    (annotated_types.Ge, "ge", "≥"),
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Le, "le", "≤"),
    (annotated_types.Lt, "lt", "<"),
)


def describe(exc: ValidationError, model: type[BaseModel] | None = None, prefix: str = "") -> str:
    """Each broken field of a pydantic validation error as ``a.b: message``, joined by ``; ``.

    ``model`` (the validated class) lets a message give a field's whole range and the
    keys allowed where an unknown one was found; ``prefix`` is prepended to each path
    (``"strategy.params"`` for a model nested in a config by hand).
    """
    return "; ".join(_one(err, model, prefix) for err in exc.errors())


def _one(err: ErrorDetails, model: type[BaseModel] | None, prefix: str) -> str:
    loc = [str(part) for part in err["loc"]]
    path = ".".join([prefix, *loc] if prefix else loc) or "<top>"
    return f"{path}: {_problem(err, model)}"


def _problem(err: ErrorDetails, model: type[BaseModel] | None) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    got = _shown(err.get("input"))
    if kind == "extra_forbidden":
        return _unknown_key(model, err["loc"])
    if kind in {"literal_error", "enum"}:
        choices = str(ctx.get("expected", "")).replace(" or ", ", ")
        return f"must be one of {choices}{got}"
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
        info = _field(model, err["loc"]) if model is not None else None
        return f"must be {_range(info, ctx)}{got}"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s)"
    if kind == "string_pattern_mismatch":
        return f"must match the pattern {ctx.get('pattern')!r}{got}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind in _TYPE_RULES:
        return _TYPE_RULES[kind] + ("" if kind == "missing" else got)
    return f"{err['msg']}{got}"


def _shown(value: Any) -> str:
    if isinstance(value, dict | list | tuple) or value is None:
        return ""
    text = repr(value)
    return f" (got {text if len(text) <= 40 else text[:37] + '...'})"


def _range(info: FieldInfo | None, ctx: dict[str, Any]) -> str:
    """``≥ 0 and ≤ 1``: every bound of the field, else the bound the error names."""
    metadata = info.metadata if info is not None else []
    found = [
        f"{sign} {getattr(m, key)}"
        for cls, key, sign in _BOUNDS
        for m in metadata
        if isinstance(m, cls)
    ]
    return " and ".join(found or [f"{sign} {ctx[key]}" for _, key, sign in _BOUNDS if key in ctx])


def _unknown_key(model: type[BaseModel] | None, loc: tuple[int | str, ...]) -> str:
    parent = _model_at(model, loc[:-1]) if model is not None else None
    if parent is None:
        return "unknown key"
    known = list(parent.model_fields)
    near = difflib.get_close_matches(str(loc[-1]), known, n=1)
    hint = f" (did you mean '{near[0]}'?)" if near else ""
    return f"unknown key{hint}; allowed here: {', '.join(known)}"


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (``X``, ``X | None``, ``list[X]``, ...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in {Union, types.UnionType, list, tuple, dict} or get_args(
        annotation
    ):
        for arg in get_args(annotation):
            found = _submodel(arg)
            if found is not None:
                return found
    return None


def _model_at(model: type[BaseModel] | None, loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model that holds the fields at ``loc`` (list indices and union tags skipped)."""
    current = model
    for part in loc:
        if current is None:
            return None
        info = current.model_fields.get(str(part))
        if info is not None:
            current = _submodel(info.annotation)
    return current


def _field(model: type[BaseModel] | None, loc: tuple[int | str, ...]) -> FieldInfo | None:
    """The field at ``loc``; list indices and union tags (``int``, ``list[int]``) are skipped."""
    current, found = model, None
    for part in loc:
        if current is None:
            continue
        info = current.model_fields.get(str(part))
        if info is not None:
            current, found = _submodel(info.annotation), info
    return found
