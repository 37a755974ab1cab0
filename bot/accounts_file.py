"""Load and validate the accounts YAML file; every problem names the file, line and field path.

The file is operator input, but it is read by a long-running process and by `pulse check-config`:
whatever it holds, loading it ends quickly with either an `AccountsConfig` or a `ConfigError`
(never a traceback). Hence the bounds below: file size, nesting depth, how far YAML aliases may
expand (a "billion laughs" file is a few hundred bytes), number length, calendar dates.
"""

from __future__ import annotations

import difflib
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from yaml.events import AliasEvent

from bot.domain.accounts import AccountsConfig
from bot.errors import ConfigError

MAX_BYTES = 5 * 1024 * 1024  # an account takes about 1 KB; 5 MB is thousands of accounts
MAX_DEPTH = 32  # the model nests 5 levels deep (accounts[0].channels[0].digest.cron)
MAX_NODES = 100_000  # values after alias expansion; the example file has about 200
MAX_DIGITS = 30  # no number in the model needs more

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Refused(Exception):
    """A YAML construct the loader does not accept; `line` is 1-based."""

    def __init__(self, line: int, message: str):
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}")


def _line(mark: yaml.Mark) -> int:
    return mark.line + 1


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader with bounds on depth, alias expansion, number length and dates."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0  # nodes composed so far, counting each alias as the size of what it names
        self._sizes: dict[str, int] = {}  # anchor -> nodes in the subtree it names
        self._open_anchors: set[str] = set()

    def _count(self, n: int, mark: yaml.Mark) -> None:
        self._nodes += n
        if self._nodes > MAX_NODES:
            raise _Refused(
                _line(mark),
                f"the file expands to more than {MAX_NODES:,} values (YAML anchors and aliases "
                "repeating each other?); write the values out or use fewer aliases",
            )

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            if event.anchor in self._open_anchors:
                raise _Refused(_line(event.start_mark), f"alias *{event.anchor} is inside its own anchor &{event.anchor}")
            self._count(self._sizes.get(event.anchor, 1), event.start_mark)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(_line(event.start_mark), f"values are nested more than {MAX_DEPTH} levels deep")
        anchor, before = event.anchor, self._nodes
        if anchor is not None:
            self._open_anchors.add(anchor)
        self._count(1, event.start_mark)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open_anchors.discard(anchor)
                self._sizes[anchor] = self._nodes - before

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:  # Python refused the value (int(), date())
            shown = f"{node.value[:40]!r} " if isinstance(node, yaml.ScalarNode) else ""
            raise _Refused(_line(node.start_mark), f"the value {shown}cannot be read: {exc}") from None

    def construct_yaml_int(self, node):
        _short_number(node)  # Python refuses ints over 4,300 digits, and no field needs 31
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node):
        _short_number(node)
        return super().construct_yaml_float(node)

    def construct_yaml_timestamp(self, node):
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            # YAML reads 2026-02-30 as a date; Python refuses it ("day is out of range for month").
            raise _Refused(_line(node.start_mark), f"{node.value} is not a date in the calendar ({exc})") from None


def _short_number(node: yaml.ScalarNode) -> None:
    digits = sum(c.isdigit() for c in node.value)
    if digits > MAX_DIGITS:
        raise _Refused(_line(node.start_mark), f"a number of {digits:,} digits is too long for any field")


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _BoundedLoader.construct_yaml_int)
_BoundedLoader.add_constructor("tag:yaml.org,2002:float", _BoundedLoader.construct_yaml_float)
_BoundedLoader.add_constructor("tag:yaml.org,2002:timestamp", _BoundedLoader.construct_yaml_timestamp)


def _walk(node: yaml.Node, path: tuple = ()):
    """(path, node) for every node, parents first; aliases are walked where they are used."""
    stack = [(path, node)]
    while stack:
        path, node = stack.pop()
        yield path, node
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in reversed(node.value):
                stack.append(((*path, key_node.value), value_node))
        elif isinstance(node, yaml.SequenceNode):
            for i in reversed(range(len(node.value))):
                stack.append(((*path, i), node.value[i]))


