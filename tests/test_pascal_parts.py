"""PASCAL-Person-Part reader (issue 5): split lists, label PNGs, PASCAL-Part .mat merge, person boxes."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io

from posekit.data.pascal_parts import (
    IGNORE_INDEX,
    PART_CLASS_NAMES,
    PASCAL_PART_TO_CLASS,
    load_part_labels,
    pascal_person_part_annotations,
)
from posekit.data.synthetic import PART_CLASSES
from posekit.keypoints import MPII

NUM_JOINTS = len(MPII)

V = IGNORE_INDEX
H, W = 40, 60


def write_pascal_person_part_sample(root: Path, image_id: str, image: np.ndarray, labels: np.ndarray,
                                    split: str) -> None:
    """Write one image, its label PNG and its id in ``root/<split>_id.txt`` (the common layout)."""
    (root / "JPEGImages").mkdir(parents=True, exist_ok=True)
    (root / "SegmentationPart").mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(root / "JPEGImages" / f"{image_id}.jpg"), image)
    assert cv2.imwrite(str(root / "SegmentationPart" / f"{image_id}.png"), labels)
    with open(root / f"{split}_id.txt", "a") as f:
        f.write(f"{image_id}\n")


def _image(seed: int) -> np.ndarray:
    """A 40 x 60 BGR test image: a gradient with a bright rectangle."""
    img = np.zeros((H, W, 3), np.uint8)
    img[..., 0] = np.linspace(0, 255, W, dtype=np.uint8)[None]
    img[..., 1] = np.linspace(0, 255, H, dtype=np.uint8)[:, None]
    img[10 + seed:20 + seed, 15:30] = 250
    return img


def _labels_a() -> np.ndarray:
    lab = np.zeros((H, W), np.uint8)
    lab[5:10, 20:25] = 1  # head: rows 5..9, cols 20..24
    lab[10:25, 18:28] = 2  # torso: rows 10..24, cols 18..27
    lab[25:35, 20:22] = 6  # lower legs: rows 25..34, cols 20..21
    lab[2, 50] = V  # a void pixel far away: not part of the box
    return lab


def _labels_b() -> np.ndarray:
    lab = np.zeros((H, W), np.uint8)
    lab[12, 40] = 4  # one lower-arm pixel
    lab[30:32, 3:11] = 5  # upper legs: rows 30..31, cols 3..10
    lab[0:3, 0:3] = V
    return lab


def _labels_c() -> np.ndarray:
    lab = np.zeros((H, W), np.uint8)
    lab[20:25, 20:25] = V  # only void and background
    return lab


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "pascal_person_part"
    write_pascal_person_part_sample(root, "2008_000003", _image(0), _labels_a(), "train")
    write_pascal_person_part_sample(root, "2008_000008", _image(1), _labels_b(), "train")
    write_pascal_person_part_sample(root, "2009_000001", _image(2), _labels_c(), "val")
    return root


def test_class_names_match_synthetic_convention():
    assert PART_CLASS_NAMES == ("background", "head", "torso", "upper_arms", "lower_arms", "upper_legs",
                                "lower_legs")
    assert len(PART_CLASS_NAMES) == len(PART_CLASSES) and IGNORE_INDEX == 255
    # the merge: 24 PASCAL-Part person parts onto ids 1..6
    assert len(PASCAL_PART_TO_CLASS) == 24 and set(PASCAL_PART_TO_CLASS.values()) == {1, 2, 3, 4, 5, 6}
    assert [PASCAL_PART_TO_CLASS[n] for n in ("hair", "neck", "ruarm", "rhand", "luleg", "lfoot")] == [
        1, 2, 3, 4, 5, 6]


def test_train_split_ids_names_and_boxes(dataset: Path):
    ann = pascal_person_part_annotations(dataset, "train")
    assert len(ann) == 2 and ann.source == str(dataset / "train_id.txt")
    assert ann.image_names == ["2008_000003.jpg", "2008_000008.jpg"]
    assert ann.part_label_files == ["2008_000003.png", "2008_000008.png"]
    assert all((dataset / "JPEGImages" / n).is_file() for n in ann.image_names)
    # image A: foreground x 18..27, y 5..34 -> centre ((18+27)/2, (5+34)/2) = (22.5, 19.5),
    #          w = 27-18+1 = 10, h = 34-5+1 = 30 -> scale 30/200 = 0.15 (void pixel (50, 2) ignored)
    # image B: foreground x 3..40, y 12..31 -> centre (43/2, 43/2) = (21.5, 21.5),
    #          w = 40-3+1 = 38, h = 31-12+1 = 20 -> scale 38/200 = 0.19
    np.testing.assert_allclose(ann.centers, [[22.5, 19.5], [21.5, 21.5]])
    np.testing.assert_allclose(ann.scales, [0.15, 0.19])
    # no joints
    assert ann.joints.shape == (2, NUM_JOINTS, 2) and not ann.joints.any()
    assert ann.visible.shape == (2, NUM_JOINTS) and not ann.visible.any()
    assert ann.annotated.shape == (2, NUM_JOINTS) and not ann.annotated.any()
    assert ann.head_sizes is None and ann.headboxes is None


def test_label_png_round_trip(dataset: Path):
    for name, expected in [("2008_000003.png", _labels_a()), ("2008_000008.png", _labels_b())]:
        labels = load_part_labels(dataset / "SegmentationPart" / name)
        assert labels.dtype == np.uint8 and labels.shape == (H, W)
        np.testing.assert_array_equal(labels, expected)


def test_image_without_foreground_gets_whole_image_and_split_txt_fallback(dataset: Path):
    (dataset / "val_id.txt").rename(dataset / "val.txt")
    ann = pascal_person_part_annotations(dataset, "val")
    assert ann.source == str(dataset / "val.txt") and ann.image_names == ["2009_000001.jpg"]
    # whole 60 x 40 image: centre ((0+59)/2, (0+39)/2) = (29.5, 19.5), scale max(60, 40)/200 = 0.3
    np.testing.assert_allclose(ann.centers, [[29.5, 19.5]])
    np.testing.assert_allclose(ann.scales, [0.3])


def test_list_file_with_paths_and_blank_lines(dataset: Path):
    (dataset / "train_id.txt").write_text(
        "\n/JPEGImages/2008_000008.jpg /SegmentationPart/2008_000008.png\n  \n2008_000003\n")
    ann = pascal_person_part_annotations(dataset, "train")
    assert ann.image_names == ["2008_000008.jpg", "2008_000003.jpg"]
    np.testing.assert_allclose(ann.scales, [0.19, 0.15])


def test_palette_png_is_read_as_indices(tmp_path: Path):
    image_module = pytest.importorskip("PIL.Image")
    labels = np.array([[0, 1, 2, 3], [4, 5, 6, V]], np.uint8)
    palette = [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0, 0, 0, 128, 128, 0, 128, 0, 128, 128]
    palette += [0, 0, 0] * (256 - 7)
    palette[3 * V:3 * V + 3] = [224, 224, 192]  # PASCAL's void colour
    im = image_module.fromarray(labels, "P")
    im.putpalette(palette)
    im.save(tmp_path / "pal8.png")
    # OpenCV alone would give colours, not ids
    assert cv2.imread(str(tmp_path / "pal8.png"), cv2.IMREAD_UNCHANGED).shape == (2, 4, 3)
    np.testing.assert_array_equal(load_part_labels(tmp_path / "pal8.png"), labels)
    # a 4-bit palette PNG (ids 0..6 only)
    small = labels.copy()
    small[1, 3] = 0
    im = image_module.fromarray(small, "P")
    im.putpalette(palette)
    im.save(tmp_path / "pal4.png", bits=4)
    assert (tmp_path / "pal4.png").read_bytes()[24:26] == bytes([4, 3])  # bit depth 4, colour type 3
    np.testing.assert_array_equal(load_part_labels(tmp_path / "pal4.png"), small)


def _gray_png(values: np.ndarray, bits: int) -> bytes:
    """A grayscale PNG (colour type 0) with ``bits`` < 8 bits per pixel, rows packed MSB first."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    h, w = values.shape
    per_byte = 8 // bits
    raw = b""
    for row in values:
        padded = list(row) + [0] * (-w % per_byte)
        packed = bytearray()
        for i in range(0, len(padded), per_byte):
            byte = 0
            for v in padded[i:i + per_byte]:
                byte = (byte << bits) | int(v)
            packed.append(byte)
        raw += b"\x00" + bytes(packed)  # filter type 0
    ihdr = struct.pack(">IIBBBBB", w, h, bits, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_low_bit_depth_gray_png_keeps_stored_values(tmp_path: Path):
    four = np.array([[0, 1, 2, 3, 4], [5, 6, 0, 1, 2]], np.uint8)
    (tmp_path / "g4.png").write_bytes(_gray_png(four, 4))
    # OpenCV scales 4-bit samples by 255/15 = 17 (6 -> 102); the reader undoes it
    assert cv2.imread(str(tmp_path / "g4.png"), cv2.IMREAD_UNCHANGED)[1, 1] == 6 * 17
    np.testing.assert_array_equal(load_part_labels(tmp_path / "g4.png"), four)
    # 1-bit: a stored 1 would read as 255 (void) without the correction
    one = np.array([[0, 1, 1], [1, 0, 0]], np.uint8)
    (tmp_path / "g1.png").write_bytes(_gray_png(one, 1))
    np.testing.assert_array_equal(load_part_labels(tmp_path / "g1.png"), one)


# --------------------------------------------------------------------------------------------------
# PASCAL-Part .mat annotations


def _parts(*parts: tuple[str, np.ndarray]) -> np.ndarray:
    """A 1 x K MATLAB struct array with fields part_name, mask."""
    arr = np.empty((1, len(parts)), dtype=[("part_name", "O"), ("mask", "O")])
    for k, (name, mask) in enumerate(parts):
        arr[0, k] = (name, mask)
    return arr


def _box(rows: slice, cols: slice, shape: tuple[int, int] = (8, 10)) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    m[rows, cols] = 1
    return m


def _one_person_anno() -> dict:
    # one person object given as a single struct (loadmat squeezes it to a mat_struct) and a dog
    person = {
        "class": "person",
        "mask": _box(slice(1, 7), slice(2, 7)),  # rows 1..6, cols 2..6
        "parts": _parts(
            ("hair", _box(slice(1, 2), slice(3, 6))),  # -> head (1)
            ("neck", _box(slice(2, 3), slice(3, 6))),  # -> torso (2)
            ("lhand", _box(slice(5, 7), slice(2, 3))),  # -> lower arms (4)
        ),
    }
    dog = {"class": "dog", "mask": _box(slice(0, 8), slice(8, 10)), "parts": np.zeros((0, 0))}
    objects = np.empty((1, 2), dtype=[("class", "O"), ("mask", "O"), ("parts", "O")])
    objects[0, 0] = (person["class"], person["mask"], person["parts"])
    objects[0, 1] = (dog["class"], dog["mask"], dog["parts"])
    return {"imname": "2008_000003.jpg", "objects": objects}


ONE_PERSON = np.array([
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, V, 1, 1, 1, V, 0, 0, 0],
    [0, 0, V, 2, 2, 2, V, 0, 0, 0],
    [0, 0, V, V, V, V, V, 0, 0, 0],
    [0, 0, V, V, V, V, V, 0, 0, 0],
    [0, 0, 4, V, V, V, V, 0, 0, 0],
    [0, 0, 4, V, V, V, V, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
], np.uint8)


def _three_person_anno() -> dict:
    objects = np.empty((1, 3), dtype=[("class", "O"), ("mask", "O"), ("parts", "O")])
    # A: rows 0..4, cols 0..4; luarm (3) after torso (2) on pixel (x 0, y 2): the later part wins.
    # A's ruarm on row 3 reaches into B's mask (x 3..4): B's unlabelled mask must not erase it.
    objects[0, 0] = ("person", _box(slice(0, 5), slice(0, 5)), _parts(
        ("head", _box(slice(0, 2), slice(1, 3))),
        ("torso", _box(slice(2, 3), slice(0, 5))),
        ("luarm", _box(slice(2, 3), slice(0, 1))),
        ("ruarm", _box(slice(3, 4), slice(0, 5))),
    ))
    # B: rows 3..7, cols 3..7, one part (a single struct): rlleg on row 4, cols 3..4, inside A's mask
    objects[0, 1] = ("person", _box(slice(3, 8), slice(3, 8)),
                     {"part_name": "rlleg", "mask": _box(slice(4, 5), slice(3, 5))})
    # C: no parts at all -> its whole mask is void
    objects[0, 2] = ("person", _box(slice(6, 8), slice(8, 10)), np.zeros((0, 0)))
    return {"imname": "2008_000008.jpg", "objects": objects}


THREE_PERSONS = np.array([
    [V, 1, 1, V, V, 0, 0, 0, 0, 0],
    [V, 1, 1, V, V, 0, 0, 0, 0, 0],
    [3, 2, 2, 2, 2, 0, 0, 0, 0, 0],
    [3, 3, 3, 3, 3, V, V, V, 0, 0],
    [V, V, V, 6, 6, V, V, V, 0, 0],
    [0, 0, 0, V, V, V, V, V, 0, 0],
    [0, 0, 0, V, V, V, V, V, V, V],
    [0, 0, 0, V, V, V, V, V, V, V],
], np.uint8)


def test_mat_one_person_merge(tmp_path: Path):
    scipy.io.savemat(tmp_path / "a.mat", {"anno": _one_person_anno()})
    labels = load_part_labels(tmp_path / "a.mat")
    assert labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, ONE_PERSON)

    # a lone person object (struct, not struct array) with a single part
    anno = {"imname": "x", "objects": {"class": "person", "mask": _box(slice(0, 2), slice(0, 2)),
                                       "parts": {"part_name": "rfoot", "mask": _box(slice(1, 2), slice(0, 1))}}}
    scipy.io.savemat(tmp_path / "b.mat", {"anno": anno})
    expected = np.zeros((8, 10), np.uint8)
    expected[0:2, 0:2] = V
    expected[1, 0] = 6
    np.testing.assert_array_equal(load_part_labels(tmp_path / "b.mat"), expected)


