"""YAML reading that remembers where every mapping and key came from, so errors can name file:line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cellctl.errors import ProgramError


def display_path(path: Path) -> str:
    """The path as a user would type it: relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class YDict(dict):
    """A mapping read from YAML, with the file, its own line and the line of each key."""

    file: str = "?"
    line: int = 0
    key_lines: dict

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)

    def error(self, key: str | None, message: str) -> ProgramError:
        return ProgramError(message, self.file, self.line_of(key) if key else self.line)


class YList(list):
    """A sequence read from YAML, with the file, its line and the line of each item."""

    file: str = "?"
    line: int = 0
    item_lines: list

    def error(self, index: int | None, message: str) -> ProgramError:
        line = self.item_lines[index] if index is not None and index < len(self.item_lines) else self.line
        return ProgramError(message, self.file, line)


def _loader_for(file: str) -> type:
    class Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> YDict:
        loader.flatten_mapping(node)
        out = YDict()
        out.file, out.line, out.key_lines = file, node.start_mark.line + 1, {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                raise ProgramError("mapping keys must be plain names", file, key_node.start_mark.line + 1)
            if key in out:
                raise ProgramError(f"key '{key}' appears twice; keep one", file, key_node.start_mark.line + 1)
            out[key] = loader.construct_object(value_node, deep=True)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out

    def construct_sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> YList:
        out = YList(loader.construct_object(child, deep=True) for child in node.value)
        out.file, out.line = file, node.start_mark.line + 1
        out.item_lines = [child.start_mark.line + 1 for child in node.value]
        return out

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, construct_sequence)
    return Loader


def load_yaml(path: Path) -> YDict:
    """Read a YAML file whose top level is a mapping; syntax errors become ProgramError with the line."""
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ProgramError("the file is not UTF-8 text; save it as UTF-8", shown, line)
    except IsADirectoryError:
        raise ProgramError("this is a folder, not a file; name the YAML file", shown)
    except FileNotFoundError:
        raise ProgramError("file not found; check the path (paths resolve against the file that names them)", shown)
    except OSError as exc:
        raise ProgramError(f"cannot read the file: {exc.strerror}", shown)
    try:
        data = yaml.load(text, Loader=_loader_for(shown))  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = exc.problem or "invalid YAML"
        raise ProgramError(f"YAML syntax error: {what}. Fix the indentation or punctuation on this line", shown, line)
    if not isinstance(data, YDict):
        raise ProgramError("the file must hold a YAML mapping (key: value lines) at its top level", shown, 1)
    return data


def check_keys(node: Any, what: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> YDict:
    """Raise on a node that is not a mapping, misses a required key, or has an unknown one."""
    if not isinstance(node, YDict):
        raise ProgramError(f"{what} must be a mapping with keys: {', '.join(required + optional)}")
    known = required + optional
    for key in node:
        if key not in known:
            raise node.error(key, f"unknown key '{key}' in {what}; known keys: {', '.join(sorted(known))}")
    for key in required:
        if key not in node:
            raise node.error(None, f"{what} needs the key '{key}'")
    return node
