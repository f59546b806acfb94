"""A manuscript: documents (chapters, scenes, notes) of plain text, a story bible, and for each
document a history tree of every change, with who wrote each character.

Every change is a node: its parent, the verb (`import`, `edit`, `continue`, `rewrite`, ...), the
span of the parent's text it replaced, every candidate the verb offered, the one chosen, the seed
and engine, and the whole text and attribution after it. Keeping the whole text per node (a
2,000-word chapter is 12 kB) makes restoring any node, diffing any two and branching from any of
them exact and cheap, with no patch chain to replay or break.

- Swipes on any change, not only the last one: choosing another candidate of node N makes a
  sibling of N (same parent, same span, another candidate), so no candidate is ever lost.
- Undo moves the head to its parent; redo to the child last visited; restore to any node. New
  changes then grow a branch from there, and the old branch stays in the tree.
"""

from __future__ import annotations

import difflib
import itertools
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from fabula.cowrite import attribution
from fabula.cowrite.attribution import HUMAN, Run
from fabula.errors import InvalidParam, NotFound

KINDS = ("chapter", "scene", "note", "poem")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class Node:
    id: str
    parent: str | None
    verb: str
    start: int  # the span of the parent's text this change replaced
    end: int
    text: str  # the document after the change
    runs: list[Run]
    candidates: list[dict[str, Any]] = field(default_factory=list)  # {"text": replacement, "seed", ...}
    chosen: int | None = None
    instruction: str = ""
    seed: int | None = None
    engine: str = ""
    model: str = ""
    created: str = field(default_factory=_now)
    visited: int = 0  # when it last became the head (for redo)

    @property
    def author(self) -> str:
        return f"model:{self.id}" if self.chosen is not None else HUMAN

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "parent": self.parent,
            "verb": self.verb,
            "selection": [self.start, self.end],
            "chosen": self.chosen,
            "candidates": len(self.candidates),
            "seed": self.seed,
            "engine": self.engine,
            "created": self.created,
            "characters": len(self.text),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Node:
        return cls(**{**data, "runs": [(str(a), int(n)) for a, n in data["runs"]]})


