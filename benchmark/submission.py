"""Challenge submission files in the EPIC-Kitchens action-anticipation layout, and their check.

The layout (the challenges' public evaluation servers; RULSTM's ``predictions_to_json`` writes
the same): a JSON object with ``version``, ``challenge`` (``"action_anticipation"``), for
EPIC-100 the three self-declared supervision levels ``sls_pt``, ``sls_tl``, ``sls_td``
(pretraining, training labels, training data; 0-5), and ``results``: per test segment id, the
scores of every verb and every noun (``{"0": s, ...}``) and of the top-``top_actions`` actions
keyed ``"verb,noun"``. EPIC-55 has version 0.1, no supervision levels, and one file per test
set (seen and unseen kitchens).

Verb and noun scores are the action softmax marginalised over each verb's (noun's) actions; the
action scores are the action softmax itself. A fusion of several cells averages their softmax
probabilities with the given weights.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .datatypes import ClassSpace
from .errors import DataError

CHALLENGE = "action_anticipation"


@dataclass(frozen=True)
class ChallengeFormat:
    """What a dataset's challenge expects (declared by the dataset plugin)."""

    version: str
    #: the unlabelled splits a submission covers, and the file each one goes to
    files: dict[str, str]
    #: whether the file carries the self-declared supervision levels (EPIC-100)
    supervision_levels: bool = False
    top_actions: int = 100
    #: said when a submission for this challenge is written
    warning: str = ""


@dataclass(frozen=True)
class SupervisionLevels:
    """EPIC-100's self-declared levels (0-5): pretraining, training labels, training data."""

    pt: int
    tl: int
    td: int

    def __post_init__(self) -> None:
        for key, value in (("sls_pt", self.pt), ("sls_tl", self.tl), ("sls_td", self.td)):
            if not (isinstance(value, int) and 0 <= value <= 5):
                raise DataError(f"{key}: expected an integer from 0 to 5, got {value!r}")


