"""Exceptions the CLI turns into exit codes."""
from __future__ import annotations


class BenchError(Exception):
    """Base class of the suite's own errors."""


class ConfigError(BenchError):
    """Bad user input (YAML, names, types, paths): one line, exit code 2, nothing written."""


class PluginError(BenchError):
    """A plugin could not be loaded (fatal only with BENCH_RAISE_PLUGIN_ERRORS=1)."""


class NonFiniteLoss(BenchError):
    """Training produced a NaN or infinite loss; the cell is recorded as failed."""


class DataError(ConfigError):
    """A data file is malformed or inconsistent; the message names the file and line."""


class DownloadError(BenchError):
    """A data file could not be fetched or failed its checksum: one line, exit code 2."""
