"""Bad input never crashes a command, never gives a silently wrong number and never loses a file.

One section per class of failure (docs/reliability.md lists each guarantee with its test):
large and damaged images, impossible person boxes, skipped samples leaving the metric, malformed
prediction / ground-truth / annotation files, checkpoints that do not fit, resume and output
folders, the ONNX cache, and the error messages themselves. Large images are tested with files
that only carry a header (a few dozen bytes), never by allocating them.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import shutil
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from scipy.io import loadmat, savemat

import posekit
from conftest import SHARED, tiny_config
from posekit.checkpoint import CheckpointError, load_checkpoint, resolve_device, save_checkpoint
from posekit.cli.main import main
from posekit.config import DataConfig
from posekit.data.annotations import AnnotationError, load_annotations, read_mpii_h5, read_mpii_json
from posekit.data.dataset import DataError, PoseDataset, collate_samples, loaded_batches
from posekit.data.images import (
    HARD_MAX_IMAGE_PIXELS,
    MAX_PIXELS_ENV,
    check_complete,
    decode_image,
    header_size,
    max_image_pixels,
    read_image_file,
)
from posekit.data.transforms import crop_image, get_affine_transform
from posekit.decoding.predictor import PosePredictor
from posekit.viz.draw import draw_result

MPII_DIR = SHARED / "mpii"
REAL_JPEGS = sorted((MPII_DIR / "images").glob("*.jpg")) + sorted((SHARED / "coco").glob("*.jpg"))


# ------------------------------------------------------------------------------------- helpers
def png_header(width: int, height: int) -> bytes:
    """A PNG that is only its signature and IHDR chunk: it announces ``width x height`` pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr
            + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)))


def jpeg_header(width: int, height: int) -> bytes:
    """A JPEG that is only its start marker and a baseline frame header announcing ``width x height``."""
    frame = struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8\xff\xc0" + struct.pack(">H", len(frame) + 2) + frame


def folder_snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def predictor(tiny_run) -> PosePredictor:
    return PosePredictor.from_checkpoint(tiny_run / "best.pt", device="cpu", backend="torch")


@pytest.fixture(scope="module")
def client(tiny_run):
    pytest.importorskip("flask")
    from posekit.gui.app import create_app

    samples = SHARED if (MPII_DIR / "valid.h5").is_file() else None
    return create_app([tiny_run / "best.pt"], samples=samples, device="cpu").test_client()


def gui_predict(client, image: bytes | None = None, **form):
    data = {"checkpoint": "0", **form}
    if image is not None:
        data["image"] = (io.BytesIO(image), "upload.png")
    return client.post("/api/predict", data=data, content_type="multipart/form-data")


# ------------------------------------------------------------------------------------- large images
def test_header_sizes_match_the_decoded_sizes(shared, tmp_path):
    """The size is read from the header of every format posekit checks before decoding."""
    for path in REAL_JPEGS:
        image = cv2.imread(str(path))
        assert header_size(path.read_bytes()) == (image.shape[1], image.shape[0]), path
    image = cv2.imread(str(REAL_JPEGS[0]))
    for ext, params in ((".png", []), (".bmp", []), (".tif", []), (".webp", []), (".webp", [cv2.IMWRITE_WEBP_QUALITY, 101]),
                        (".ppm", []), (".jpg", [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])):
        small = cv2.resize(image, (53, 37))
        data = cv2.imencode(ext, small, params)[1].tobytes()
        assert header_size(data) == (53, 37), (ext, params)
        assert decode_image(data, ext).shape == (37, 53, 3)
    assert header_size(png_header(30000, 30000)) == (30000, 30000)
    assert header_size(jpeg_header(27000, 27000)) == (27000, 27000)
    assert header_size(b"not an image") is None


def test_images_above_the_pixel_limit_are_refused_before_decoding(tmp_path, monkeypatch):
    def no_decoding(*args, **kwargs):
        raise AssertionError("an image above the limit was decoded")

    monkeypatch.setattr("posekit.data.images.cv2.imdecode", no_decoding)
    for name, data, shown in (("huge.png", png_header(30000, 30000), "30000x30000 = 900.0 megapixels"),
                              ("huge.jpg", jpeg_header(27000, 27000), "27000x27000 = 729.0 megapixels"),
                              ("wide.png", png_header(40000, 40000), "40000x40000 = 1600.0 megapixels")):
        path = tmp_path / name
        path.write_bytes(data)
        assert path.stat().st_size < 100  # header-only: nothing of this size is ever allocated
        with pytest.raises(DataError, match=f"{name}: the image is {shown}, above the limit of 100.0 megapixels") as e:
            read_image_file(path)
        assert e.value.reason == "image_too_large"
        with pytest.raises(DataError, match="above the limit"):
            decode_image(data, "the upload")


