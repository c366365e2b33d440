"""Reading YAML configs and validating them, with errors that name the file and the field path.

The YAML reader is bounded: a file over ``MAX_YAML_BYTES``, nested deeper than ``MAX_YAML_DEPTH``,
or whose aliases would expand to more than ``MAX_YAML_NODES`` nodes (a "billion laughs" bomb)
is refused before anything is built from it; so are duplicate keys, which YAML would otherwise
resolve silently to the last one, and files that are not UTF-8 text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from srlab.errors import DataFormatError, SrlabError

ModelT = TypeVar("ModelT", bound=BaseModel)

MAX_YAML_BYTES = 4 * 1024 * 1024
MAX_YAML_DEPTH = 64
MAX_YAML_NODES = 200_000  # after expanding aliases


class _LimitError(yaml.YAMLError):
    def __init__(self, message: str, mark: Any = None) -> None:
        super().__init__(message)
        self.problem_mark = mark


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader with a depth limit while composing and no duplicate mapping keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _LimitError(f"nested deeper than {MAX_YAML_DEPTH} levels", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:
                    continue  # an unhashable key: SafeLoader reports it
                if first is not key_node:
                    raise _LimitError(
                        f"duplicate key {key!r} (first at line {first.start_mark.line + 1})", key_node.start_mark
                    )
        return super().construct_mapping(node, deep=deep)


def _expanded_size(root: Any) -> int:
    """Nodes the document would have with every alias expanded; stops counting past the limit."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Any) -> int:
        ident = id(node)
        if ident in sizes:
            return sizes[ident]
        if ident in active:
            raise _LimitError("an alias refers to a node that contains it", node.start_mark)
        active.add(ident)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = []
        for child in children:
            total += size(child)
            if total > MAX_YAML_NODES:
                raise _LimitError(
                    f"aliases expand to more than {MAX_YAML_NODES} nodes (an alias bomb?)", node.start_mark
                )
        active.discard(ident)
        sizes[ident] = total
        return total

    return size(root)


def load_yaml_text(text: str) -> Any:
    """Parse one YAML document within the limits above; raises ``yaml.YAMLError``."""
    if len(text) > MAX_YAML_BYTES:
        raise _LimitError(f"larger than {MAX_YAML_BYTES // 2**20} MiB")
    if "\x00" in text:
        raise _LimitError("a NUL byte: this is a binary file, not YAML")
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def read_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """A YAML file whose top level is a mapping; ``what`` names the kind of file in errors."""
    path = Path(path)
    if not path.is_file():
        raise SrlabError(f"{what} {path} not found" + (" (it is a directory)" if path.is_dir() else ""))
    try:
        if path.stat().st_size > MAX_YAML_BYTES:
            raise DataFormatError(path, None, f"invalid YAML: larger than {MAX_YAML_BYTES // 2**20} MiB")
        raw = path.read_bytes()
    except OSError as exc:
        raise DataFormatError(path, None, f"cannot read this {what}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataFormatError(path, line, f"not UTF-8 text (byte {exc.start}): is this a YAML file?") from None
    try:
        data = load_yaml_text(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DataFormatError(path, mark.line + 1 if mark is not None else None, f"invalid YAML: {exc}") from None
    except RecursionError:
        raise DataFormatError(path, None, "invalid YAML: nested too deeply") from None
    if not isinstance(data, dict):
        raise SrlabError(f"{path}: expected a mapping at the top level of this {what}")
    return data


def validation_message(exc: ValidationError, where: str, what: str) -> str:
    lines = [f"{where}: invalid {what}"]
    for error in exc.errors():
        path = ".".join(str(p) for p in error["loc"]) or "(top level)"
        lines.append(f"  {path}: {error['msg']}")
    return "\n".join(lines)


def validate(model: type[ModelT], data: Any, where: str, what: str) -> ModelT:
    """``model.model_validate(data)``, turning a ValidationError into one SrlabError with field paths."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SrlabError(validation_message(exc, where, what)) from None
