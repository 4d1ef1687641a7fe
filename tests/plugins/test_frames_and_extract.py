"""The frames feature source and `bench features extract` on a few generated JPEG frames."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from benchmark.api import AnticipationData
from benchmark.cli import EXIT_CONFIG, EXIT_OK, main
from benchmark.config import build_config
from benchmark.errors import ConfigError, DataError
from benchmark import extract, frame_layout
from benchmark.extract import extract_features, needed_frames, scan_frames
from benchmark.protocol import frames_of
from plugins.datasets.synthetic import SyntheticConfig, SyntheticKitchens
from plugins.features import frames as frames_source
from plugins.features import lmdb_source
from benchmark.frame_layout import decode
from plugins.features.frames import FrameFeatures
from plugins.features.lmdb_source import LMDBFeatures

TEMPLATE = "{video}/frame_{frame:010d}.jpg"
TINY_VIT = {"embed_dim": 16, "depth": 1, "num_heads": 2, "patch_size": 8}


@pytest.fixture(autouse=True)
def _fresh_caches():
    frames_source.clear_cache()
    lmdb_source.clear_cache()
    yield
    frames_source.clear_cache()
    lmdb_source.clear_cache()


def tiny_data() -> AnticipationData:
    """Synthetic kitchens with 3 videos, a few samples, 3 observed steps."""
    return SyntheticKitchens(SyntheticConfig(train_videos=2, val_videos=1, segments_per_video=3,
                                             obs_steps=3)).load(None)


def write_frames(root: Path, keys, template: str = TEMPLATE, shape=(18, 26)) -> None:
    """One random-coloured JPEG per (video, frame)."""
    from benchmark.frame_layout import frame_relpath

    rng = np.random.default_rng(0)
    for video, frame in keys:
        path = root / frame_relpath(template, video, frame)
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path, quality=95)


def source(root: Path, **kw) -> FrameFeatures:
    return FrameFeatures(build_config(FrameFeatures.Config, {"root": str(root), **kw}, "test"))


def test_frames_load_shapes_values_and_info(tmp_path):
    data = tiny_data()
    keys = needed_frames(data, ["train", "val"])
    write_frames(tmp_path, keys)
    fs = source(tmp_path, size=8)
    x = fs.load(data, "train")
    n, t = len(data.splits["train"]), data.obs_steps
    assert x.shape == (n, t, 3 * 8 * 8) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    train_keys = needed_frames(data, ["train"])
    assert fs.last_info == {"frames": len(train_keys), "missing": {"rgb": 0}, "searched_back": {"rgb": 0},
                            "layout": {"rgb": [0, 192]}, "frame_shape": [3, 8, 8]}
    s = data.splits["train"][-1]
    f = int(frames_of(data.obs_times(s))[1])
    expected = decode(tmp_path / s.video / f"frame_{f:010d}.jpg", 8).reshape(-1) / np.float32(255)
    np.testing.assert_array_equal(x[-1, 1], expected.astype(np.float32))
    assert fs.load(data, "val").shape == (len(data.splits["val"]), t, 192)


def test_frames_keep_their_aspect_ratio_when_a_width_is_set(tmp_path):
    data = tiny_data()
    keys = needed_frames(data, ["train"])
    write_frames(tmp_path, keys, shape=(30, 60))  # 2:1 frames
    fs = source(tmp_path, size=15, width=20)
    x = fs.load(data, "train")
    assert x.shape[-1] == 3 * 15 * 20 and fs.last_info["frame_shape"] == [3, 15, 20]
    s = data.splits["train"][0]
    f = int(frames_of(data.obs_times(s))[0])
    # by hand: scaled by max(20 / 60, 15 / 30) = 0.5 to 30 x 15, then the centre 20 columns
    with Image.open(tmp_path / s.video / f"frame_{f:010d}.jpg") as img:
        small = np.asarray(img.convert("RGB").resize((30, 15), Image.Resampling.BILINEAR))
    expected = small[:, 5:25].transpose(2, 0, 1).reshape(-1) / np.float32(255)
    np.testing.assert_array_equal(x[0, 0], expected.astype(np.float32))
    # width 0: squashed to a square, as before
    assert source(tmp_path, size=15).load(data, "train").shape[-1] == 3 * 15 * 15


def test_participant_template_and_bad_templates(tmp_path):
    data = tiny_data()
    data.splits = {k: v[:2] for k, v in data.splits.items()}
    template = "{participant}/{video}/img_{frame:05d}.jpg"
    write_frames(tmp_path, needed_frames(data, ["train"]), template)
    assert source(tmp_path, template=template, size=4).load(data, "train").shape[-1] == 48
    assert scan_frames(tmp_path, template) == needed_frames(data, ["train"])
    assert frame_layout.participant_of("P01_02") == "P01" and frame_layout.participant_of("S000") == "S000"
    with pytest.raises(ConfigError, match="unknown placeholder"):
        source(tmp_path, template="{vid}/{frame}.jpg").load(data, "train")
    with pytest.raises(ConfigError, match="'root'"):
        source(tmp_path / "nope").load(data, "train")


def test_missing_frames_error_zeros_or_search_back(tmp_path):
    data = tiny_data()
    keys = needed_frames(data, ["train"])
    video, frame = keys[-1]
    write_frames(tmp_path, [k for k in keys if k != (video, frame)] + [(video, frame - 2)])
    missing_file = f"{video}/frame_{frame:010d}.jpg"
    with pytest.raises(DataError, match=rf"split 'train', modality 'rgb': 1 of {len(keys)} frames missing .*{missing_file}"):
        source(tmp_path, size=4).load(data, "train")
    zeros = source(tmp_path, size=4, missing="zeros")
    x = zeros.load(data, "train")
    assert zeros.last_info["missing"] == {"rgb": 1}
    i, j = next((i, j) for i, s in enumerate(data.splits["train"]) if s.video == video
                for j, f in enumerate(frames_of(data.obs_times(s))) if f == frame)
    assert not x[i, j].any()
    frames_source.clear_cache()
    back = source(tmp_path, size=4, search_back=2)
    y = back.load(data, "train")
    assert back.last_info["searched_back"] == {"rgb": 1} and back.last_info["missing"] == {"rgb": 0}
    earlier = decode(tmp_path / video / f"frame_{frame - 2:010d}.jpg", 4).reshape(-1) / np.float32(255)
    np.testing.assert_array_equal(y[i, j], earlier.astype(np.float32))
    with pytest.raises(ConfigError, match="missing: expected one of 'error', 'zeros'"):
        source(tmp_path, missing="skip")


def test_cache_dir_reuses_decoded_frames(tmp_path):
    data = tiny_data()
    root = tmp_path / "frames"
    write_frames(root, needed_frames(data, ["train"]))
    first = source(root, size=4, cache_dir=str(tmp_path / "cache")).load(data, "train")
    assert len(list((tmp_path / "cache").glob("frames-*.npy"))) == 1
    frames_source.clear_cache()
    video = data.splits["train"][0].video
    for path in (root / video).iterdir():  # the frames are gone: only the cache can answer
        path.unlink()
    again = source(root, size=4, cache_dir=str(tmp_path / "cache")).load(data, "train")
    np.testing.assert_array_equal(first, again)


def tiny_backbone(tmp_path: Path) -> tuple[torch.nn.Module, Path]:
    """A 1-block ViT with random weights, saved as safetensors for extract to load."""
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=0, img_size=16,
                              **TINY_VIT).eval()
    path = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return model, path


def test_extract_round_trip_through_the_lmdb_source(tmp_path):
    from benchmark.backbones import FramePreprocess, mean_std

    data = tiny_data()
    keys = needed_frames(data, ["train", "val"])
    write_frames(tmp_path / "frames", keys)
    model, weights = tiny_backbone(tmp_path)
    out = tmp_path / "feats" / "vit"
    result = extract_features(tmp_path / "frames", TEMPLATE, out, "vit_base_patch16_224", data=data,
                              weights=str(weights), image_size=16, batch_size=5, device="cpu",
                              backbone_kwargs=TINY_VIT, progress=False)
    assert (result.frames, result.dim) == (len(keys), 16)
    assert sorted(p.name for p in out.parent.iterdir()) == ["vit"]  # no temporary folder left

    fs = LMDBFeatures(build_config(LMDBFeatures.Config, {"root": str(out.parent), "modalities": ["vit"],
                                                         "missing": "error"}, "test"))
    x = fs.load(data, "val")
    assert x.shape == (len(data.splits["val"]), data.obs_steps, 16)
    s = data.splits["val"][0]
    frames = frames_of(data.obs_times(s))
    pixels = np.stack([decode(tmp_path / "frames" / s.video / f"frame_{f:010d}.jpg", 16) for f in frames])
    prep = FramePreprocess((16, 16), *mean_std(model))
    with torch.no_grad():
        direct = model(prep(torch.from_numpy(pixels).float() / 255.0)).numpy()
    np.testing.assert_allclose(x[0], direct, rtol=1e-5, atol=1e-5)

    with pytest.raises(ConfigError, match="already exists"):
        extract_features(tmp_path / "frames", TEMPLATE, out, "vit_base_patch16_224", data=data,
                         weights=str(weights), image_size=16, backbone_kwargs=TINY_VIT, progress=False)


def test_extract_bad_input_and_interruption(tmp_path, monkeypatch):
    data = tiny_data()
    keys = needed_frames(data, ["train"])
    write_frames(tmp_path / "frames", keys[1:])
    common = dict(data=data, splits=["train"], image_size=16, backbone_kwargs=TINY_VIT, progress=False)
    with pytest.raises(ConfigError, match="is not a folder"):
        extract_features(tmp_path / "nope", TEMPLATE, tmp_path / "out", "vit_base_patch16_224", **common)
    with pytest.raises(ConfigError, match="Did you mean 'vit_base_patch16_224'"):
        extract_features(tmp_path / "frames", TEMPLATE, tmp_path / "out", "vit_base_patch16_244",
                         skip_missing=True, **common)
    with pytest.raises(DataError, match=f"frame_{keys[0][1]:010d}.jpg not found"):
        extract_features(tmp_path / "frames", TEMPLATE, tmp_path / "out", "vit_base_patch16_224", **common)
    _, vit_weights = tiny_backbone(tmp_path / "frames")
    with pytest.raises(ConfigError, match="lacks .* weights of ResNet"):
        extract_features(tmp_path / "frames", TEMPLATE, tmp_path / "out", "resnet10t", weights=str(vit_weights),
                         skip_missing=True, **{**common, "backbone_kwargs": {}})
    with pytest.raises(ConfigError, match="no split 'test'"):
        extract_features(tmp_path / "frames", TEMPLATE, tmp_path / "out", "vit_base_patch16_224",
                         **{**common, "splits": ["test"]})

    calls = {"n": 0}
    real_decode = extract.decode

    def interrupted(path, size):
        calls["n"] += 1
        if calls["n"] > 3:
            raise KeyboardInterrupt
        return real_decode(path, size)

    monkeypatch.setattr(extract, "decode", interrupted)
    with pytest.raises(KeyboardInterrupt):
        extract_features(tmp_path / "frames", TEMPLATE, tmp_path / "out", "vit_base_patch16_224",
                         skip_missing=True, batch_size=2, workers=1, **common)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]  # nothing half-written


def test_cli_features_extract(tmp_path, capsys):
    data = tiny_data()
    write_frames(tmp_path / "frames", needed_frames(data, ["val"]))
    base = ["features", "extract", "--frames", str(tmp_path / "frames"), "--all-frames",
            "--out", str(tmp_path / "lmdb"), "--device", "cpu", "--no-progress"]
    assert main([*base, "--backbone", "resnet10t", "--image-size", "32", "--batch-size", "4"]) == EXIT_OK
    line = capsys.readouterr().out.strip()
    assert line.endswith(" s") and f"{len(needed_frames(data, ['val']))} frames, 512-d resnet10t" in line
    assert (tmp_path / "lmdb" / "data.mdb").is_file()
    assert main([*base, "--backbone", "resnet10", "--overwrite"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.startswith("bench: error: --backbone: unknown timm model 'resnet10'")
    assert len(err.strip().splitlines()) == 1
    assert main([*base[:3], str(tmp_path / "missing"), *base[4:], "--backbone", "resnet10t"]) == EXIT_CONFIG
    assert "is not a folder" in capsys.readouterr().err
    assert (tmp_path / "lmdb" / "data.mdb").is_file()  # failed runs left the old LMDB alone


def test_backbone_weights_with_a_missing_or_an_unexpected_key_are_refused(tmp_path):
    from safetensors.torch import load_file, save_file

    from benchmark.backbones import create_backbone

    _, path = tiny_backbone(tmp_path)
    state = load_file(str(path))
    ok = {**state, "head.weight": torch.zeros(3, 8), "head.bias": torch.zeros(3)}  # a classifier: ignored
    save_file(ok, str(tmp_path / "ok.safetensors"))
    create_backbone("vit_base_patch16_224", image_size=16, kwargs=TINY_VIT, weights=str(tmp_path / "ok.safetensors"))
    missing = {k: v for k, v in state.items() if k != "norm.weight"}
    save_file(missing, str(tmp_path / "missing.safetensors"))
    with pytest.raises(ConfigError, match=r"missing.safetensors lacks 1 weights of VisionTransformer \(e.g. 'norm.weight'\)"):
        create_backbone("vit_base_patch16_224", image_size=16, kwargs=TINY_VIT, weights=str(tmp_path / "missing.safetensors"))
    extra = {**state, "decoder.weight": torch.zeros(2)}
    save_file(extra, str(tmp_path / "extra.safetensors"))
    with pytest.raises(ConfigError, match=r"extra.safetensors holds 1 weights that VisionTransformer does not have \(e.g. 'decoder.weight'\)"):
        create_backbone("vit_base_patch16_224", image_size=16, kwargs=TINY_VIT, weights=str(tmp_path / "extra.safetensors"))
