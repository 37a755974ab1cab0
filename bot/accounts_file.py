"""Load and validate the accounts YAML file; every problem names the file, line and field path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.domain.accounts import AccountsConfig
from bot.errors import ConfigError


def _line_index(node: yaml.Node, path: tuple = (), index: dict | None = None) -> dict[tuple, int]:
    """Map each field path (('accounts', 0, 'key')) to its 1-based line in the YAML file."""
    index = {} if index is None else index
    index[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            _line_index(value_node, (*path, key_node.value), index)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_index(item, (*path, i), index)
    return index


def _format_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _nearest_line(index: dict[tuple, int], loc: tuple) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in index:
            return index[loc[:end]]
    return None


def parse_accounts(text: str, source: str) -> AccountsConfig:
    """Parse accounts YAML text; raise ConfigError listing every problem with line and field."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise ConfigError(source, [f"{where}not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    if not isinstance(data, dict) or "accounts" not in data:
        raise ConfigError(source, ["the top level must be a mapping with an 'accounts:' list"])
    index = _line_index(node) if node is not None else {}
    try:
        return AccountsConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            line = _nearest_line(index, loc)
            msg = err["msg"].removeprefix("Value error, ")
            prefix = f"line {line}: " if line else ""
            problems.append(f"{prefix}{_format_path(loc)}: {msg}")
        raise ConfigError(source, problems) from None


def load_accounts(path: str | Path) -> AccountsConfig:
    """Read and validate the accounts file at `path`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    return parse_accounts(text, str(path))
