"""lm2video-bench: a plugin-based benchmark suite for text-to-vision distillation in video
action anticipation. Plugins implement the hooks of :mod:`benchmark.hookspecs`."""
from .api import (
    AnticipationData,
    BaselineRow,
    BaselineTable,
    ClassSpace,
    Corpus,
    Dataset,
    DistillLoss,
    FeatureSource,
    FitContext,
    Launcher,
    LoadContext,
    Metric,
    Progress,
    Sample,
    Segment,
    Student,
    Teacher,
    TeacherOutput,
)
from .hookspecs import hookimpl
from .plugin_api import API_VERSION
from .settings import setting

__version__ = "0.1.0"

__all__ = [
    "AnticipationData", "BaselineRow", "BaselineTable", "ClassSpace", "Corpus", "Dataset", "DistillLoss",
    "FeatureSource", "FitContext", "Launcher", "LoadContext", "Metric", "Progress", "Sample", "Segment", "Student", "Teacher",
    "API_VERSION", "TeacherOutput", "hookimpl", "setting", "__version__",
]
