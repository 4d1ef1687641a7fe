"""Built-in pretraining corpora."""
from benchmark import hookimpl

from .action_sequences import ActionSequencesCorpus
from .narrations import EpicNarrationsCorpus
from .recipe1m import Recipe1MActionsCorpus, Recipe1MCorpus
from .text_file import TextFileCorpus


@hookimpl
def bench_register_corpora():
    return [ActionSequencesCorpus, EpicNarrationsCorpus, TextFileCorpus, Recipe1MCorpus, Recipe1MActionsCorpus]
