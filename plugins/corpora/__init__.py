"""Built-in pretraining corpora."""
from benchmark import hookimpl

from .action_sequences import ActionSequencesCorpus
from .narrations import EpicNarrationsCorpus
from .text_file import TextFileCorpus


@hookimpl
def bench_register_corpora():
    return [ActionSequencesCorpus, EpicNarrationsCorpus, TextFileCorpus]
