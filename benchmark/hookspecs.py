"""Every hook of the suite. The docstrings below are the hook reference.

A plugin is any module or object with functions named like these hooks and decorated with
``@hookimpl`` (``from benchmark import hookimpl``). Registration hooks return a list of component
classes (or objects for baseline tables); the core flattens the lists of all plugins into one
registry per kind. Built-in components are registered through exactly these hooks.
"""
from __future__ import annotations

import pluggy

PROJECT = "bench"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --------------------------------------------------------------------------------------------
# Registration hooks: return a list of components (classes subclassing the API base classes).
# --------------------------------------------------------------------------------------------


@hookspec
def bench_register_teachers():
    """Return a list of :class:`benchmark.api.Teacher` subclasses.

    A teacher is fitted once per (teacher config, dataset) and produces soft labels (action
    logits, and optionally a pooled feature) for every train and val sample. The no-teacher
    baseline is the built-in teacher ``none``.
    """


@hookspec
def bench_register_students():
    """Return a list of :class:`benchmark.api.Student` subclasses.

    A student maps observed features ``[B, T, D]`` to next-action logits and is the model whose
    metrics the leaderboard reports.
    """


@hookspec
def bench_register_losses():
    """Return a list of :class:`benchmark.api.DistillLoss` subclasses.

    A distillation loss is added to the student's own loss at training time only. The CE-only
    baseline is the built-in loss ``none``.
    """


@hookspec
def bench_register_datasets():
    """Return a list of :class:`benchmark.api.Dataset` subclasses (annotations and protocol)."""


@hookspec
def bench_register_feature_sources():
    """Return a list of :class:`benchmark.api.FeatureSource` subclasses.

    A feature source turns the observation windows of a dataset's samples into a float32 array
    ``[N, T, D]``: from real feature files, or simulated (and then labelled as such).
    """


@hookspec
def bench_register_metrics():
    """Return a list of :class:`benchmark.api.Metric` subclasses."""


@hookspec
def bench_register_baselines():
    """Return a list of :class:`benchmark.api.BaselineTable` objects (published numbers).

    Use :func:`benchmark.baselines.load_baseline_yaml` to ship tables as YAML files.
    """


@hookspec
def bench_register_cards():
    """Return a list of :class:`benchmark.api.ReproductionCard` objects: a published row and the
    matrix cell that reproduces it, for ``bench reproduce``.

    Use :func:`benchmark.cards.load_card_yaml` to ship cards as YAML files.
    """


@hookspec
def bench_register_corpora():
    """Return a list of :class:`benchmark.api.Corpus` subclasses: text for the in-domain
    pretraining stage of text teachers (never containing validation segments)."""


@hookspec
def bench_register_launchers():
    """Return a list of :class:`benchmark.api.Launcher` subclasses (how cells are executed)."""


# --------------------------------------------------------------------------------------------
# Lifecycle hooks: called by the runner around every executed cell.
# --------------------------------------------------------------------------------------------


@hookspec
def bench_before_cell(cell, run_dir):
    """Called before a cell starts, with the resolved :class:`benchmark.matrix.Cell` and its
    run folder (a :class:`pathlib.Path`). Raising here fails the cell with that reason."""


@hookspec
def bench_update_record(cell, record):
    """Add or change fields of a cell's record (a dict) in place before it is written.

    Called for finished and for failed cells; ``record["status"]`` tells which.
    """


@hookspec
def bench_after_cell(cell, record):
    """Called after a cell's ``record.json`` has been written (e.g. to push it to a tracker)."""