def test_mat_several_persons_merge(tmp_path: Path):
    scipy.io.savemat(tmp_path / "c.mat", {"anno": _three_person_anno()})
    np.testing.assert_array_equal(load_part_labels(tmp_path / "c.mat"), THREE_PERSONS)


def test_mat_label_source_dataset(tmp_path: Path):
    (tmp_path / "Annotations_Part").mkdir()
    scipy.io.savemat(tmp_path / "Annotations_Part" / "2008_000003.mat", {"anno": _one_person_anno()})
    scipy.io.savemat(tmp_path / "Annotations_Part" / "2008_000008.mat", {"anno": _three_person_anno()})
    (tmp_path / "train_id.txt").write_text("2008_000003\n2008_000008\n")
    ann = pascal_person_part_annotations(tmp_path, "train", label_source="mat")
    assert ann.part_label_files == ["2008_000003.mat", "2008_000008.mat"]
    assert ann.image_names == ["2008_000003.jpg", "2008_000008.jpg"]
    # one person: foreground (ids 1..6) x 2..5, y 1..6 -> centre (3.5, 3.5), side max(4, 6) = 6 -> 0.03
    # three persons: foreground x 0..4, y 0..4 -> centre (2, 2), side 5 -> 0.025
    np.testing.assert_allclose(ann.centers, [[3.5, 3.5], [2.0, 2.0]])
    np.testing.assert_allclose(ann.scales, [0.03, 0.025])


