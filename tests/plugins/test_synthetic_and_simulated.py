import numpy as np

from plugins.datasets.synthetic import SyntheticConfig, SyntheticKitchens
from plugins.features.simulated import SimulatedConfig, SimulatedFeatures


def small():
    return SyntheticKitchens(SyntheticConfig(train_videos=6, val_videos=3, segments_per_video=12)).load(None)


def test_synthetic_is_seeded_and_histories_stop_before_the_target():
    a, b = small(), small()
    assert a.fingerprint == b.fingerprint
    assert [s.target for s in a.splits["train"]] == [s.target for s in b.splits["train"]]
    other = SyntheticKitchens(SyntheticConfig(train_videos=6, val_videos=3, segments_per_video=12, seed=1))
    assert other.fingerprint(None) != a.fingerprint
    for split in ("train", "val"):
        for s in a.splits[split]:
            timeline = a.timelines[s.video]
            i = timeline.index(s.target)
            assert s.history == tuple(seg.action for seg in timeline[:i])
            assert s.obs_end == s.target.start - 1.0
    assert not {s.video for s in a.splits["train"]} & {s.video for s in a.splits["val"]}


def test_text_history_predicts_the_next_action():
    d = SyntheticKitchens().load(None)
    # a bigram table fitted on train beats the majority class on val by a wide margin
    C = d.classes.num_actions
    counts = np.ones((C, C))
    for s in d.splits["train"]:
        counts[s.history[-1], s.target.action] += 1
    val = d.splits["val"]
    bigram = np.mean([counts[s.history[-1]].argmax() == s.target.action for s in val])
    majority = np.bincount([s.target.action for s in d.splits["train"]], minlength=C).argmax()
    assert bigram > 2 * np.mean([s.target.action == majority for s in val])


def test_simulated_features_are_deterministic_and_never_see_the_target():
    d = small()
    fs = SimulatedFeatures(SimulatedConfig(dim=16, noise=0.0, visible=1.0, appearance=0.0,
                                           context_strength=0.0, cue_strength=0.0))
    x = fs.load(d, "val")
    assert x.shape == (len(d.splits["val"]), d.obs_steps, 16) and x.dtype == np.float32
    np.testing.assert_array_equal(x, fs.load(d, "val"))
    # with no noise, a step is non-zero exactly when an annotated action is ongoing
    for i, s in enumerate(d.splits["val"]):
        for t_idx, t in enumerate(d.obs_times(s)):
            t = max(1, int(np.floor(t * 30 + 1e-9))) / 30  # the time of the frame shown
            ongoing = [seg for seg in d.timelines[s.video] if seg.start <= t < seg.end]
            assert s.target not in ongoing
            assert bool(np.abs(x[i, t_idx]).sum() > 0) == bool(ongoing)


def test_simulated_feature_noise_depends_on_the_seed():
    d = small()
    a = SimulatedFeatures(SimulatedConfig(seed=0)).load(d, "train")
    b = SimulatedFeatures(SimulatedConfig(seed=1)).load(d, "train")
    assert not np.allclose(a, b)


def test_simulated_frames_are_keyed_by_video_and_frame_and_cues_only_look_ahead_the_horizon():
    from benchmark.protocol import frames_of

    d = small()
    fs = SimulatedFeatures(SimulatedConfig(dim=8))
    x = fs.load(d, "train")
    seen = {}
    for i, s in enumerate(d.splits["train"]):
        for j, f in enumerate(frames_of(d.obs_times(s))):
            key = (s.video, int(f))
            if key in seen:  # the same frame gives the same vector in every sample
                np.testing.assert_array_equal(seen[key], x[i, j])
            seen[key] = x[i, j]
    # with only the object cue on, a frame's vector is non-zero only if a segment starts
    # within the horizon after it
    cue = SimulatedFeatures(SimulatedConfig(dim=8, noise=0.0, action_signal=0.0, appearance=0.0,
                                            context_strength=0.0, cue_horizon_s=1.5, cue_segments=1))
    xc = cue.load(d, "val")
    for i, s in enumerate(d.splits["val"]):
        for j, t in enumerate(d.obs_times(s)):
            t = max(1, int(np.floor(t * 30 + 1e-9))) / 30
            nxt = [seg for seg in d.timelines[s.video] if seg.start > t]
            near = bool(nxt) and min(seg.start for seg in nxt) - t < 1.5
            assert bool(np.abs(xc[i, j]).sum() > 0) == near
