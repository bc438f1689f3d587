"""Threading: which messages belong together, and how they hang from each other.

Two jobs, both pure:

* :func:`connect` groups Message-IDs into threads (union-find over the reference graph).  The
  store uses it to give each message a thread as it arrives, so that a reply that comes before
  its parent, or in a later import, joins the right thread and two threads merge when the
  missing link arrives.
* :func:`build_tree` arranges one thread's messages into the tree a reader sees: Jamie
  Zawinski's algorithm (https://www.jwz.org/doc/threading.html) on References and
  In-Reply-To, with placeholders for parents that never reached the archive, subject grouping
  only for messages that carry no references, and reference cycles broken instead of followed.

Both are iterative: a thread of 10,000 messages or a cycle in the headers cannot blow the
stack.  Neither looks anything up; the caller hands in everything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from moot.core.message import base_subject, is_reply_subject


class UnionFind:
    """Disjoint sets of hashable keys, with path halving."""

    def __init__(self) -> None:
        self._parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        parent = self._parent
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self._parent[rb] = ra

    def groups(self) -> list[list[str]]:
        out: dict[str, list[str]] = {}
        for key in self._parent:
            out.setdefault(self.find(key), []).append(key)
        return list(out.values())


def connect(edges: Iterable[tuple[str, Sequence[str]]]) -> list[list[str]]:
    """Group Message-IDs: each message joins every ID it references.

    >>> sorted(sorted(g) for g in connect([("b", ["a"]), ("c", ["b"]), ("x", [])]))
    [['a', 'b', 'c'], ['x']]
    """
    uf = UnionFind()
    for mid, refs in edges:
        uf.find(mid)
        for ref in refs:
            uf.union(mid, ref)
    return uf.groups()


@dataclass
class ThreadItem:
    """What the tree needs to know of one message."""

    key: int
    message_id: str
    parents: Sequence[str]  # nearest first: In-Reply-To, then References from the end
    subject: str
    date: datetime | None


@dataclass
class Node:
    """A place in the tree: a message, or a placeholder for one the archive never received."""

    message_id: str
    item: ThreadItem | None = None
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)

    def sort_key(self) -> tuple[datetime, str]:
        return (_node_date(self), self.message_id)


@dataclass(frozen=True)
class Placed:
    """One row of the thread as displayed: the node, its depth, and its parent's Message-ID."""

    node: Node
    depth: int
    parent_id: str | None


_EPOCH = datetime(1970, 1, 1)


def _node_date(node: Node) -> datetime:
    # A placeholder sorts by its earliest child, as in JWZ's description.
    stack, best = [node], None
    while stack:
        n = stack.pop()
        if n.item is not None and n.item.date is not None:
            if best is None or n.item.date < best:
                best = n.item.date
            continue
        stack.extend(n.children)
    return best or _EPOCH


def _is_ancestor(candidate: Node, node: Node) -> bool:
    """Whether ``candidate`` is ``node`` or above it."""
    seen = 0
    cur: Node | None = node
    while cur is not None and seen < 100_000:
        if cur is candidate:
            return True
        cur = cur.parent
        seen += 1
    return False


def _link(parent: Node, child: Node) -> bool:
    if child.parent is parent:
        return True
    if _is_ancestor(child, parent):  # would close a cycle
        return False
    if child.parent is not None:
        child.parent.children.remove(child)
    child.parent = parent
    parent.children.append(child)
    return True


def build_tree(items: Sequence[ThreadItem]) -> list[Placed]:
    """Arrange messages into display order, depth first, siblings oldest first.

    >>> d = datetime(2020, 1, 1)
    >>> rows = build_tree([
    ...     ThreadItem(1, "a", [], "Plan", d),
    ...     ThreadItem(3, "c", ["missing", "a"], "Re: Plan", d.replace(day=3)),
    ...     ThreadItem(2, "b", ["a"], "Re: Plan", d.replace(day=2)),
    ... ])
    >>> [(r.node.message_id, r.depth) for r in rows]
    [('a', 0), ('b', 1), ('c', 1)]
    """
    nodes: dict[str, Node] = {}

    def node_for(mid: str) -> Node:
        n = nodes.get(mid)
        if n is None:
            n = nodes[mid] = Node(mid)
        return n

    # 1. One node per message; a second message with the same Message-ID gets its own node.
    own: list[Node] = []
    for item in sorted(items, key=lambda i: (i.date or _EPOCH, i.key)):
        n = node_for(item.message_id)
        if n.item is not None:
            n = nodes[f"{item.message_id}\x00{item.key}"] = Node(item.message_id)
        n.item = item
        own.append(n)

    # 2. Link the reference chain (oldest first), then the message under its nearest parent.
    for n in own:
        assert n.item is not None
        chain = [node_for(m) for m in reversed(n.item.parents)]
        for parent, child in zip(chain, chain[1:], strict=False):
            if child.parent is None:
                _link(parent, child)
        if chain and chain[-1] is not n:
            _link(chain[-1], n)  # refused when it would close a cycle: n stays where it is

    # 3. Prune placeholders: drop childless ones, let a lone child take its place.
    for n in list(nodes.values()):
        if n.item is not None or n.message_id not in nodes:
            continue
        if not n.children:
            if n.parent is not None:
                n.parent.children.remove(n)
            continue
        if n.parent is None and len(n.children) == 1:
            child = n.children[0]
            child.parent = None
            n.children = []
        elif n.parent is not None:
            up = n.parent
            up.children.remove(n)
            for child in n.children:
                child.parent = up
                up.children.append(child)
            n.children = []
    # A root placeholder judged before its empty children were dropped may be left with one.
    for n in list(nodes.values()):
        if n.item is None and n.parent is None and len(n.children) == 1:
            n.children[0].parent = None
            n.children = []

    roots = [n for n in nodes.values() if n.parent is None and (n.item or n.children)]

    # 4. Subject grouping, only for messages that carry no references at all.
    by_subject: dict[str, Node] = {}
    for root in sorted(roots, key=Node.sort_key):
        if root.item is None or root.item.parents:
            if root.item is not None:
                by_subject.setdefault(base_subject(root.item.subject), root)
            continue
        key = base_subject(root.item.subject)
        first = by_subject.get(key)
        if first is not None and key and is_reply_subject(root.item.subject):
            _link(first, root)
        else:
            by_subject.setdefault(key, root)
    roots = [r for r in roots if r.parent is None]

    # 5. Depth-first walk, oldest sibling first.
    out: list[Placed] = []
    stack: list[tuple[Node, int]] = [(r, 0) for r in sorted(roots, key=Node.sort_key, reverse=True)]
    while stack:
        node, depth = stack.pop()
        out.append(Placed(node, depth, node.parent.message_id if node.parent else None))
        for child in sorted(node.children, key=Node.sort_key, reverse=True):
            stack.append((child, depth + 1))
    return out
