"""Written answers grouped by similarity, so a person grades a group once (pure: no nbgrader, no files).

Two answers are **the same** when they are equal after `normalise` (Unicode NFKC, case folded,
punctuation dropped, whitespace collapsed). They are **near-identical** when the Jaccard similarity
of their sets of character 5-grams (of the normalised text; "shingles", Broder 1997) is at least
`THRESHOLD` (0.7): one typo in a 150-character answer leaves about 0.93, one word changed about 0.87,
two answers that merely share a phrase stay well below. Candidate pairs come from an exact
all-pairs similarity join with prefix filtering (Chaudhuri et al. 2006; Bayardo et al. 2007):
two sets with Jaccard >= t must share a shingle among the first |s| - ceil(t*|s|) + 1 of each, in
one global order (rarest first), so only those pairs are compared and none is missed.

Groups are formed by leader clustering, never by chaining: the commonest answer not yet grouped
leads a group and takes every ungrouped answer near-identical to *it*, so each member is within
the threshold of the representative the grader reads (A~B and B~C never pull C in beside A).
The grader still sees each variant with its differences from the representative marked (`diff`):
near-identical is not the same ("does change" vs "does not change").
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Sequence

THRESHOLD = 0.7  # Jaccard similarity of character 5-gram sets: near-identical at or above
SHINGLE = 5
_PUNCTUATION = re.compile(r"[^\w\s]|_", re.UNICODE)  # \w keeps letters and digits of every script
_SPACE = re.compile(r"\s+")
_TOKEN = re.compile(r"\s+|[^\s]+")


def normalise(text: str) -> str:
    """The answer as compared: NFKC, case folded, punctuation removed, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", _PUNCTUATION.sub(" ", text)).strip()


def shingles(normalised: str, k: int = SHINGLE) -> frozenset[str]:
    """The set of character k-grams of a normalised text (a shorter text is its own one shingle)."""
    if len(normalised) <= k:
        return frozenset([normalised]) if normalised else frozenset()
    return frozenset(normalised[i:i + k] for i in range(len(normalised) - k + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    shared = len(a & b) if len(a) <= len(b) else len(b & a)  # no union built: |a| + |b| - shared
    return shared / (len(a) + len(b) - shared)


def similar_pairs(sets: Sequence[frozenset[str]], threshold: float = THRESHOLD) -> dict[int, dict[int, float]]:
    """Every pair (i, j) with jaccard(sets[i], sets[j]) >= threshold, as i -> {j: similarity} both ways.

    Prefix filtering: in one global token order (rarest first), a pair at or above the threshold shares
    a token among the first |s| - ceil(threshold*|s|) + 1 tokens of each set; sizes too far apart cannot
    reach it either (|small| >= threshold*|large|). Exact: the filters only skip pairs that cannot match.
    Candidates are verified on bitsets (one bit per distinct token): `(a & b).bit_count()` is the overlap.
    """
    frequency = Counter(token for s in sets for token in s)
    bit = {token: n for n, token in enumerate(frequency)}
    masks = [_bits(s, bit) for s in sets]
    ordered = [sorted(s, key=lambda t: (frequency[t], t)) for s in sets]
    index: dict[str, list[int]] = defaultdict(list)
    pairs: dict[int, dict[int, float]] = defaultdict(dict)
    for i in sorted(range(len(sets)), key=lambda n: len(sets[n])):  # smaller sets first: index holds the smaller
        size = len(ordered[i])
        prefix = size - math.ceil(threshold * size) + 1 if size else 0
        candidates: set[int] = set()
        for token in ordered[i][:prefix]:
            candidates.update(index[token])
            index[token].append(i)
        for j in candidates:
            if len(sets[j]) < threshold * size:
                continue
            shared = (masks[i] & masks[j]).bit_count()
            score = shared / (size + len(sets[j]) - shared)
            if score >= threshold:
                pairs[i][j] = pairs[j][i] = score
    return pairs


def _bits(tokens: Iterable[str], bit: dict[str, int]) -> int:
    field = bytearray(len(bit) // 8 + 1)
    for token in tokens:
        n = bit[token]
        field[n >> 3] |= 1 << (n & 7)
    return int.from_bytes(field, "little")


@dataclass
class Group:
    """Answers graded together: `members` are indices into the answers given to `group`, the
    representative (`members[0]`) first; `kind` is "blank", "same" (all equal once normalised),
    "similar" (near-identical to the representative) or "unique" (one answer)."""

    kind: str
    members: list[int] = field(default_factory=list)


def group(texts: Sequence[str], blank: Iterable[int] = (), threshold: float = THRESHOLD) -> list[Group]:
    """Answers grouped: the `blank` ones (no answer, or the released template) together, then leader
    clusters of the rest, largest first. Within a group, members equal to each other once normalised
    sit together, the commonest variant first."""
    blank = sorted(set(blank))
    groups = [Group("blank", blank)] if blank else []
    exact: dict[str, list[int]] = defaultdict(list)
    skip = set(blank)
    for n, text in enumerate(texts):
        if n not in skip:
            exact[normalise(text)].append(n)
    # The commonest normalised text leads first; ties by text, so the grouping is deterministic.
    variants = sorted(exact.items(), key=lambda item: (-len(item[1]), item[0]))
    near = similar_pairs([shingles(text) for text, _ in variants], threshold)
    taken: set[int] = set()
    clusters: list[list[int]] = []  # each a list of variant indices, its leader first
    for v in range(len(variants)):
        if v in taken:
            continue
        taken.add(v)
        followers = sorted((w for w in near.get(v, {}) if w not in taken), key=lambda w: (-len(variants[w][1]), w))
        taken.update(followers)
        clusters.append([v, *followers])
    for cluster in sorted(clusters, key=lambda c: (-sum(len(variants[v][1]) for v in c), c[0])):
        members = [n for v in cluster for n in variants[v][1]]
        kind = "unique" if len(members) == 1 else "same" if len(cluster) == 1 else "similar"
        groups.append(Group(kind, members))
    return groups


def diff(representative: str, text: str) -> list[tuple[str, str]]:
    """`text` in segments (piece, how it differs from the representative), word by word, whitespace kept:
    "" the same, "+" in this answer only, "-" the representative's words this answer lacks (so a
    dropped "not" shows). Case, punctuation and spacing are no difference."""
    ours, theirs = _TOKEN.findall(representative), _TOKEN.findall(text)
    matcher = difflib.SequenceMatcher(None, [normalise(t) for t in ours], [normalise(t) for t in theirs], autojunk=False)
    segments: list[tuple[str, str]] = []

    def add(piece: str, how: str) -> None:
        if not piece:
            return
        how = how if normalise(piece) else ""  # a changed space or comma is not a difference
        if how == "-":
            if not piece.strip():
                return
            # Shown where the words went missing, set off by a space on the side that lacks one.
            piece = piece.strip() + " " if not segments or segments[-1][0][-1:].isspace() else " " + piece.strip()
        if segments and segments[-1][1] == how:
            segments[-1] = (segments[-1][0] + piece, how)
        else:
            segments.append((piece, how))

    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("delete", "replace"):
            add("".join(ours[i1:i2]).strip(), "-")
        add("".join(theirs[j1:j2]), "" if tag == "equal" else "+")
    return segments
