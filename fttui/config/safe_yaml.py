"""YAML for files a user can edit: libyaml speed, but no alias bombs, no duplicate keys, no runaway nesting.

PyYAML shares an aliased node instead of copying it, so a "billion laughs" file loads in a millisecond; the
blow-up comes later, when pydantic validates it or an error message prints it. So the composed node graph
is measured (each node once) before anything is constructed, and refused past a small budget.
"""
from __future__ import annotations

import reprlib
from typing import Any

import yaml

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ten times faster
MAX_ALIAS_NODES = 10_000  # values that aliases may add on top of those written out
MAX_DEPTH = 100
EXCERPT = 80
MERGE_TAG = "tag:yaml.org,2002:merge"

_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxlist, _repr.maxdict, _repr.maxstring, _repr.maxother = 3, 6, 6, EXCERPT, EXCERPT


def excerpt(value: Any, limit: int = EXCERPT) -> str:
    """``repr`` cut to ``limit`` characters, without ever building the whole repr of a huge value."""
    text = value if isinstance(value, str) else _repr.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def short_repr(value: Any) -> str:
    """``repr`` of any value (strings quoted), at most ``EXCERPT`` characters."""
    return excerpt(_repr.repr(value))


class RefusedYAML(yaml.YAMLError):
    """Parsable YAML that fttui will not use; ``problem_mark`` is the line it starts on, like PyYAML's errors."""

    def __init__(self, problem: str, mark, hint: str):
        super().__init__(problem)
        self.problem, self.problem_mark, self.hint = problem, mark, hint


def loads(text: str) -> Any:
    """Like ``yaml.safe_load``, but raise RefusedYAML for duplicate keys, alias bombs and deep nesting."""
    loader = LOADER(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:  # the pure-Python composer recurses once per level
            raise RefusedYAML(f"nested more than {MAX_DEPTH} levels deep", None, "flatten the file") from None
        if node is None:
            return None
        _Check(loader).run(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


class _Check:
    """One walk over the node graph: duplicate keys, nesting depth and the size aliases expand to."""

    def __init__(self, loader):
        self.loader = loader
        self.sizes: dict[int, int] = {}  # expanded size of each node already walked
        self.open: set[int] = set()
        self.added = 0  # nodes that aliases add, counted as the walk reuses a node
        self.duplicates: list[tuple[str, Any]] = []

    def run(self, root) -> None:
        self.size(root, "", 0, root.start_mark)
        if self.duplicates:
            problems = "; ".join(problem for problem, _ in self.duplicates)
            raise RefusedYAML(problems, self.duplicates[0][1], "keep one of each key (a later one would silently win)")

    def size(self, node, path: str, depth: int, parent_mark) -> int:
        key = id(node)
        if key in self.sizes:  # an alias: it expands to a full copy of the anchored value
            self.added += self.sizes[key]
            if self.added > MAX_ALIAS_NODES:
                raise RefusedYAML(f"aliases (*name) expand to more than {MAX_ALIAS_NODES} values", parent_mark,
                                  "write the values out, or use fewer aliases")
            return self.sizes[key]
        if key in self.open:
            raise RefusedYAML("an alias (*name) refers to the value that contains it", parent_mark,
                              "remove the recursive alias")
        if depth > MAX_DEPTH:
            raise RefusedYAML(f"nested more than {MAX_DEPTH} levels deep", node.start_mark, "flatten the file")
        self.open.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for child in node.value:
                total += self.size(child, path, depth + 1, node.start_mark)
        elif isinstance(node, yaml.MappingNode):
            self.find_duplicates(node, path)
            for key_node, value_node in node.value:
                name = self.key_name(key_node)
                child_path = f"{path}.{name}" if path else name
                total += self.size(key_node, path, depth + 1, node.start_mark)
                total += self.size(value_node, child_path, depth + 1, key_node.start_mark)
        self.open.discard(key)
        self.sizes[key] = total
        return total

    def key_name(self, key_node) -> str:
        return excerpt(str(key_node.value), 40) if isinstance(key_node, yaml.ScalarNode) else "?"

    def find_duplicates(self, node, path: str) -> None:
        """Keys equal as values (``yes`` and ``true`` too); ``<<`` merges may be overridden, as YAML intends."""
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == MERGE_TAG:
                continue
            try:
                value = self.loader.construct_object(key_node)
                hash(value)
            except (yaml.YAMLError, TypeError):
                continue  # construction reports it
            line = key_node.start_mark.line + 1
            if value in seen:
                name = self.key_name(key_node)
                where = f"{path}.{name}" if path else name
                self.duplicates.append((f"duplicate key {where}: defined at line {seen[value]} and again at line {line}",
                                        key_node.start_mark))
            else:
                seen[value] = line
