"""The base of every config model, and the one place that loads YAML, applies `--set` overrides and
explains validation errors (one line per problem, naming the dotted key).

Unknown keys are errors: a typo must never silently fall back to a default.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from corpusforge.errors import ConfigError


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _set_dotted(data: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    cur = data
    for k in keys[:-1]:
        nxt = cur.get(k)
        if nxt is None:
            nxt = cur[k] = {}
        if not isinstance(nxt, dict):
            raise ConfigError(f"--set {dotted}: '{k}' is not a section (it is {type(nxt).__name__})")
        cur = nxt
    cur[keys[-1]] = value


def parse_overrides(pairs: list[str] | None) -> list[tuple[str, Any]]:
    out = []
    for pair in pairs or []:
        if "=" not in pair:
            raise ConfigError(f"--set expects key=value (e.g. --set output.dir=runs/x), got {pair!r}")
        key, raw = pair.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        out.append((key.strip(), value))
    return out


def format_validation_error(err: ValidationError, source: str, model: type[BaseModel] | None = None) -> str:
    """One line per problem, naming the dotted key; an unknown key gets the closest valid one (`model`)."""
    from corpusforge.config.help import MODELS, suggest_key

    command = next((c for c, m in MODELS.items() if m is model), "curate")
    lines = [f"invalid config {source}:"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        typ = e["type"]
        if typ == "extra_forbidden":
            guess = suggest_key(model, tuple(e["loc"])) if model is not None else None
            msg = (f"unknown key (did you mean {guess}?)" if guess else "unknown key (check the spelling)") + \
                f"; `corpusforge config --defaults {command}` lists every key"
        elif typ == "missing":
            msg = "required key is missing"
        else:
            msg = e["msg"]
            if "input" in e and typ not in ("value_error",) and not isinstance(e["input"], dict):
                msg += f" (got {e['input']!r})"
        lines.append(f"  - {loc}: {msg}")
    return "\n".join(lines)


INCLUDE_KEY = "include"


def merge_config(base: dict, over: dict) -> dict:
    """`over` on top of `base`: sections (mappings) merge key by key, anything else (lists too) is replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_config(out[key], value)
        else:
            out[key] = value
    return out


def read_config_file(path: Path, _chain: tuple[Path, ...] = ()) -> dict:
    """One YAML config file as a mapping, with the files named by its `include:` key (one path or a list,
    relative to this file) merged underneath it in order: later files win over earlier ones, and this file's
    own keys win over all of them. So shared settings live in one file and each config states only what
    differs (configs/local.yaml includes configs/quality.yaml)."""
    path = Path(path)
    if path.resolve() in _chain:
        cycle = " -> ".join(str(p) for p in (*_chain, path.resolve()))
        raise ConfigError(f"config include cycle: {cycle} (remove one of these `include:` entries)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise ConfigError(f"config {path} cannot be read: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"config {path} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must be a YAML mapping at the top level")
    includes = data.pop(INCLUDE_KEY, None)
    if includes is None:
        return data
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(i, str) and i for i in includes):
        raise ConfigError(f"config {path}: `{INCLUDE_KEY}` must be a file path or a list of file paths, "
                          f"relative to {path.parent or '.'} (got {includes!r})")
    merged: dict = {}
    for name in includes:
        inc = (path.parent / name) if not Path(name).is_absolute() else Path(name)
        if not inc.is_file():
            raise ConfigError(f"config {path}: `{INCLUDE_KEY}: {name}` names no file ({inc} does not exist; "
                              "paths are relative to the including file)")
        merged = merge_config(merged, read_config_file(inc, (*_chain, path.resolve())))
    return merge_config(merged, data)


def load_config(path: str | os.PathLike | None, overrides: list[str] | None = None, model: type[StrictModel] | None = None,
                data: dict | None = None):
    """Load YAML `path` (with the files its `include:` names), apply `--set key=value` overrides, validate
    with `model`.

    Raises ConfigError with one line per problem, naming the dotted key.
    """
    if model is None:
        from corpusforge.config.curate import CurateConfig as model  # the config of `curate`, the usual caller
    source = str(path) if path else "(inline)"
    if data is None:
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"config file not found: {p} (pass --config with a YAML file, e.g. configs/local.yaml)")
        data = read_config_file(p)
    if not isinstance(data, dict):
        raise ConfigError(f"config {source} must be a YAML mapping at the top level")
    for key, value in parse_overrides(overrides):
        _set_dotted(data, key, value)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, source, model)) from None