# --------------------------------------------------------------------------------------------------
# errors


def test_bad_label_values_are_reported(tmp_path: Path):
    lab = np.zeros((4, 5), np.uint8)
    lab[0, 0], lab[1, 1], lab[2, 2] = 9, 7, V
    path = tmp_path / "bad.png"
    cv2.imwrite(str(path), lab)
    with pytest.raises(ValueError, match=re.escape(str(path)) + r".*7, 9"):
        load_part_labels(path)


def test_rgb_and_16_bit_png_are_refused(tmp_path: Path):
    lab = _labels_a()
    cv2.imwrite(str(tmp_path / "rgb.png"), np.dstack([lab, lab, lab]))
    with pytest.raises(ValueError, match="3 channels"):
        load_part_labels(tmp_path / "rgb.png")
    cv2.imwrite(str(tmp_path / "deep.png"), lab.astype(np.uint16))
    with pytest.raises(ValueError, match="uint16"):
        load_part_labels(tmp_path / "deep.png")
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="decode"):
        load_part_labels(tmp_path / "junk.png")
    cv2.imwrite(str(tmp_path / "labels.bmp"), lab)
    with pytest.raises(ValueError, match="unsupported"):
        load_part_labels(tmp_path / "labels.bmp")


def test_bad_mat_files(tmp_path: Path):
    scipy.io.savemat(tmp_path / "noanno.mat", {"x": np.zeros(3)})
    with pytest.raises(ValueError, match="anno"):
        load_part_labels(tmp_path / "noanno.mat")
    anno = {"objects": {"class": "person", "mask": _box(slice(0, 2), slice(0, 2)),
                        "parts": {"part_name": "tail", "mask": _box(slice(0, 1), slice(0, 1))}}}
    scipy.io.savemat(tmp_path / "tail.mat", {"anno": anno})
    with pytest.raises(ValueError, match="tail"):
        load_part_labels(tmp_path / "tail.mat")
    anno = {"objects": np.zeros((0, 0))}
    scipy.io.savemat(tmp_path / "empty.mat", {"anno": anno})
    with pytest.raises(ValueError, match="empty"):
        load_part_labels(tmp_path / "empty.mat")
    objects = np.empty((1, 2), dtype=[("class", "O"), ("mask", "O"), ("parts", "O")])
    objects[0, 0] = ("person", np.ones((8, 10), np.uint8), np.zeros((0, 0)))
    objects[0, 1] = ("person", np.ones((8, 9), np.uint8), np.zeros((0, 0)))
    scipy.io.savemat(tmp_path / "sizes.mat", {"anno": {"objects": objects}})
    with pytest.raises(ValueError, match="shape"):
        load_part_labels(tmp_path / "sizes.mat")


def test_missing_files_and_empty_list(dataset: Path, tmp_path: Path):
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "nowhere"))):
        pascal_person_part_annotations(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=re.escape(str(dataset / "test_id.txt"))):
        pascal_person_part_annotations(dataset, "test")
    (dataset / "SegmentationPart" / "2008_000008.png").unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(str(dataset / "SegmentationPart" / "2008_000008.png"))):
        pascal_person_part_annotations(dataset, "train")
    with pytest.raises(FileNotFoundError, match="Annotations_Part"):
        pascal_person_part_annotations(dataset, "val", label_source="mat")
    (dataset / "val_id.txt").write_text("\n  \n")
    with pytest.raises(ValueError, match="no image id"):
        pascal_person_part_annotations(dataset, "val")
    with pytest.raises(ValueError, match="label_source"):
        pascal_person_part_annotations(dataset, "val", label_source="json")
