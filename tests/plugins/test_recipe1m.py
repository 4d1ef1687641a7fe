"""The Recipe1M corpora on a small layer1.json written here in Recipe1M's format."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from benchmark.api import AnticipationData, ClassSpace
from benchmark.errors import ConfigError, DataError
from plugins.corpora.recipe1m import (AUTHORS_LIGHT_VERBS, Recipe1MActionsConfig, Recipe1MActionsCorpus,
                                      Recipe1MConfig, Recipe1MCorpus)

RECIPES = [
    {"id": "000018c8a5", "title": "Mashed potatoes", "url": "http://example.org/1", "partition": "train",
     "ingredients": [{"text": "2 onions"}],
     "instructions": [{"text": "Chop the onions and add them to the pan."},
                      {"text": "Stir the soup for ten minutes."},
                      {"text": "Using a fork, mash the potatoes."}]},
    {"id": "00003a70b1", "title": "Toast", "url": "http://example.org/2", "partition": "val",
     "ingredients": [{"text": "bread"}],
     "instructions": [{"text": "Place the bread in the toaster."}, {"text": "Spread the butter on the toast."},
                      {"text": "Tell your guests to wait."}]},
    {"id": "0000631d90", "title": "Nothing to do", "url": "http://example.org/3", "partition": "test",
     "ingredients": [], "instructions": [{"text": "Enjoy!"}]},
]


def tiny() -> AnticipationData:
    cls = ClassSpace(["a0"], ["v0"], ["n0"], np.array([0]), np.array([0]))
    return AnticipationData("tiny", "synthetic", cls, {"train": [], "val": []}, {}, 1, 1.0, "f")


@pytest.fixture()
def data_dir(tmp_path):
    (tmp_path / "recipe1m").mkdir()
    (tmp_path / "recipe1m" / "layer1.json").write_text(json.dumps(RECIPES), encoding="utf-8")
    return tmp_path


def test_layer1_recipes_become_verb_object_lines(data_dir):
    corpus = Recipe1MCorpus(Recipe1MConfig())
    lines = list(corpus.lines(tiny(), data_dir))
    # one line per recipe with a kept pair; the verb as written, its object with its dependents
    assert lines == ["chop <v> the onions <a> add <v> them <a> stir <v> the soup <a> mash <v> the potatoes",
                     "place <v> the bread <a> spread <v> the butter"]
    r = corpus.report
    assert (r.recipes, r.sentences, r.lines, r.recipes_without_pairs) == (3, 7, 2, 1)
    assert (r.pairs_kept, r.pairs_dropped) == (6, 2)  # "using a fork" and "tell your guests": light verbs


def test_the_extraction_is_written_once_and_reused(data_dir, monkeypatch):
    first = list(Recipe1MCorpus(Recipe1MConfig()).lines(tiny(), data_dir))
    saved = sorted(p.name for p in (data_dir / "recipe1m").iterdir())
    assert len(saved) == 3 and saved[-1] == "layer1.json"  # the lines and their report
    import plugins.corpora.recipe1m as module

    monkeypatch.setattr(module, "extract", lambda *a, **k: pytest.fail("extracted again"))
    again = Recipe1MCorpus(Recipe1MConfig())
    assert list(again.lines(tiny(), data_dir)) == first and again.report.lines == 2


def test_light_verbs_are_the_authors(data_dir):
    # recipe_json2actionseq.py's list, where 'could' 'want' (no comma) became one word
    assert "couldwant" in AUTHORS_LIGHT_VERBS and "could" not in AUTHORS_LIGHT_VERBS
    keep_all = Recipe1MCorpus(Recipe1MConfig(light_verbs=[]))
    lines = list(keep_all.lines(tiny(), data_dir))
    assert keep_all.report.pairs_dropped == 0 and "using <v> a fork" in lines[0] and "tell <v> your guests" in lines[1]


def test_a_missing_layer1_is_not_available_here_and_a_malformed_one_names_the_recipe(tmp_path):
    corpus = Recipe1MCorpus(Recipe1MConfig())
    with pytest.raises(ConfigError, match=r"recipe1m corpus: .*recipe1m/layer1.json not found \(Recipe1M is distributed"):
        corpus.fingerprint(tmp_path)
    (tmp_path / "recipe1m").mkdir()
    (tmp_path / "recipe1m" / "layer1.json").write_text(json.dumps([{"id": "x", "instructions": [{"txt": 1}]}]))
    with pytest.raises(DataError, match=r"layer1.json: recipe 0 \(x\): instruction 0: expected \{'text': str\}"):
        list(corpus.lines(tiny(), tmp_path))


def test_the_authors_corpus_file_is_read_from_the_data_directory(tmp_path):
    corpus = Recipe1MActionsCorpus(Recipe1MActionsConfig())
    with pytest.raises(ConfigError, match="recipe1m-actions corpus: path .*recipe_action_copus.txt.* not found"):
        corpus.fingerprint(tmp_path)
    (tmp_path / "recipe1m").mkdir()
    text = "chop <v> onion <a> add <v> salt\n\nstir <v> soup\n"
    (tmp_path / "recipe1m" / "recipe_action_copus.txt").write_text(text)
    assert list(corpus.lines(tiny(), tmp_path)) == ["chop <v> onion <a> add <v> salt", "stir <v> soup"]
    assert corpus.fingerprint(tmp_path) == "sha256:" + hashlib.sha256(text.encode()).hexdigest()