def test_the_pixel_limit_is_set_by_the_environment(shared, monkeypatch):
    """A real 1280x720 photo (0.92 megapixels) decodes under the default limit and is refused under a
    lower one; the limit cannot be raised past the size OpenCV's warp handles."""
    photo = MPII_DIR / "images" / "005808361.jpg"
    assert read_image_file(photo).shape == (720, 1280, 3) and max_image_pixels() == 100_000_000
    monkeypatch.setenv(MAX_PIXELS_ENV, "500000")
    with pytest.raises(DataError, match=rf"1280x720 = 0.9 megapixels, above the limit of 0.5 megapixels \(set "
                                        rf"{MAX_PIXELS_ENV}"):
        read_image_file(photo)
    monkeypatch.setenv(MAX_PIXELS_ENV, str(HARD_MAX_IMAGE_PIXELS + 1))
    with pytest.raises(ValueError, match="larger images crash OpenCV"):
        max_image_pixels()
    assert HARD_MAX_IMAGE_PIXELS * 3 < 2**31


def test_crop_refuses_an_in_memory_image_that_would_crash_the_warp():
    big = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (27000, 27000, 3))  # 2.2 GB announced, 3 bytes held
    m = get_affine_transform((100.0, 100.0), 1.0, 0.0, 64)
    with pytest.raises(ValueError, match="too large to crop"):
        crop_image(big, m, 64)


