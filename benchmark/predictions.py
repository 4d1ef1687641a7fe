"""A finished cell's action scores on a split, kept for submission files and fusions.

``<run dir>/predictions/<split>.npy`` holds float16 logits ``[N, A]`` in the order of the
split's samples (half the size of float32; a ranking or a softmax of them changes by less than
float16's resolution); ``<split>.json`` beside it says which samples the rows are. Written by a
cell for every split in ``train.save_predictions``, read without unpickling."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .atomic import open_atomic, write_json
from .errors import DataError

FOLDER = "predictions"


@dataclass
class Predictions:
    split: str
    dataset: str
    dataset_fingerprint: str
    labelled: bool
    data_kind: str  # "real", "simulated"... as the cell's record says
    uids: list[str]
    scores: np.ndarray  # [N, A] logits


def paths(run_dir: Path, split: str) -> tuple[Path, Path]:
    return run_dir / FOLDER / f"{split}.npy", run_dir / FOLDER / f"{split}.json"


def write(run_dir: Path, p: Predictions) -> str:
    """Write both files (each atomically, the scores first); the path of the scores, relative
    to ``run_dir``."""
    scores_path, meta_path = paths(run_dir, p.split)
    if p.scores.shape[0] != len(p.uids):
        raise ValueError(f"predictions for {p.split}: {p.scores.shape[0]} rows for {len(p.uids)} samples")
    with open_atomic(scores_path) as fh:
        np.save(fh, np.asarray(p.scores, dtype=np.float16), allow_pickle=False)
    meta = {k: v for k, v in asdict(p).items() if k != "scores"}
    write_json(meta_path, {**meta, "shape": list(p.scores.shape), "dtype": "float16"})
    return str(scores_path.relative_to(run_dir))


def read(run_dir: Path, split: str) -> Predictions:
    """The predictions of ``split``; a missing or inconsistent file is a :class:`DataError`
    naming it."""
    scores_path, meta_path = paths(run_dir, split)
    for path in (scores_path, meta_path):
        if not path.is_file():
            raise DataError(f"{path}: not found: the cell kept no predictions for split {split!r} "
                            f"(run it with train.save_predictions: [{split}])")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        scores = np.load(scores_path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{scores_path}: unreadable predictions: {exc}") from None
    if list(scores.shape) != meta.get("shape") or len(meta.get("uids", [])) != scores.shape[0]:
        raise DataError(f"{scores_path}: shape {list(scores.shape)} does not match {meta_path.name} "
                        f"({meta.get('shape')}, {len(meta.get('uids', []))} uids)")
    return Predictions(meta["split"], meta["dataset"], meta["dataset_fingerprint"], bool(meta["labelled"]),
                       meta["data_kind"], list(meta["uids"]), scores.astype(np.float32))
