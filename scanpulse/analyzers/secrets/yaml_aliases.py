"""YAML documents detect-secrets must not expand: aliases that would explode ("billion
laughs"), refer to themselves or nest too deeply; such files are read line by line.
"""

from __future__ import annotations

import yaml
from detect_secrets.util.filetype import FileType, determine_file_type

# detect-secrets walks a YAML document with every alias expanded, holding the expansion in
# memory: a few lines of nested aliases ("billion laughs") expand to billions of values. A
# document whose aliases add more values than this, that refers to itself, or that nests deeper
# than its parser can recurse, is read line by line instead (see yaml_refusal).
MAX_YAML_ALIAS_EXPANSION = 100_000
TOO_DEEP = "its YAML nests too deeply to be parsed"


def _yaml_children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [item for pair in node.value for item in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _alias_excess(root: yaml.Node) -> int | str:
    """How many nodes the aliases of a composed document add when expanded, or why the
    document cannot be expanded at all. Linear in the document: shared nodes are sized once."""
    ceiling = MAX_YAML_ALIAS_EXPANSION * 1000  # sizes saturate: the count is only compared
    sizes: dict[int, int] = {}
    active: set[int] = set()  # nodes whose descendants are being sized
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, sized = stack.pop()
        key = id(node)
        if sized:
            active.discard(key)
            children = _yaml_children(node)
            sizes[key] = min(ceiling, 1 + sum(sizes[id(child)] for child in children))
            continue
        if key in sizes:
            continue
        if key in active:  # a node among its own descendants: an alias inside its anchor
            return "its YAML aliases refer to themselves"
        active.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _yaml_children(node))
    return sizes[id(root)] - len(sizes)


def yaml_refusal(filename: str, text: str) -> str | None:
    """Why detect-secrets must not parse this file as YAML, or None when it may.

    Only YAML files (by name, as detect-secrets decides) with an anchor and an alias are
    composed here first; composing is linear in the file, expanding is what explodes.
    """
    if determine_file_type(filename) != FileType.YAML or "&" not in text or "*" not in text:
        return None
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError:
        return None  # detect-secrets cannot parse it either, and reads its lines instead
    except RecursionError:
        return TOO_DEEP
    finally:
        loader.dispose()
    if root is None:
        return None
    excess = _alias_excess(root)
    if isinstance(excess, str):
        return excess
    if excess > MAX_YAML_ALIAS_EXPANSION:
        return f"its YAML aliases expand to more than {MAX_YAML_ALIAS_EXPANSION:,} values"
    return None
