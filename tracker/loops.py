"""Announcements about each other in a loop, in a built database.

`amend` refuses to make an announcement about one that is, directly or through others,
about it; but two clones, each amending one side, merge into such a loop. A build names
the references that close one, as it names references to retracted records.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from itertools import count

# (announcement id, the announcement it is about)
Looping = tuple[str, str]

ABOUT_ANNOUNCEMENTS = ("select about.announcement_id, about.subject from announcement_about "
                       "about join announcements on announcements.id = about.subject")
# Only the announcements reachable from those an incremental build changed.
REACHED = ("with recursive reached(id) as (select value from temp.touched_ids union "
           "select about.subject from announcement_about about join reached on "
           "about.announcement_id = reached.id) " + ABOUT_ANNOUNCEMENTS
           + " where about.announcement_id in (select id from reached)")


def looping_references(conn: sqlite3.Connection, touched: bool = False) -> list[Looping]:
    """Each reference of an announcement to another on a loop with it (itself
    included), in order. With `touched`, only on loops through the records in
    `temp.touched_ids` (what an incremental build changed)."""
    edges: dict[str, list[str]] = defaultdict(list)
    for announcement, about in conn.execute(REACHED if touched else ABOUT_ANNOUNCEMENTS):
        edges[announcement].append(about)
    component = components(edges)
    looping = [(announcement, about) for announcement, targets in edges.items()
               for about in targets if component[announcement] == component[about]]
    if touched and looping:
        changed = {value for (value,) in conn.execute("select value from temp.touched_ids")}
        through = {component[announcement] for announcement, _ in looping
                   if announcement in changed}
        looping = [edge for edge in looping if component[edge[0]] in through]
    return sorted(looping)


def components(edges: dict[str, list[str]]) -> dict[str, int]:
    """The strongly connected component of each node (Tarjan's algorithm, without
    recursion): two nodes share one if each leads to the other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    component: dict[str, int] = {}
    numbers = count()

    def enter(node: str) -> Iterator[str]:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        return iter(edges.get(node, ()))

    for root in list(edges):
        if root in index:
            continue
        work = [(root, enter(root))]
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    work.append((target, enter(target)))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    number = next(numbers)
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component[member] = number
                        if member == node:
                            break
    return component
