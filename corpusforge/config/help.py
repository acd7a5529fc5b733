"""`corpusforge config --defaults [COMMAND]`: every config key with its default and help, and "did you mean".

Everything printed is read from the pydantic models in corpusforge/config/ (defaults, `Field(description=...)`,
Literal choices, class docstrings), so help is declared once, next to the key it explains.
"""
from __future__ import annotations

import difflib
import inspect
import json
import types
import typing
from typing import Any, Literal

import yaml
from pydantic import BaseModel

from corpusforge.config import curate as C
from corpusforge.config.protect import ProtectConfig
from corpusforge.config.tokenizer import TokenizerTrainConfig

# The config model of each command that reads a YAML config (or, for train-tokenizer, flags with the same names).
MODELS: dict[str, type[BaseModel]] = {
    "curate": C.CurateConfig,
    "refresh": C.RefreshConfig,
    "protect": ProtectConfig,
    "train-tokenizer": TokenizerTrainConfig,
}
REQUIRED = "<required>"


def _nested_model(annotation) -> type[BaseModel] | None:
    """The model class of a section key (`x: SomeModel` or `x: SomeModel | None`), else None."""
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        models = [a for a in typing.get_args(annotation) if inspect.isclass(a) and issubclass(a, BaseModel)]
        return models[0] if len(models) == 1 else None
    return None


def keys_at(model: type[BaseModel], path: tuple) -> list[str] | None:
    """The key names valid at dotted `path` under `model` (None when the path leaves the models, e.g. a dict)."""
    for part in path:
        field = model.model_fields.get(str(part))
        sub = _nested_model(field.annotation) if field is not None else None
        if sub is None:
            return None
        model = sub
    return list(model.model_fields)


def suggest_key(model: type[BaseModel], loc: tuple) -> str | None:
    """The closest valid key to the unknown key at `loc` (a pydantic error location), dotted, or None."""
    names = keys_at(model, loc[:-1])
    if not names:
        return None
    match = difflib.get_close_matches(str(loc[-1]), names, n=1, cutoff=0.6)
    return ".".join([*map(str, loc[:-1]), match[0]]) if match else None


def suggest_command(name: str, commands) -> str | None:
    match = difflib.get_close_matches(name, list(commands), n=1, cutoff=0.5)
    return match[0] if match else None


def _choices(annotation) -> list | None:
    args = []
    for a in (typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType)
              else (annotation,)):
        if typing.get_origin(a) is Literal:
            args += list(typing.get_args(a))
        elif typing.get_origin(a) is list and typing.get_args(a) and typing.get_origin(typing.get_args(a)[0]) is Literal:
            args += list(typing.get_args(typing.get_args(a)[0]))
    return args or None


def _value(v: Any) -> str:
    if isinstance(v, (list, tuple, dict)):
        # JSON is valid YAML flow style and never wraps or folds; "\n" stays visible as an escape.
        return json.dumps(v, ensure_ascii=False)
    text = yaml.safe_dump(v, allow_unicode=True, width=10_000).strip()
    return text.removesuffix("...").strip()


def _comment(field) -> str:
    parts = []
    if field.description:
        parts.append(" ".join(field.description.split()))
    choices = _choices(field.annotation)
    if choices:
        parts.append("one of: " + ", ".join(str(c) for c in choices))
    return ("  # " + " ".join(parts)) if parts else ""


def format_defaults(model: type[BaseModel], indent: int = 0) -> list[str]:
    """YAML lines: each key with its default (or <required>) and its help as a comment."""
    pad = "  " * indent
    lines = []
    for name, field in model.model_fields.items():
        sub = _nested_model(field.annotation)
        if sub is not None:
            doc = (inspect.getdoc(sub) or "").split("\n\n")[0]
            if doc and not doc.startswith(("Usage docs", "!!!")):
                lines.append(f"{pad}# {' '.join(doc.split())}")
            if field.description:
                lines.append(f"{pad}# {' '.join(field.description.split())}")
            lines.append(f"{pad}{name}:{'  # required section' if field.is_required() else ''}")
            lines += format_defaults(sub, indent + 1)
            continue
        value = REQUIRED if field.is_required() else _value(field.get_default(call_default_factory=True))
        lines.append(f"{pad}{name}: {value}{_comment(field)}")
    return lines


def defaults_text(command: str) -> str:
    model = MODELS[command]
    head = [f"# corpusforge {command}: every config key with its default. Keys marked {REQUIRED} have none.",
            "# Copy what you change into your YAML, or pass it as --set key.sub=value."]
    if command == "train-tokenizer":
        head.append("# train-tokenizer takes these as --flags (underscores become dashes).")
    return "\n".join(head + format_defaults(model)) + "\n"


# ------------------------------------------------------------------------------------------------ CLI
