"""Pure tests for the tree arithmetic: no database."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chargeback.units.tree import children_map, depth_first, descendants, would_cycle

# 1 > 2 > 3, 1 > 4; 5 > 6; 7 alone
FOREST: dict[int, int | None] = {1: None, 2: 1, 3: 2, 4: 1, 5: None, 6: 5, 7: None}
NAMES = {1: "a", 2: "b", 3: "c", 4: "a2", 5: "z", 6: "y", 7: "m"}


def test_children_map():
    assert dict(children_map(FOREST)) == {None: [1, 5, 7], 1: [2, 4], 2: [3], 5: [6]}


def test_descendants_include_the_roots_and_everything_below():
    assert descendants(FOREST, [1]) == {1, 2, 3, 4}
    assert descendants(FOREST, [2]) == {2, 3}
    assert descendants(FOREST, [3]) == {3}
    assert descendants(FOREST, [2, 6]) == {2, 3, 6}
    assert descendants(FOREST, [2, 1]) == {1, 2, 3, 4}


def test_descendants_ignore_unknown_roots_and_empty_input():
    assert descendants(FOREST, [99]) == set()
    assert descendants(FOREST, []) == set()
    assert descendants({}, [1]) == set()


def test_descendants_terminate_on_an_existing_cycle():
    assert descendants({1: 2, 2: 1, 3: 1}, [1]) == {1, 2, 3}


def test_would_cycle_under_itself_or_a_descendant():
    assert would_cycle(FOREST, 1, 1) is True
    assert would_cycle(FOREST, 1, 2) is True
    assert would_cycle(FOREST, 1, 3) is True
    assert would_cycle(FOREST, 2, 3) is True


def test_would_not_cycle_elsewhere():
    assert would_cycle(FOREST, 2, None) is False
    assert would_cycle(FOREST, 2, 4) is False
    assert would_cycle(FOREST, 3, 1) is False
    assert would_cycle(FOREST, 1, 6) is False
    assert would_cycle(FOREST, 5, 3) is False
    assert would_cycle(FOREST, 7, 99) is False


def test_would_cycle_stops_on_a_corrupt_map():
    """A cycle that does not involve the node still ends the walk (and is refused)."""
    assert would_cycle({1: 2, 2: 1, 3: None}, 3, 1) is True


def test_depth_first_orders_each_parent_before_its_sorted_subtree():
    assert depth_first(FOREST, NAMES) == [
        (1, 0),  # a
        (4, 1),  # a2 sorts before b
        (2, 1),  # b
        (3, 2),  # c
        (7, 0),  # m
        (5, 0),  # z
        (6, 1),  # y
    ]


def test_depth_first_treats_a_missing_parent_as_a_root():
    """A filtered list (say, a team lead's subtree) starts at the first visible ancestor."""
    assert depth_first({2: 1, 3: 2, 4: 1}, {2: "b", 3: "c", 4: "a"}) == [(4, 0), (2, 0), (3, 1)]


def test_depth_first_of_nothing():
    assert depth_first({}, {}) == []


# Random forests: each node's parent is None or a node created before it; labels shuffled so
# that parent ids are not always smaller than child ids.
@st.composite
def forests(draw: st.DrawFn) -> dict[int, int | None]:
    size = draw(st.integers(min_value=1, max_value=25))
    labels = draw(st.permutations(range(1, size + 1)))
    parents: dict[int, int | None] = {}
    for index, label in enumerate(labels):
        if index == 0 or draw(st.booleans()):
            parents[label] = None
        else:
            parents[label] = labels[draw(st.integers(min_value=0, max_value=index - 1))]
    return parents


def _ancestors(parents: dict[int, int | None], node: int) -> list[int]:
    out = []
    current = parents[node]
    while current is not None:
        out.append(current)
        current = parents[current]
    return out


@given(data=st.data())
def test_would_cycle_exactly_when_new_parent_is_in_the_subtree(data: st.DataObject):
    parents = data.draw(forests())
    node = data.draw(st.sampled_from(sorted(parents)))
    new_parent = data.draw(st.none() | st.sampled_from(sorted(parents)))
    expected = new_parent is not None and new_parent in descendants(parents, [node])
    assert would_cycle(parents, node, new_parent) == expected


@given(parents=forests())
def test_would_cycle_false_for_every_ancestor_and_non_descendant(parents: dict[int, int | None]):
    for node in parents:
        subtree = descendants(parents, [node])
        for other in parents:
            assert would_cycle(parents, node, other) == (other in subtree)


@given(parents=forests())
def test_descendants_are_the_nodes_with_the_root_among_their_ancestors(
    parents: dict[int, int | None],
):
    for root in parents:
        expected = {n for n in parents if n == root or root in _ancestors(parents, n)}
        assert descendants(parents, [root]) == expected


@given(parents=forests())
def test_depth_first_visits_every_node_once_after_its_parent_at_its_depth(
    parents: dict[int, int | None],
):
    order_key = {n: f"{n:03d}" for n in parents}
    rows = depth_first(parents, order_key)
    assert sorted(n for n, _ in rows) == sorted(parents)
    position = {n: i for i, (n, _) in enumerate(rows)}
    for node, depth in rows:
        assert depth == len(_ancestors(parents, node))
        if parents[node] is not None:
            assert position[parents[node]] < position[node]
    # each subtree is contiguous: a node's descendants follow it directly
    for node, _ in rows:
        size = len(descendants(parents, [node]))
        block = {n for n, _ in rows[position[node] : position[node] + size]}
        assert block == descendants(parents, [node])
