"""Parsers for the annotation files of EPIC-Kitchens-55, EPIC-Kitchens-100 and EGTEA Gaze+
(RULSTM and official formats). Every error names the file and the line."""
from __future__ import annotations

import ast
import csv
from dataclasses import dataclass
from pathlib import Path

from benchmark.errors import DataError
from benchmark.protocol import seconds_of


@dataclass(frozen=True)
class Row:
    """One line of a RULSTM train/validation CSV (frames on the 30 fps clock)."""

    uid: str
    video: str
    start_frame: int
    end_frame: int
    verb: int
    noun: int
    action: int
    line: int

    @property
    def start(self) -> float:
        return seconds_of(self.start_frame)

    @property
    def end(self) -> float:
        return seconds_of(self.end_frame)


def _open(path: Path):
    if not path.is_file():
        raise DataError(f"{path}: file not found (run `bench data download` or set --data-dir)")
    return path.open(newline="", encoding="utf-8")


def _int(value: str, path: Path, line: int, what: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise DataError(f"{path}:{line}: {what} must be an integer, got {value.strip()!r}") from None


def _uid(value: str, path: Path, line: int, numeric: bool) -> str:
    """A segment id: EPIC-55 and EGTEA number their segments (``01924`` is ``1924``), EPIC-100
    names them (``P01_11_0``)."""
    if numeric:
        return str(_int(value, path, line, "segment id"))
    uid = value.strip()
    if not uid:
        raise DataError(f"{path}:{line}: empty segment id")
    return uid


def read_rulstm_segments(path: Path, numeric_ids: bool = True) -> list[Row]:
    """``id, video, start_frame, end_frame, verb, noun, action`` without header, space-padded."""
    rows: list[Row] = []
    seen: dict[str, int] = {}
    with _open(path) as fh:
        for line, fields in enumerate(csv.reader(fh, skipinitialspace=True), start=1):
            if not fields or all(not f.strip() for f in fields):
                continue
            if len(fields) != 7:
                raise DataError(
                    f"{path}:{line}: expected 7 fields (id, video, start, end, verb, noun, action), got {len(fields)}"
                )
            uid = _uid(fields[0], path, line, numeric_ids)
            if uid in seen:
                raise DataError(f"{path}:{line}: duplicated segment id {uid} (first on line {seen[uid]})")
            seen[uid] = line
            start, end = _frames(fields, path, line)
            rows.append(Row(uid, fields[1].strip(), start, end, _int(fields[4], path, line, "verb"),
                            _int(fields[5], path, line, "noun"), _int(fields[6], path, line, "action"), line))
    return rows


def _frames(fields: list[str], path: Path, line: int) -> tuple[int, int]:
    start = _int(fields[2], path, line, "start frame")
    end = _int(fields[3], path, line, "end frame")
    if end < start:
        raise DataError(f"{path}:{line}: end frame {end} is before start frame {start}")
    return start, end


@dataclass(frozen=True)
class TestRow:
    """One line of a RULSTM test CSV: a segment without labels."""

    uid: str
    video: str
    start_frame: int
    end_frame: int


def read_rulstm_test_segments(path: Path, numeric_ids: bool = True) -> list[TestRow]:
    """``id, video, start_frame, end_frame`` without header (RULSTM's ``test_seen.csv``,
    ``test_unseen.csv``, ``test_timestamps.csv``): the unlabelled test segments."""
    rows: list[TestRow] = []
    seen: dict[str, int] = {}
    with _open(path) as fh:
        for line, fields in enumerate(csv.reader(fh, skipinitialspace=True), start=1):
            if not fields or all(not f.strip() for f in fields):
                continue
            if len(fields) != 4:
                raise DataError(f"{path}:{line}: expected 4 fields (id, video, start, end), got {len(fields)}")
            uid = _uid(fields[0], path, line, numeric_ids)
            if uid in seen:
                raise DataError(f"{path}:{line}: duplicated segment id {uid} (first on line {seen[uid]})")
            seen[uid] = line
            start, end = _frames(fields, path, line)
            rows.append(TestRow(uid, fields[1].strip(), start, end))
    return rows


def read_id_list(path: Path, header: str | None = None) -> list[str]:
    """One id per line: RULSTM's ``validation_*_ids.csv`` (no header) or an official list with
    a one-column ``header`` (``EPIC_100_tail_verbs.csv``: ``verb``)."""
    out: list[str] = []
    with _open(path) as fh:
        for line, fields in enumerate(csv.reader(fh), start=1):
            if not fields or not fields[0].strip():
                continue
            if len(fields) != 1:
                raise DataError(f"{path}:{line}: expected one id per line, got {len(fields)} fields")
            if line == 1 and header is not None:
                if fields[0].strip() != header:
                    raise DataError(f"{path}:1: expected the header {header!r}, got {fields[0].strip()!r}")
                continue
            out.append(fields[0].strip())
    if not out:
        raise DataError(f"{path}: the id list is empty")
    return out


def check_classes(rows: list[Row], path: Path, action_verb: list[int], action_noun: list[int]) -> None:
    """Every row's action must exist and agree with its verb and noun."""
    for r in rows:
        if not 0 <= r.action < len(action_verb):
            raise DataError(f"{path}:{r.line}: unknown action id {r.action} (actions are 0..{len(action_verb) - 1})")
        if action_verb[r.action] != r.verb or action_noun[r.action] != r.noun:
            raise DataError(
                f"{path}:{r.line}: action {r.action} is (verb {action_verb[r.action]}, noun "
                f"{action_noun[r.action]}) in actions.csv but the row says (verb {r.verb}, noun {r.noun})"
            )


@dataclass
class ActionTable:
    names: list[str]
    verb: list[int]
    noun: list[int]


ACTION_COLUMNS = ("id", "action", "verb", "noun")


def read_epic_actions(path: Path) -> ActionTable:
    """RULSTM ``actions.csv`` of EPIC-55 (header ``id,action,verb,noun``) or EPIC-100 (header
    ``id,verb,noun,action``): the columns are found by name; ids dense from 0."""
    names, verbs, nouns = [], [], []
    with _open(path) as fh:
        reader = csv.reader(fh, skipinitialspace=True)
        header = [h.strip() for h in next(reader, None) or []]
        if sorted(header) != sorted(ACTION_COLUMNS):
            raise DataError(f"{path}:1: expected the columns id, action, verb and noun (any order), got {header!r}")
        col = {name: header.index(name) for name in ACTION_COLUMNS}
        for line, fields in enumerate(reader, start=2):
            if len(fields) != 4:
                raise DataError(f"{path}:{line}: expected 4 fields ({', '.join(header)}), got {len(fields)}")
            aid = _int(fields[col["id"]], path, line, "action id")
            if aid != len(names):
                raise DataError(f"{path}:{line}: action ids must be dense and ordered; expected {len(names)}, got {aid}")
            names.append(fields[col["action"]].strip())
            verbs.append(_int(fields[col["verb"]], path, line, "verb"))
            nouns.append(_int(fields[col["noun"]], path, line, "noun"))
    return ActionTable(names, verbs, nouns)


def read_egtea_actions(path: Path) -> tuple[ActionTable, dict[int, str], dict[int, str]]:
    """EGTEA RULSTM ``actions.csv``: no header, ``id, verb_noun, Verb_noun name``.

    Returns the table and the verb and noun names by id (taken from the action names).
    """
    names, verbs, nouns = [], [], []
    verb_names: dict[int, str] = {}
    noun_names: dict[int, str] = {}
    with _open(path) as fh:
        for line, fields in enumerate(csv.reader(fh, skipinitialspace=True), start=1):
            if not fields:
                continue
            if len(fields) != 3 or "_" not in fields[1] or "_" not in fields[2]:
                raise DataError(f"{path}:{line}: expected 'id, verb_noun, Verb_noun', got {','.join(fields)!r}")
            aid = _int(fields[0], path, line, "action id")
            if aid != len(names):
                raise DataError(f"{path}:{line}: action ids must be dense and ordered; expected {len(names)}, got {aid}")
            v_str, n_str = fields[1].strip().split("_", 1)
            v, n = _int(v_str, path, line, "verb id"), _int(n_str, path, line, "noun id")
            name = fields[2].strip()
            verb_name, noun_name = name.split("_", 1)
            for table, key, value, what in ((verb_names, v, verb_name, "verb"), (noun_names, n, noun_name, "noun")):
                if table.setdefault(key, value) != value:
                    raise DataError(f"{path}:{line}: {what} {key} is named {table[key]!r} earlier and {value!r} here")
            names.append(name)
            verbs.append(v)
            nouns.append(n)
    return ActionTable(names, verbs, nouns), verb_names, noun_names


def read_epic_class_keys(path: Path, id_column: str, key_column: str = "class_key") -> list[str]:
    """``EPIC_verb_classes.csv`` / ``EPIC_noun_classes.csv`` (``class_key``) or
    ``EPIC_100_verb_classes.csv`` / ``..._noun_classes.csv`` (``id``, ``key``): the key of every id."""
    keys: list[str] = []
    with _open(path) as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or id_column not in reader.fieldnames or key_column not in reader.fieldnames:
            raise DataError(f"{path}:1: expected columns '{id_column}' and '{key_column}', got {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            cid = _int(row[id_column], path, line, id_column)
            if cid != len(keys):
                raise DataError(f"{path}:{line}: class ids must be dense and ordered; expected {len(keys)}, got {cid}")
            keys.append(row[key_column].strip())
    return keys


def read_epic_many_shot(path: Path, column: str) -> list[int]:
    """``EPIC_many_shot_verbs.csv`` / ``_nouns.csv``: the class ids in ``column``."""
    out = []
    with _open(path) as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or column not in reader.fieldnames:
            raise DataError(f"{path}:1: expected a '{column}' column, got {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            out.append(_int(row[column], path, line, column))
    return out


def read_epic_many_shot_actions(path: Path) -> list[tuple[int, int]]:
    """``EPIC_many_shot_actions.csv``: ``action_class`` is a ``"(verb, noun)"`` pair."""
    out = []
    with _open(path) as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or "action_class" not in reader.fieldnames:
            raise DataError(f"{path}:1: expected an 'action_class' column, got {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            try:
                pair = ast.literal_eval(row["action_class"])
                out.append((int(pair[0]), int(pair[1])))
            except (ValueError, SyntaxError, TypeError, IndexError):
                raise DataError(f"{path}:{line}: action_class must look like '(verb, noun)', got {row['action_class']!r}") from None
    return out


def read_egtea_index(path: Path) -> dict[int, str]:
    """Official EGTEA ``verb_idx.txt`` / ``noun_idx.txt`` / ``action_idx.txt``: ``<name> <1-based id>``
    per line; names may contain spaces, so the id is after the last space."""
    out: dict[int, str] = {}
    with _open(path) as fh:
        for line, text in enumerate(fh, start=1):
            text = text.strip()
            if not text:
                continue
            name, _, num = text.rpartition(" ")
            if not name:
                raise DataError(f"{path}:{line}: expected '<name> <id>', got {text!r}")
            cid = _int(num, path, line, "class id")
            if cid in out:
                raise DataError(f"{path}:{line}: duplicated class id {cid}")
            out[cid] = name
    return out


def parse_timestamp(value: str, path: Path, line: int) -> float:
    """``HH:MM:SS.ff`` -> seconds."""
    try:
        h, m, s = value.strip().split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)
    except ValueError:
        raise DataError(f"{path}:{line}: expected a HH:MM:SS.ff timestamp, got {value!r}") from None


def read_epic_narrations(path: Path) -> list[tuple[str, float, str]]:
    """``EPIC_train_action_narrations.csv``: (video, start seconds, narration) per row."""
    out = []
    with _open(path) as fh:
        reader = csv.DictReader(fh)
        need = {"video_id", "start_timestamp", "narration"}
        if reader.fieldnames is None or not need <= set(reader.fieldnames):
            raise DataError(f"{path}:1: expected columns {sorted(need)}, got {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            out.append((row["video_id"], parse_timestamp(row["start_timestamp"], path, line), row["narration"].strip()))
    return out


def read_split_segments(paths: dict[str, Path], actions: ActionTable, numeric_ids: bool = True) -> dict[str, list]:
    """Train and val segments of a RULSTM split, checked against ``actions.csv``."""
    from benchmark.api import Segment

    out = {}
    for split in ("train", "val"):
        rows = read_rulstm_segments(paths[split], numeric_ids)
        check_classes(rows, paths[split], actions.verb, actions.noun)
        out[split] = [Segment(r.uid, r.video, r.start, r.end, r.action, r.verb, r.noun) for r in rows]
    return out
