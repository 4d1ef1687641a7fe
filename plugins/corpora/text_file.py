"""Any user text file as a corpus, one training text per non-empty line (e.g. verb-object
sequences mined from recipes). Keeping validation text out of it is the user's responsibility."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Iterator

from benchmark.api import AnticipationData, Corpus
from benchmark.corpora import file_sha256
from benchmark.errors import ConfigError, DataError


@dataclass
class TextFileConfig:
    path: str = ""  # UTF-8 text file; "~" is expanded, a relative path is read from the working directory


def corpus_file(path: str, data_dir: Path | None) -> Path:
    """``path`` with "~" expanded; a relative one is read from ``data_dir`` when given, else from
    the working directory."""
    out = Path(path).expanduser()
    return Path(data_dir) / out if data_dir is not None and not out.is_absolute() else out


class TextFileCorpus(Corpus):
    name = "text-file"
    version = "1"
    description = "the non-empty lines of a user's UTF-8 text file"
    Config = TextFileConfig
    #: where a relative ``path`` is read from: the working directory, or the data directory
    relative_to_data_dir: ClassVar[bool] = False

    def path(self, data_dir: Path | None) -> Path:
        """The file, which must exist (a one-line error names the config key otherwise)."""
        path = corpus_file(self.config.path, data_dir if self.relative_to_data_dir else None)
        if not self.config.path or not path.is_file():
            raise ConfigError(f"{self.name} corpus: path {str(path) if self.config.path else ''!r} not found "
                              "(set the corpus config key 'path')")
        return path

    def fingerprint(self, data_dir: Path | None) -> str:
        return "sha256:" + file_sha256(self.path(data_dir))

    def lines(self, data: AnticipationData, data_dir: Path | None) -> Iterator[str]:
        """The stripped non-empty lines of ``path``, in file order."""
        path = self.path(data_dir)

        def generate() -> Iterator[str]:
            with path.open(encoding="utf-8") as fh:
                line = 0
                try:
                    for line, text in enumerate(fh, start=1):
                        text = text.strip()
                        if text:
                            yield text
                except UnicodeDecodeError as exc:
                    raise DataError(f"{path}:{line + 1}: not UTF-8 text ({exc.reason})") from None

        return generate()