def _duplicate_keys(root: yaml.Node) -> list[tuple[int, str]]:
    """A key given twice in one mapping: YAML would silently keep the last value."""
    problems = []
    seen_nodes: set[int] = set()
    for path, node in _walk(root):
        if not isinstance(node, yaml.MappingNode) or id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))  # an aliased mapping is checked once
        first: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue  # keys merged in with `<<: *defaults` may be overridden on purpose
            key = (key_node.tag, key_node.value)
            line = _line(key_node.start_mark)
            if key in first:
                problems.append((
                    line,
                    f"{_format_path((*path, key_node.value))}: given twice, on line {first[key]} and line {line}; "
                    "YAML would silently keep only the last one: delete one of them",
                ))
            else:
                first[key] = line
    return problems


def _line_index(root: yaml.Node) -> dict[tuple, int]:
    """Map each field path (('accounts', 0, 'key')) to its 1-based line in the YAML file."""
    index: dict[tuple, int] = {}
    for path, node in _walk(root):
        index.setdefault(path, _line(node.start_mark))
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


def _compose_and_construct(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        duplicates = _duplicate_keys(node)
        if duplicates:
            raise ConfigError(source, [f"line {line}: {msg}" for line, msg in sorted(duplicates)])
        return node, loader.construct_document(node)
    except _Refused as exc:
        raise ConfigError(source, [str(exc)]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise ConfigError(source, [f"{where}not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    except RecursionError:  # MAX_DEPTH keeps the composer far from Python's limit; belt and braces
        raise ConfigError(source, [f"values are nested too deeply (more than {MAX_DEPTH} levels)"]) from None
    finally:
        loader.dispose()


def parse_accounts(text: str, source: str) -> AccountsConfig:
    """Parse accounts YAML text; raise ConfigError listing every problem with line and field."""
    if len(text) > MAX_BYTES:
        raise ConfigError(source, [_too_large(len(text.encode("utf-8", "surrogatepass")))])
    node, data = _compose_and_construct(text, source)
    if not isinstance(data, dict):
        raise ConfigError(source, ["the top level must be a mapping with an 'accounts:' list"])
    assert node is not None  # a mapping was composed from a node
    index = _line_index(node)
    try:
        return AccountsConfig.model_validate(data)
    except ValidationError as exc:
        problems: list[tuple[int, str]] = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            if err["type"] == "accounts_conflict":
                # Something two accounts may not share: reported at every place it is written.
                for message, paths in err["ctx"]["conflicts"]:
                    problems.extend(_problem(index, path, message) for path in paths)
                continue
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = _unknown_key(loc)
            problems.append(_problem(index, loc, msg))
        # In file order, whatever order pydantic found them in.
        raise ConfigError(source, [text for _, text in sorted(problems, key=lambda p: p[0])]) from None


def _problem(index: dict[tuple, int], loc: tuple, message: str) -> tuple[int, str]:
    line = _nearest_line(index, loc)
    prefix = f"line {line}: " if line else ""
    return line or 0, f"{prefix}{_format_path(loc)}: {message}"


def _unknown_key(loc: tuple) -> str:
    """'unknown key; did you mean 'budget'?' with the keys the model has at that level."""
    fields = _fields_at(AccountsConfig, loc[:-1])
    key = str(loc[-1])
    if not fields:
        return "unknown key"
    close = difflib.get_close_matches(key.lower(), fields, n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean {close[0]!r}?"
    return "unknown key; the keys here are " + ", ".join(fields)


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the model found at `loc` (list indexes and dict keys walked through)."""
    current: Any = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            field = current.model_fields.get(part)
            if field is None:
                return []
            current = field.annotation
        # Unwrap list[X], X | None, dict[str, X] down to a model.
        while not (isinstance(current, type) and issubclass(current, BaseModel)):
            args = [a for a in typing.get_args(current) if a is not type(None)]
            if not args:
                return []
            current = args[-1]
    return list(current.model_fields) if isinstance(current, type) and issubclass(current, BaseModel) else []


def _too_large(size: int) -> str:
    return (
        f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB ({size:,} bytes or more); an accounts file "
        "takes about 1 KB per account: is this the right file?"
    )


def load_accounts(path: str | Path) -> AccountsConfig:
    """Read and validate the accounts file at `path`."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)  # never more, whatever the file is (even /dev/zero)
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(str(path), [_too_large(len(raw))])
    try:
        text = raw.decode("utf-8-sig")  # a byte order mark (Windows editors) is fine
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            str(path),
            [f"line {line}: the file is not UTF-8 (byte 0x{raw[exc.start]:02x}); save it as UTF-8 in your editor"],
        ) from None
    return parse_accounts(text, str(path))
