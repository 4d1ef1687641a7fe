import hashlib

import numpy as np
import pytest

from benchmark.config import build_config
from benchmark.errors import ConfigError
from plugins.datasets.synthetic import SyntheticConfig, SyntheticKitchens
from plugins.features.simulated import MODALITY_MIX, SimulatedConfig, SimulatedFeatures


def tiny():
    return SyntheticKitchens(SyntheticConfig(train_videos=3, val_videos=2, segments_per_video=8)).load(None)


def sha(x: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()


def test_default_output_is_unchanged():
    # computed with the single-stream source before modalities existed
    d = tiny()
    fs = SimulatedFeatures(SimulatedConfig(dim=16))
    x = fs.load(d, "val")
    assert x.shape == (14, 8, 16)
    assert sha(x) == "1689994880dae88ba444ea9dd65ab6d4a2692855b9c546934d693bb8f795c5ee"
    assert fs.last_info["layout"] == {"rgb": [0, 16]} and fs.last_info["frames"] == 107
    assert SimulatedFeatures.version == "2"


def test_several_modalities_are_concatenated_blocks():
    d = tiny()
    fs = SimulatedFeatures(SimulatedConfig(dim=8, modalities=["rgb", "flow", "obj"]))
    x = fs.load(d, "train")
    assert x.shape == (len(d.splits["train"]), d.obs_steps, 24) and x.dtype == np.float32
    assert fs.last_info["layout"] == {"rgb": [0, 8], "flow": [8, 16], "obj": [16, 24]}
    np.testing.assert_array_equal(x[..., :8], SimulatedFeatures(SimulatedConfig(dim=8)).load(d, "train"))
    # a modality gives the same block whatever else is listed, in any order
    flow = SimulatedFeatures(SimulatedConfig(dim=8, modalities=["flow"]))
    np.testing.assert_array_equal(flow.load(d, "train"), x[..., 8:16])
    assert flow.last_info["layout"] == {"flow": [0, 8]}
    swapped = SimulatedFeatures(SimulatedConfig(dim=8, modalities=["obj", "rgb"])).load(d, "train")
    np.testing.assert_array_equal(swapped[..., :8], x[..., 16:])
    # own noise streams: with only noise on, the blocks are not copies of each other
    noise = SimulatedFeatures(SimulatedConfig(dim=8, modalities=["rgb", "flow", "obj"], action_signal=0.0,
                                              cue_strength=0.0, context_strength=0.0, appearance=0.0)).load(d, "val")
    blocks = [noise[..., i * 8:(i + 1) * 8].ravel() for i in range(3)]
    for a, b in [(0, 1), (0, 2), (1, 2)]:
        assert abs(np.corrcoef(blocks[a], blocks[b])[0, 1]) < 0.2


def test_each_modality_has_its_own_mix_of_signals():
    d = tiny()
    cls = d.classes
    fs = SimulatedFeatures(SimulatedConfig(dim=256))

    def mean_cosine(modality: str, same: np.ndarray) -> float:
        e = fs._prototypes(d, modality)["evidence"]
        e = e / np.linalg.norm(e, axis=1, keepdims=True)
        sim = e @ e.T
        return float(sim[same & ~np.eye(len(e), dtype=bool)].mean())

    verbs_eq = cls.action_verb[:, None] == cls.action_verb[None]
    nouns_eq = cls.action_noun[:, None] == cls.action_noun[None]
    same_verb, same_noun = verbs_eq & ~nouns_eq, nouns_eq & ~verbs_eq
    verb = {m: mean_cosine(m, same_verb) for m in MODALITY_MIX}
    noun = {m: mean_cosine(m, same_noun) for m in MODALITY_MIX}
    assert verb["flow"] > verb["rgb"] > verb["obj"]  # motion shows the verb
    assert noun["obj"] > noun["rgb"] > noun["flow"]  # objects show the noun
    # only the object cues on: strongest in obj, weakest in flow
    cues = SimulatedFeatures(SimulatedConfig(dim=16, modalities=["rgb", "flow", "obj"], noise=0.0, action_signal=0.0,
                                             context_strength=0.0, appearance=0.0)).load(d, "val")
    norms = [float(np.abs(cues[..., i * 16:(i + 1) * 16]).sum()) for i in range(3)]
    assert norms[2] > norms[0] > norms[1] > 0


@pytest.mark.parametrize("mods", [["rgb", "depth"], [], ["rgb", "rgb"]])
def test_bad_modalities_are_config_errors(mods):
    with pytest.raises(ConfigError, match=r"modalities.*rgb.*flow.*obj"):
        SimulatedConfig(modalities=mods)
    with pytest.raises(ConfigError, match="modalities"):
        build_config(SimulatedConfig, {"modalities": mods}, "components.feature_source.simulated")