def softmax(scores: np.ndarray) -> np.ndarray:
    z = scores.astype(np.float64) - scores.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def fuse(scores: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """Weighted mean of the action softmax of each cell (weights normalised to sum 1)."""
    if not scores or len(scores) != len(weights):
        raise DataError(f"fusion: {len(scores)} prediction sets and {len(weights)} weights")
    if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise DataError(f"fusion: weights must be non-negative and sum above 0, got {list(weights)}")
    shapes = {s.shape for s in scores}
    if len(shapes) != 1:
        raise DataError(f"fusion: prediction sets of different shapes {sorted(shapes)}")
    total = float(sum(weights))
    return sum((w / total) * softmax(s) for s, w in zip(scores, weights))


def build(probs: np.ndarray, uids: Sequence[str], classes: ClassSpace, fmt: ChallengeFormat,
          levels: SupervisionLevels | None) -> dict[str, Any]:
    """The submission object for one test split from action probabilities ``[N, A]``."""
    if probs.shape != (len(uids), classes.num_actions):
        raise DataError(f"submission: scores of shape {probs.shape} for {len(uids)} segments and "
                        f"{classes.num_actions} actions")
    verbs = np.zeros((len(uids), len(classes.verbs)))
    nouns = np.zeros((len(uids), len(classes.nouns)))
    np.add.at(verbs.T, classes.action_verb, probs.T)
    np.add.at(nouns.T, classes.action_noun, probs.T)
    top = np.argsort(-probs, axis=1, kind="stable")[:, :fmt.top_actions]
    pair = [f"{v},{n}" for v, n in zip(classes.action_verb.tolist(), classes.action_noun.tolist())]
    results = {}
    for i, uid in enumerate(uids):
        results[str(uid)] = {
            "verb": {str(j): float(x) for j, x in enumerate(verbs[i])},
            "noun": {str(j): float(x) for j, x in enumerate(nouns[i])},
            "action": {pair[a]: float(probs[i, a]) for a in top[i]},
        }
    out: dict[str, Any] = {"version": fmt.version, "challenge": CHALLENGE}
    if fmt.supervision_levels:
        if levels is None:
            raise DataError("submission: this challenge needs the supervision levels (sls_pt, sls_tl, sls_td)")
        out.update(sls_pt=levels.pt, sls_tl=levels.tl, sls_td=levels.td)
    out["results"] = results
    return out


def validate(obj: Any, fmt: ChallengeFormat, uids: Sequence[str], classes: ClassSpace, where: str) -> None:
    """Raise :class:`DataError` naming the first key that breaks the layout: the header, one
    entry per expected segment and no other, every verb and noun scored, ``top_actions``
    known ``"verb,noun"`` pairs, every score a finite number."""
    def bad(key: str, expected: str, got: Any) -> DataError:
        return DataError(f"{where}: key {key!r}: expected {expected}, got {str(got)[:80]}")

    if not isinstance(obj, dict):
        raise bad("(top level)", "a JSON object", type(obj).__name__)
    header = {"version": fmt.version, "challenge": CHALLENGE}
    for key, value in header.items():
        if obj.get(key) != value:
            raise bad(key, repr(value), obj.get(key))
    levels = ("sls_pt", "sls_tl", "sls_td")
    for key in levels:
        if not fmt.supervision_levels:
            if key in obj:
                raise bad(key, f"no supervision levels in version {fmt.version}", obj[key])
            continue
        value = obj.get(key)
        if not (isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 5):
            raise bad(key, "an integer from 0 to 5", value)
    extra = set(obj) - set(header) - set(levels) - {"results"}
    if extra:
        raise bad(sorted(extra)[0], "no other top-level keys", sorted(extra))
    results = obj.get("results")
    if not isinstance(results, dict):
        raise bad("results", "an object keyed by segment id", type(results).__name__)
    expected = {str(u) for u in uids}
    missing, unknown = expected - set(results), set(results) - expected
    if missing:
        raise bad("results", f"all {len(expected)} test segments", f"{len(missing)} missing, e.g. {sorted(missing)[0]}")
    if unknown:
        raise bad(f"results.{sorted(unknown)[0]}", "a segment id of the test split", "an unknown id")
    verb_keys = {str(j) for j in range(len(classes.verbs))}
    noun_keys = {str(j) for j in range(len(classes.nouns))}
    pairs = {f"{v},{n}" for v, n in zip(classes.action_verb.tolist(), classes.action_noun.tolist())}
    for uid, entry in results.items():
        if not isinstance(entry, dict) or set(entry) != {"verb", "noun", "action"}:
            raise bad(f"results.{uid}", "an object with 'verb', 'noun' and 'action'",
                      sorted(entry) if isinstance(entry, dict) else entry)
        for part, keys, what in (("verb", verb_keys, f"all {len(verb_keys)} verb ids"),
                                 ("noun", noun_keys, f"all {len(noun_keys)} noun ids")):
            if not isinstance(entry[part], dict) or set(entry[part]) != keys:
                raise bad(f"results.{uid}.{part}", what, f"{len(entry[part])} keys"
                          if isinstance(entry[part], dict) else entry[part])
        action = entry["action"]
        if not isinstance(action, dict) or len(action) != min(fmt.top_actions, len(pairs)):
            raise bad(f"results.{uid}.action", f"{fmt.top_actions} 'verb,noun' keys",
                      f"{len(action)} keys" if isinstance(action, dict) else action)
        unknown_pairs = set(action) - pairs
        if unknown_pairs:
            raise bad(f"results.{uid}.action.{sorted(unknown_pairs)[0]}", "a 'verb,noun' pair of an action class",
                      "an unknown pair")
        for part in ("verb", "noun", "action"):
            for key, value in entry[part].items():
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    raise bad(f"results.{uid}.{part}.{key}", "a finite number", value)
