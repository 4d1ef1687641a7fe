"""Any user text file as a corpus, one training text per non-empty line (e.g. verb-object
sequences mined from recipes). Keeping validation text out of it is the user's responsibility."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from benchmark.api import AnticipationData, Corpus
from benchmark.errors import ConfigError, DataError


@dataclass
class TextFileConfig:
    path: str = ""  # UTF-8 text file; "~" is expanded, a relative path is read from the working directory


class TextFileCorpus(Corpus):
    name = "text-file"
    version = "1"
    description = "the non-empty lines of a user's UTF-8 text file"
    Config = TextFileConfig

    def lines(self, data: AnticipationData, data_dir: Path | None) -> Iterator[str]:
        """The stripped non-empty lines of ``path``, in file order."""
        path = Path(self.config.path).expanduser()
        if not self.config.path or not path.is_file():
            raise ConfigError(f"text-file corpus: path {self.config.path!r} not found (set the corpus config key 'path')")

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
