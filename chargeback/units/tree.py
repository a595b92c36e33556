"""Pure tree arithmetic over (id -> parent id) maps: descendants, cycles, depth."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping


def children_map(parents: Mapping[int, int | None]) -> dict[int | None, list[int]]:
    children: dict[int | None, list[int]] = defaultdict(list)
    for node, parent in parents.items():
        children[parent].append(node)
    return children


def descendants(parents: Mapping[int, int | None], roots: Iterable[int]) -> set[int]:
    """The roots and everything below them."""
    children = children_map(parents)
    seen: set[int] = set()
    stack = [r for r in roots if r in parents]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(children.get(node, []))
    return seen


def would_cycle(parents: Mapping[int, int | None], node: int, new_parent: int | None) -> bool:
    """True if making `new_parent` the parent of `node` creates a cycle."""
    current = new_parent
    steps = 0
    while current is not None:
        if current == node:
            return True
        current = parents.get(current)
        steps += 1
        if steps > len(parents) + 1:
            return True
    return False


def depth_first(
    parents: Mapping[int, int | None], order_key: Mapping[int, str]
) -> list[tuple[int, int]]:
    """(node, depth) pairs in display order: each parent followed by its sorted subtree."""
    children = children_map(parents)
    roots = [n for n, p in parents.items() if p is None or p not in parents]
    out: list[tuple[int, int]] = []
    stack = [(r, 0) for r in sorted(roots, key=lambda n: order_key[n], reverse=True)]
    seen: set[int] = set()
    while stack:
        node, depth = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        out.append((node, depth))
        for child in sorted(children.get(node, []), key=lambda n: order_key[n], reverse=True):
            stack.append((child, depth + 1))
    return out