def test_predict_and_the_dataset_refuse_a_huge_image_with_one_line(tmp_path, tiny_run, shared, capsys):
    huge = tmp_path / "huge.png"
    huge.write_bytes(png_header(30000, 30000))
    assert main(["predict", "--checkpoint", str(tiny_run / "best.pt"), str(huge), "--backend", "torch",
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "huge.png: the image is 30000x30000" in err and "limit" in err and "Traceback" not in err
    # a training / validation set with such an image: an error naming the sample, or skipped with its reason
    ann = load_annotations(MPII_DIR / "images" / "annotations.json")
    images = tmp_path / "images"
    shutil.copytree(MPII_DIR / "images", images)
    shutil.copy(huge, images / ann.image_names[2])
    cfg = DataConfig(dataset="files", input_size=64, heatmap_size=16)
    with pytest.raises(DataError, match=r"sample 2 .*30000x30000"):
        PoseDataset(ann, images, cfg, train=True)[2]
    skip = PoseDataset(ann, images, DataConfig(dataset="files", input_size=64, heatmap_size=16, on_error="skip"),
                       train=True)
    assert skip[2]["index"] == 3 and skip.skipped_by_reason == {"image_too_large": 1}


def test_gui_refuses_huge_and_broken_uploads_with_400(client, shared):
    for data, message in ((png_header(30000, 30000), "30000x30000 = 900.0 megapixels, above the limit of 50.0"),
                          (png_header(40000, 40000), "40000x40000"),
                          (jpeg_header(20000, 20000), "20000x20000"),
                          (REAL_JPEGS[0].read_bytes()[:40000], "truncated")):
        reply = gui_predict(client, data)
        assert reply.status_code == 400, reply.get_json()
        assert message in reply.get_json()["error"]


# ------------------------------------------------------------------------------------- truncated files
def test_every_truncation_of_real_jpegs_is_refused(shared):
    """libjpeg decodes a cut JPEG without an error (the missing rows come out grey); posekit refuses
    every cut of the real photos, and the complete files decode exactly as OpenCV reads them."""
    for path in REAL_JPEGS:
        data = path.read_bytes()
        full = decode_image(data, str(path))
        np.testing.assert_array_equal(full, cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))
        for cut in np.linspace(200, len(data) - 2, 12).astype(int):
            with pytest.raises(DataError) as e:
                decode_image(data[:cut], f"{path.name}[:{cut}]")
            assert e.value.reason in ("truncated_image", "corrupt_image")
        with pytest.raises(DataError, match="truncated") as e:
            check_complete(data[: len(data) // 2], path.name)
        assert e.value.reason == "truncated_image"
    png = cv2.imencode(".png", cv2.imread(str(REAL_JPEGS[0])))[1].tobytes()
    with pytest.raises(DataError, match="truncated"):
        check_complete(png[: len(png) // 2], "half.png")
    check_complete(png, "whole.png")


def _bad_image_folder(tmp_path: Path) -> tuple[Path, object]:
    """The five real MPII samples with sample 1 truncated, 2 missing, 3 not an image, 4 a huge header."""
    ann = load_annotations(MPII_DIR / "images" / "annotations.json")
    images = tmp_path / "images"
    shutil.copytree(MPII_DIR / "images", images)
    path = images / ann.image_names[1]
    path.write_bytes(path.read_bytes()[:-3000])
    ann.image_names[2] = "gone.jpg"
    (images / "junk.jpg").write_bytes(b"\xff\xd8 not a jpeg at all")
    ann.image_names[3] = "junk.jpg"
    (images / "huge.png").write_bytes(png_header(30000, 30000))
    ann.image_names[4] = "huge.png"
    return images, ann


def test_bad_images_are_errors_naming_the_sample_or_skipped_by_reason(shared, tmp_path):
    images, ann = _bad_image_folder(tmp_path)
    cfg = DataConfig(dataset="files", input_size=64, heatmap_size=16)
    ds = PoseDataset(ann, images, cfg, train=False)
    for i, pattern in ((1, "sample 1 .*truncated"), (2, "sample 2 .*not found.*gone.jpg"),
                       (3, "sample 3 .*junk.jpg: cannot decode"), (4, "sample 4 .*huge.png.*30000x30000")):
        with pytest.raises(DataError, match=pattern):
            ds[i]
    skip = PoseDataset(ann, images, DataConfig(dataset="files", input_size=64, heatmap_size=16, on_error="skip"),
                       train=False)
    dropped: list = []
    loader = torch.utils.data.DataLoader(skip, batch_size=2, collate_fn=collate_samples)
    assert [b["index"].tolist() for b in loaded_batches(loader, dropped)] == [[0]]
    assert skip.skipped_by_reason == {"missing_image": 1, "corrupt_image": 1, "truncated_image": 1,
                                      "image_too_large": 1}


# ------------------------------------------------------------------------------------- person boxes
def test_impossible_boxes_are_refused_by_the_dataset(shared):
    """A centre far outside the image, a scale of 1e12 or 1e-9: an error naming sample and fields (or
    skipped as ``bad_box``), never a black crop that trains with loss 0."""
    ann = load_annotations(MPII_DIR / "images" / "annotations.json")
    ann.centers[1] = [50_000.0, 40_000.0]
    ann.scales[2] = 1e12
    ann.scales[3] = 1e-9
    ds = PoseDataset(ann, MPII_DIR / "images", DataConfig(dataset="files", input_size=64, heatmap_size=16),
                     train=True)
    for i, pattern in ((1, r"sample 1 .*'center' \[50000.0, 40000.0\].*lies outside the 854x480 image"),
                       (2, r"sample 2 .*'scale'.*more than 10 x the longer side of the 1280x720 image"),
                       (3, r"sample 3 .*'scale' 1e-09.*below the minimum of 4 px")):
        with pytest.raises(DataError, match=pattern) as e:
            ds[i]
        assert e.value.reason == "bad_box"
    assert ds[0]["target_weight"].sum() > 0
    skip = PoseDataset(ann, MPII_DIR / "images",
                       DataConfig(dataset="files", input_size=64, heatmap_size=16, on_error="skip"), train=True)
    assert skip[1]["index"] == 4 and skip.skipped_by_reason == {"bad_box": 3}


def test_predict_refuses_boxes_that_miss_the_image(tmp_path, tiny_run, shared, predictor, capsys):
    photo = MPII_DIR / "images" / "005808361.jpg"   # 1280 x 720
    image = read_image_file(photo)
    for box, pattern in (({"bbox": (5000, 5000, 6000, 6000)}, "lies outside the 1280x720 image"),
                         ({"bbox": (0, 0, 1e15, 1e15)}, "more than 10 x the longer side"),
                         ({"center": (1e300, 1e300), "scale": 1.0}, "lies outside"),
                         ({"center": (100.0, 100.0), "scale": 1e300}, "more than 10 x"),
                         ({"center": (100.0, 100.0), "scale": 1e-9}, "below the minimum"),
                         ({"bbox": (0, 0, float("nan"), 5)}, "finite")):
        with pytest.raises(ValueError, match=pattern):
            predictor.predict(image, **box)
    with pytest.raises(ValueError, match="only 1x1 pixels: too small"):   # no box given: not "degenerate box"
        predictor.predict(np.zeros((1, 1, 3), np.uint8))
    assert main(["predict", "--checkpoint", str(tiny_run / "best.pt"), str(photo), "--bbox", "5000", "5000", "6000",
                 "6000", "--backend", "torch", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "005808361.jpg: box [5000.0, 5000.0, 6000.0, 6000.0]: the person box" in err and "outside" in err
    assert not list(tmp_path.glob("*.json"))


def test_gui_boxes_and_indices_are_checked(client, shared):
    photo = (MPII_DIR / "images" / "005808361.jpg").read_bytes()
    for form, message in (({"center": "1e300 1e300", "scale": "1"}, "lies outside"),
                          ({"bbox": "0 0 1e15 1e15"}, "more than 10 x"),
                          ({"sample": "-1"}, "unknown sample '-1'"),
                          ({"checkpoint": "-1"}, "unknown checkpoint '-1'")):
        reply = gui_predict(client, None if "sample" in form else photo, **form)
        assert reply.status_code == 400 and message in reply.get_json()["error"], (form, reply.get_json())


def test_drawing_skips_absurd_coordinates(predictor):
    image = np.zeros((40, 60, 3), np.uint8)
    k = len(predictor.keypoints)
    points = np.full((k, 2), 1e300)
    points[1] = [np.nan, 5]
    points[2] = [np.inf, -np.inf]
    out = draw_result(image, points, predictor.keypoints, display_size=None)
    assert out.shape == image.shape and not out.any()
    points[:] = [20.0, 20.0]
    assert draw_result(image, points, predictor.keypoints, display_size=None).any()


# ------------------------------------------------------------------------------------- skipped samples
def test_skipped_validation_samples_leave_the_metric(tmp_path, tiny_run, synthetic_root):
    """With ``on_error: skip`` a bad validation sample is dropped: the loss, the predictions and the
    PCKh equal those of the same model on the annotation file without that sample (the replaced sample
    used to be scored against its neighbour's ground truth)."""
    from posekit.data.targets import HeatmapCodec
    from posekit.losses import HeatmapMSELoss
    from posekit.training.trainer import validate

    model = posekit.load_model(tiny_run / "best.pt")
    art = model.artifact
    val = synthetic_root / "val"
    ann = load_annotations(val / "annotations.json")
    images = tmp_path / "images"
    shutil.copytree(val / "images", images)
    bad = images / ann.image_names[4]
    bad.write_bytes(bad.read_bytes()[:-100])   # a JPEG cut inside its image data
    codec = HeatmapCodec(art.codec["input_size"], art.codec["heatmap_size"], art.codec["sigma"])

    def run(annotations, folder, on_error):
        cfg = DataConfig(dataset="files", input_size=art.codec["input_size"], heatmap_size=art.codec["heatmap_size"],
                         sigma=art.codec["sigma"], on_error=on_error)
        ds = PoseDataset(annotations, folder, cfg, train=False)
        loader = torch.utils.data.DataLoader(ds, batch_size=4, collate_fn=collate_samples)
        return validate(model, loader, codec, HeatmapMSELoss(), torch.device("cpu"))

    skipped = run(ann, images, "skip")
    keep = [0, 1, 2, 3, 5, 6, 7]
    reference = run(ann.subset(keep), val / "images", "raise")
    assert skipped["indices"].tolist() == keep and skipped["skipped"] == {"truncated_image": 1}
    np.testing.assert_array_equal(skipped["preds"], reference["preds"])
    assert skipped["pckh"] == reference["pckh"] and skipped["val_loss"] == reference["val_loss"]
    assert skipped["per_joint"] == reference["per_joint"]
    with pytest.raises(DataError, match="truncated"):
        run(ann, images, "raise")


def test_a_run_reports_skipped_samples_and_batches_without_joints(tmp_path, synthetic_root, caplog):
    """A run over bad data: one truncated training image, one truncated validation image, and no
    annotated training joint at all. The counts by reason go to metrics.csv, summary.json and the
    console; every batch without a joint is counted and warned about."""
    data = tmp_path / "data"
    shutil.copytree(synthetic_root / "train", data / "train")
    shutil.copytree(synthetic_root / "val", data / "val")
    for split, index in (("train", 3), ("val", 4)):
        ann = json.loads((data / split / "annotations.json").read_text())
        path = data / split / "images" / ann[index]["image"]
        path.write_bytes(path.read_bytes()[:-100])   # cut inside the image data
        if split == "train":
            for sample in ann:
                sample["joints"] = [[-1, -1]] * len(sample["joints"])
            (data / split / "annotations.json").write_text(json.dumps(ann))
    cfg = tiny_config(tmp_path / "run", synthetic_root, epochs=1, data={
        "dataset": "files", "annotations": data / "train" / "annotations.json", "image_dir": data / "train" / "images",
        "val_annotations": data / "val" / "annotations.json", "val_image_dir": data / "val" / "images",
        "on_error": "skip"})
    from posekit.training.run import train

    with caplog.at_level(logging.WARNING):
        summary = train(cfg, progress=False)
    assert summary["skipped"] == {"train": {"truncated_image": 1}, "val": {"truncated_image": 1}}
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["skipped"] == summary["skipped"]
    with open(tmp_path / "run" / "metrics.csv") as f:
        (row,) = list(csv.DictReader(f))
    assert (row["train_skipped"], row["train_skipped_truncated_image"]) == ("1", "1")
    assert (row["val_skipped"], row["val_skipped_truncated_image"], row["val_samples"]) == ("1", "1", "7")
    assert row["train_batches_without_joints"] == "6"   # 24 samples, batch 4: every step
    console = caplog.text
    assert "1 validation samples left out (truncated_image: 1)" in console
    assert "validation metrics over the 7 loadable samples" in console
    assert "6 of 6 training batches held no annotated joint" in console


def test_annotation_errors_stop_even_with_skip(tmp_path):
    """Errors in the annotation file itself are never skipped (README: data.on_error)."""
    samples = json.loads((MPII_DIR / "images" / "annotations.json").read_text())
    samples[2]["joints"][3] = [float("nan"), 1.0]
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(samples))
    with pytest.raises(AnnotationError, match=r"ann.json: sample 2: field 'joints' has a non-finite value"):
        PoseDataset(str(path), MPII_DIR / "images", DataConfig(dataset="files", on_error="skip"), train=False)


# ------------------------------------------------------------------------------------- prediction / ground-truth files
def test_empty_and_damaged_prediction_files_are_one_line_errors(tmp_path, capsys):
    gt = str(MPII_DIR / "gt_valid.mat")
    for name, data in (("empty.npy", b""), ("short.npy", b"\x93NUMPY"), ("empty.json", b""),
                       ("strings.json", json.dumps({"preds": [[["12", 3]] * 16]}).encode()),
                       ("bools.npy", None)):
        path = tmp_path / name
        if data is None:
            np.save(path, np.ones((2958, 16, 2), bool))
        else:
            path.write_bytes(data)
        assert main(["evaluate", "--predictions", str(path), "--ground-truth", gt]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"posekit evaluate: error: {path}") and "Traceback" not in err, err


@pytest.fixture(scope="module")
def raw_gt():
    return loadmat(str(MPII_DIR / "gt_valid.mat"))


def test_nonfinite_predictions_are_counted_and_scored_wrong(tmp_path, raw_gt, capsys):
    preds = raw_gt["pos_gt_src"].astype(np.float64).copy()   # (16, 2, N): the ground truth itself
    missing = raw_gt["jnt_missing"].astype(bool)
    evaluated = np.argwhere(~missing)[:3]                      # (joint, sample) of three evaluated joints
    for joint, sample in evaluated:
        preds[joint, 0, sample] = np.nan
    preds[evaluated[2][0], 1, evaluated[2][1]] = np.inf
    path = tmp_path / "pred.npy"
    np.save(path, preds)
    assert main(["evaluate", "--predictions", str(path), "--ground-truth", str(MPII_DIR / "gt_valid.mat"),
                 "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["nonfinite_predictions"] == 3
    assert "warning" in captured.err and "3 of" in captured.err and "scored as wrong" in captured.err
    assert all(joint == 0 for joint, _ in evaluated)   # three right ankles: all three in the official mean
    mean_total = int((~missing[[j for j in range(16) if j not in (6, 7)]]).sum())   # pelvis, thorax excluded
    assert out["pckh@0.5"]["mean"] == pytest.approx(100.0 * (mean_total - 3) / mean_total)


def test_ground_truth_that_cannot_be_scored_names_file_sample_and_field(tmp_path, raw_gt, capsys):
    np.save(tmp_path / "pred.npy", raw_gt["pos_gt_src"])
    sample = int(np.flatnonzero(~raw_gt["jnt_missing"][0].astype(bool))[5])
    cases = {}
    nan_gt = {k: v for k, v in raw_gt.items() if not k.startswith("__")}
    nan_gt["pos_gt_src"] = nan_gt["pos_gt_src"].astype(np.float64).copy()
    nan_gt["pos_gt_src"][0, 0, sample] = np.nan
    cases["nan_joint.mat"] = (nan_gt, rf"sample {sample}, r_ankle: field 'pos_gt_src' is \[nan, ")
    zero = {k: v for k, v in raw_gt.items() if not k.startswith("__")}
    zero["headboxes_src"] = zero["headboxes_src"].astype(np.float64).copy()
    zero["headboxes_src"][:, :, 7] = 100.0   # both corners equal: a zero-size head box
    cases["zero_head.mat"] = (zero, r"sample 7: field 'headboxes_src' gives the head size 0.0")
    nan_head = {k: v for k, v in raw_gt.items() if not k.startswith("__")}
    nan_head["headboxes_src"] = nan_head["headboxes_src"].astype(np.float64).copy()
    nan_head["headboxes_src"][0, 0, 9] = np.nan
    cases["nan_head.mat"] = (nan_head, r"sample 9: field 'headboxes_src' gives the head size nan")
    import re

    for name, (content, pattern) in cases.items():
        savemat(str(tmp_path / name), content)
        assert main(["evaluate", "--predictions", str(tmp_path / "pred.npy"), "--ground-truth",
                     str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert re.search(f"{name}: {pattern}", err), err


# ------------------------------------------------------------------------------------- annotation files
def _samples(n: int = 3) -> list[dict]:
    return [{"image": f"{i:09d}.jpg", "center": [100.0, 120.0], "scale": 1.5,
             "joints": [[10.0 + k, 20.0 + k] for k in range(16)], "joints_vis": [1] * 16} for i in range(n)]


@pytest.mark.parametrize("index, change, pattern", [
    (1, {"joints_vis": [1] * 15 + [5]}, r"sample 1: field 'joints_vis' is 5 at joint 15, expected 0 .*or 1"),
    (2, {"joints_vis": [-1] + [1] * 15}, r"sample 2: field 'joints_vis' is -1 at joint 0"),
    (0, {"joints": [["12", 3.0]] + [[1.0, 2.0]] * 15}, r"sample 0: field 'joints' is not a numeric .*'12'"),
    (1, {"center": ["12", "30"]}, r"sample 1: field 'center' is not numeric: '12'"),
    (2, {"scale": "1.5"}, r"sample 2: field 'scale' is not numeric"),
    (0, {"scale": True}, r"sample 0: field 'scale' is not numeric: True"),
    (1, {"image": "../outside.jpg"}, r"sample 1: field 'image' is '../outside.jpg'; expected a file name relative"),
    (2, {"image": "/etc/passwd"}, r"sample 2: field 'image' is '/etc/passwd'"),
    (0, {"image": "C:\\\\data\\\\x.jpg"}, r"sample 0: field 'image'"),
    (1, {"image": "sub/../../x.jpg"}, r"sample 1: field 'image'"),
])
def test_json_annotations_convert_nothing_silently(tmp_path, index, change, pattern):
    samples = _samples(4)
    samples[index].update(change)
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(samples))
    with pytest.raises(AnnotationError, match=r"ann\.json: " + pattern):
        read_mpii_json(path)
    samples[index].update(_samples(4)[index])
    path.write_text(json.dumps(samples))
    assert len(read_mpii_json(path)) == 4   # the same file without the fault reads


def test_annotation_messages_name_the_real_cause(tmp_path):
    import h5py

    path = tmp_path / "empty.json"
    path.write_text("[]")
    with pytest.raises(AnnotationError, match=r"empty.json: the file holds no samples"):
        read_mpii_json(path)
    h5 = tmp_path / "fifteen.h5"
    n = 4
    with h5py.File(h5, "w") as f:
        f["imgname"] = np.array([f"{i}.jpg".encode() for i in range(n)])
        f["center"], f["scale"] = np.full((n, 2), 50.0), np.ones(n)
        f["part"], f["visible"] = np.full((n, 15, 2), 30.0), np.ones((n, 16))
    with pytest.raises(AnnotationError, match=r"'part' has 15 joints per sample but field 'visible' has 16"):
        read_mpii_h5(h5)
    with pytest.raises(AnnotationError, match=r"fifteen.h5: all samples: field 'part' has 15 joints, expected 16"):
        PoseDataset(str(h5), tmp_path, DataConfig(dataset="files"), train=False)
    with h5py.File(h5, "w") as f:
        f["imgname"] = np.array([b"a.jpg"] * n)
        f["center"], f["scale"] = np.array([[b"1", b"2"]] * n), np.ones(n)
        f["part"] = np.full((n, 16, 2), 30.0)
    with pytest.raises(AnnotationError, match=r"fifteen.h5: field 'center' is not numeric"):
        read_mpii_h5(h5)


# ------------------------------------------------------------------------------------- checkpoints
def test_checkpoint_errors_never_advise_unsafe_loading(tmp_path, tiny_run):
    """Damaged, foreign or tampered files: one message naming the file and the real cause; none ends
    in PyTorch's advice to load with weights_only=False, and nothing in them runs."""
    import pickle

    good = (tiny_run / "best.pt").read_bytes()

    class Payload:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "pwned",))

    evil = io.BytesIO()
    torch.save({"model": {}, "artifact": {}, "x": Payload()}, evil)
    legacy = io.BytesIO()
    torch.save({"model": {}, "x": Payload()}, legacy, _use_new_zipfile_serialization=False)
    cases = {"empty.pt": (b"", "empty file"),
             "half.pt": (good[: len(good) // 2], "truncated or damaged"),
             "text.pt": (b"hello\n" * 20, "not a PyTorch checkpoint"),
             "evil.pt": (evil.getvalue(), "holds Python objects"),
             "legacy.pt": (legacy.getvalue(), "holds Python objects"),
             "legacy_cut.pt": (legacy.getvalue()[:40], "truncated"),
             "pickle.pt": (pickle.dumps({"model": {}}), "holds Python objects")}
    for name, (data, reason) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(CheckpointError) as e:
            load_checkpoint(tmp_path / name)
        assert str(e.value).startswith(f"{tmp_path / name}: ") and reason in str(e.value), str(e.value)
        assert "weights_only" not in str(e.value)
    assert not (tmp_path / "pwned").exists()


def test_weights_that_do_not_fit_and_format1_without_joint_ids(tmp_path, tiny_run, capsys):
    photo = str(MPII_DIR / "images" / "005808361.jpg")
    ckpt = load_checkpoint(tiny_run / "best.pt")
    variants = {}
    extra = {**ckpt, "model": {**ckpt["model"], "extra.weight": torch.zeros(3)}}
    variants["extra.pt"] = (extra, "1 unexpected tensor(s): extra.weight")
    first = next(iter(ckpt["model"]))
    variants["missing.pt"] = ({**ckpt, "model": {k: v for k, v in ckpt["model"].items() if k != first}},
                              f"1 missing tensor(s): {first}")
    conv = next(k for k, v in ckpt["model"].items() if v.ndim == 4)
    variants["shape.pt"] = ({**ckpt, "model": {**ckpt["model"], conv: torch.zeros(1, 1, 1, 1)}}, "of another shape")
    v1 = torch.load(Path(__file__).parent / "fixtures" / "format1" / "v1_hg.pt", weights_only=True)
    del v1["joint_ids"]
    variants["v1.pt"] = (v1, "format-1 checkpoint without 'joint_ids'")
    for name, (state, message) in variants.items():
        save_checkpoint(state, tmp_path / name)
        assert main(["predict", "--checkpoint", str(tmp_path / name), photo, "--backend", "torch",
                     "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert f"{tmp_path / name}: " in err and message in err and "Traceback" not in err, err


def test_cuda_without_cuda_is_a_device_error(tmp_path, tiny_run, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available on this machine"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        resolve_device("gpu")
    assert main(["predict", "--checkpoint", str(tiny_run / "best.pt"), str(MPII_DIR / "images" / "005808361.jpg"),
                 "--device", "cuda", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "CUDA is not available" in err and "checkpoint" not in err
    assert main(["train", "quickstart", "--set", "train.device=cuda", "--output-dir", str(tmp_path / "run")]) == 2
    assert "CUDA is not available" in capsys.readouterr().err and not (tmp_path / "run").exists()


# ------------------------------------------------------------------------------------- run folders and outputs
def test_refused_resumes_change_nothing_in_the_run_folder(tmp_path, synthetic_root, capsys):
    """A resume that changes the optimiser, or a last.pt whose weights do not fit, is refused before
    any file of the run changes; a resume that fits removes the temporaries of interrupted writes."""
    from posekit.training.run import train

    run = tmp_path / "run"
    train(tiny_config(run, synthetic_root, epochs=1), progress=False)
    before = folder_snapshot(run)
    resume = ["train", "quickstart", "--output-dir", str(run), "--resume", "--no-progress"]
    assert main(resume + ["--set", "train.optimizer=sgd"]) == 2
    assert "cannot resume with changed train.optimizer" in capsys.readouterr().err
    assert folder_snapshot(run) == before
    good = load_checkpoint(run / "last.pt")
    save_checkpoint({**good, "model": {**good["model"], "extra.weight": torch.zeros(1)}}, run / "last.pt")
    before = folder_snapshot(run)
    assert main(resume) == 2
    err = capsys.readouterr().err
    assert "last.pt: the weights do not fit the network (1 unexpected tensor(s): extra.weight)" in err
    assert folder_snapshot(run) == before
    save_checkpoint(good, run / "last.pt")
    (run / "last.pt.k1ll3d.tmp").write_bytes(b"partial write of a killed run")
    assert main(resume + ["--set", "train.epochs=2"]) == 0
    capsys.readouterr()
    assert not list(run.glob("*.tmp")) and json.loads((run / "summary.json").read_text())["epochs_run"] == 2


def test_predict_gives_inputs_with_the_same_name_their_own_outputs(tmp_path, tiny_run, shared, capsys):
    for folder, source in (("a", MPII_DIR / "images" / "005808361.jpg"), ("b", SHARED / "coco" / "000000000785.jpg")):
        (tmp_path / folder).mkdir()
        shutil.copy(source, tmp_path / folder / "img.jpg")
    out = tmp_path / "out"
    assert main(["predict", "--checkpoint", str(tiny_run / "best.pt"), str(tmp_path / "a" / "img.jpg"),
                 str(tmp_path / "b" / "img.jpg"), "--backend", "torch", "--out", str(out)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.endswith(".png")]
    assert len(lines) == 2 and len({line.split(": ")[1] for line in lines}) == 2
    first, second = (json.loads((out / name).read_text()) for name in ("img.json", "img-2.json"))
    assert first["image"].endswith("a/img.jpg") and second["image"].endswith("b/img.jpg")
    assert (first["width"], second["width"]) == (1280, 640)   # the first result was not overwritten
    assert sorted(p.name for p in out.iterdir()) == ["img-2.json", "img-2_pose.png", "img.json", "img_pose.png",
                                                     "pred.mat", "results_coco.json"]


def test_onnx_cache_is_one_file_and_a_damaged_entry_is_rebuilt(tmp_path, tiny_run, monkeypatch, caplog):
    pytest.importorskip("onnxruntime")
    from posekit.models.export import OnnxRuntimeNetwork, cached_onnx

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    model = posekit.load_model(tiny_run / "best.pt")
    size = model.artifact.input["size"]
    path = cached_onnx(tiny_run / "best.pt", model, size)
    assert [p.name for p in path.parent.iterdir()] == [path.name]   # weights inside: no .onnx.data to lose
    x = torch.rand(2, 3, size, size)
    with torch.no_grad():
        want = model(x).numpy()
    path.write_bytes(path.read_bytes()[:1000])                       # damaged (e.g. a full disk)
    with caplog.at_level(logging.WARNING):
        predictor = PosePredictor.from_checkpoint(tiny_run / "best.pt", device="cpu", backend="auto")
    assert "is unusable" in caplog.text and "exporting again" in caplog.text
    assert isinstance(predictor.model, OnnxRuntimeNetwork)           # auto did not fall back to torch
    np.testing.assert_allclose(predictor.model(x).numpy(), want, atol=1e-4)
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_the_gui_binds_localhost_unless_told_otherwise(tiny_run, monkeypatch):
    pytest.importorskip("flask")
    import flask

    calls = []
    monkeypatch.setattr(flask.Flask, "run", lambda self, **kwargs: calls.append(kwargs))
    assert main(["gui", "--checkpoint", str(tiny_run / "best.pt"), "--samples", str(tiny_run)]) == 0
    assert calls[0]["host"] == "127.0.0.1" and calls[0]["debug"] is False