@dataclass
class Document:
    id: str
    title: str
    kind: str
    nodes: dict[str, Node]
    head: str
    clock: int = 0  # counts head moves, for Node.visited
    form: str = ""  # a poem's verse form (haiku, sonnet, limerick, quatrain, wujue, ...): continue keeps it

    @property
    def node(self) -> Node:
        return self.nodes[self.head]

    @property
    def text(self) -> str:
        return self.node.text

    @property
    def runs(self) -> list[Run]:
        return self.node.runs

    @classmethod
    def new(cls, doc_id: str, title: str, text: str, kind: str = "chapter", form: str = "") -> Document:
        if kind not in KINDS:
            raise InvalidParam("kind", kind, f"a document is one of: {', '.join(KINDS)}")
        if form and kind != "poem":
            raise InvalidParam("form", form, "only a poem has a verse form", hint="give kind=poem too")
        root = Node(f"{doc_id}.0", None, "import", 0, 0, text, attribution.normalize([(HUMAN, len(text))]))
        return cls(doc_id, title or doc_id, kind, {root.id: root}, root.id, form=form)

    def _next_id(self) -> str:
        numbers = (int(n.rsplit(".", 1)[1]) for n in self.nodes)
        return f"{self.id}.{max(numbers) + 1}"

    def _grow(self, node: Node) -> Node:
        self.nodes[node.id] = node
        self._move(node.id)
        return node

    def _move(self, node_id: str) -> None:
        self.clock += 1
        self.head = node_id
        self.nodes[node_id].visited = self.clock

    def get(self, node_id: str) -> Node:
        if node_id not in self.nodes:
            known = ", ".join(list(self.nodes)[-5:])
            raise NotFound(
                f"document {self.id} has no change {node_id!r} (latest: {known}); see `fabula draft history`"
            )
        return self.nodes[node_id]

    # ---- changes ---------------------------------------------------------------------------------

    def edit(self, new_text: str) -> Node:
        """The writer's own edit: the new whole text; attribution follows the characters."""
        old = self.node
        if new_text == old.text:
            return old
        runs = attribution.edited(old.runs, old.text, new_text)
        return self._grow(Node(self._next_id(), old.id, "edit", 0, len(old.text), new_text, runs))

    def apply(
        self, verb: str, start: int, end: int, candidates: list[dict[str, Any]], chosen: int, **record: Any
    ) -> Node:
        """A verb's candidate `chosen` replaces `[start, end)` of the head's text."""
        return self._grow(self._applied(self.node, verb, start, end, candidates, chosen, **record))

    def _applied(
        self,
        parent: Node,
        verb: str,
        start: int,
        end: int,
        candidates: list[dict[str, Any]],
        chosen: int,
        **record: Any,
    ) -> Node:
        if not 0 <= chosen < len(candidates):
            raise InvalidParam("choose", chosen + 1, f"this change has candidates 1..{len(candidates)}")
        if not 0 <= start <= end <= len(parent.text):
            raise InvalidParam("selection", f"{start}..{end}", f"must lie within the {len(parent.text)} characters")
        replacement = str(candidates[chosen]["text"])
        node_id = self._next_id()
        text = parent.text[:start] + replacement + parent.text[end:]
        runs = attribution.splice(parent.runs, start, end, len(replacement), f"model:{node_id}")
        return Node(node_id, parent.id, verb, start, end, text, runs, candidates, chosen, **record)

    def swipe(self, node_id: str, chosen: int) -> Node:
        """Another candidate of an earlier change, as a new branch beside it."""
        other = self.get(node_id)
        if other.chosen is None or other.parent is None:
            raise InvalidParam("node", node_id, "only a verb's change has other candidates")
        record = {"instruction": other.instruction, "seed": other.seed, "engine": other.engine, "model": other.model}
        parent = self.nodes[other.parent]
        return self._grow(self._applied(parent, other.verb, other.start, other.end, other.candidates, chosen, **record))

    # ---- moving in the tree ----------------------------------------------------------------------

    def undo(self) -> Node:
        if self.node.parent is None:
            raise InvalidParam("undo", self.id, "the document is at its first version")
        self._move(self.node.parent)
        return self.node

    def redo(self) -> Node:
        children = [n for n in self.nodes.values() if n.parent == self.head]
        if not children:
            raise InvalidParam("redo", self.id, "nothing to redo from this version")
        self._move(max(children, key=lambda n: (n.visited, n.created)).id)
        return self.node

    def restore(self, node_id: str) -> Node:
        self._move(self.get(node_id).id)
        return self.node

    def diff(self, a: str, b: str) -> str:
        """A unified diff (by line) of two versions."""
        left, right = self.get(a), self.get(b)
        lines = difflib.unified_diff(
            left.text.splitlines(keepends=True), right.text.splitlines(keepends=True), fromfile=a, tofile=b
        )
        return "".join(lines)

    def tree(self) -> list[dict[str, Any]]:
        """Every node, depth first from the root, with its depth and whether it is the head."""
        children: dict[str | None, list[Node]] = {}
        for node in self.nodes.values():
            children.setdefault(node.parent, []).append(node)
        out: list[dict[str, Any]] = []

        def walk(node: Node, depth: int) -> None:
            out.append({**node.summary(), "depth": depth, "head": node.id == self.head})
            for child in children.get(node.id, []):
                walk(child, depth + 1)

        for root in children.get(None, []):
            walk(root, 0)
        return out

    def generations(self) -> list[dict[str, Any]]:
        """The model generations whose characters are still in the document, for a manifest."""
        live = {author.split(":", 1)[1] for author, _ in self.runs if author != HUMAN}
        return [
            {k: v for k, v in self.nodes[i].summary().items() if k in ("id", "verb", "seed", "engine", "created")}
            | {"model": self.nodes[i].model, "characters": sum(n for a, n in self.runs if a == f"model:{i}")}
            for i in sorted(live, key=lambda i: int(i.rsplit(".", 1)[1]))
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "form": self.form,
            "head": self.head,
            "clock": self.clock,
            "nodes": [asdict(n) for n in self.nodes.values()],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Document:
        nodes = {n["id"]: Node.from_dict(n) for n in data["nodes"]}
        return cls(
            data["id"], data["title"], data["kind"], nodes, data["head"], data.get("clock", 0), data.get("form", "")
        )


@dataclass
class Manuscript:
    id: str
    title: str
    documents: list[Document] = field(default_factory=list)
    # fabula.plan.bible.Entry fields, plus `enabled`, `order` and an imported lorebook's own entry
    bible: list[dict[str, Any]] = field(default_factory=list)
    created: str = field(default_factory=_now)
    lore_meta: dict[str, Any] = field(default_factory=dict)  # an imported lorebook's other fields

    def add(self, title: str, text: str, kind: str = "chapter", form: str = "") -> Document:
        numbers = (int(d.id[1:]) for d in self.documents)
        doc = Document.new(f"d{max(numbers, default=0) + 1}", title, text, kind, form)
        self.documents.append(doc)
        return doc

    def document(self, ref: str | int | None = None) -> Document:
        """By id (`d2`), by position (2, 1-based) or the first."""
        if not self.documents:
            raise NotFound(f"manuscript {self.id} has no documents yet: `fabula draft import {self.id} FILE`")
        if ref is None or ref == "":
            return self.documents[0]
        for i, doc in zip(itertools.count(1), self.documents, strict=False):
            if str(ref) in (doc.id, str(i)):
                return doc
        ids = ", ".join(d.id for d in self.documents)
        raise NotFound(f"manuscript {self.id} has no document {ref!r}; it has {ids}")

    def entries(self) -> list[Any]:
        from fabula.plan.bible import Entry

        usable = [e for e in self.bible if e.get("enabled", True) and str(e.get("text", "")).strip()]
        usable.sort(key=lambda e: -float(e.get("order", 0) or 0))  # a lorebook's higher order goes in first
        return [Entry(e["kind"], e["name"], e["text"], tuple(e.get("keywords", ()))) for e in usable]

    def attribution(self) -> dict[str, int]:
        totals = {"human_chars": 0, "model_chars": 0}
        for doc in self.documents:
            for key, value in attribution.shares(doc.runs).items():
                totals[key] += value
        return totals

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "created": self.created,
            "bible": self.bible,
            "lore_meta": self.lore_meta,
            "documents": [d.to_dict() for d in self.documents],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manuscript:
        docs = [Document.from_dict(d) for d in data.get("documents", [])]
        bible = list(data.get("bible", []))
        return cls(data["id"], data["title"], docs, bible, data.get("created", _now()), dict(data.get("lore_meta", {})))
