"""Resolve a :class:`posekit.config.DataConfig` to annotation files and image folders.

``dataset: files`` uses the paths as given (the real layout: an image folder plus one annotation
file per split, ``.h5``, ``.json`` or an LSP ``joints.mat``, and any ``extra_train`` files). ``dataset: synthetic`` first generates the built-in synthetic
people into ``root`` in the config's keypoint set (cached: an existing dataset with the same
parameters is reused).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

DATASETS = ("synthetic", "files")


def prepare_data(cfg):
    """Return a copy of ``cfg`` (a DataConfig) whose annotation/image paths point at real files.

    Raises:
        ValueError: unknown ``cfg.dataset``.
        FileNotFoundError: an annotation file or image folder is missing (named in the message).
    """
    if cfg.dataset == "synthetic":
        from posekit.data.synthetic import generate_synthetic

        root = Path(cfg.root)
        generate_synthetic(root, cfg.synthetic_train, cfg.synthetic_val, image_size=cfg.synthetic_image_size,
                           seed=cfg.synthetic_seed, render_options=cfg.synthetic_options or None,
                           keypoints=cfg.keypoints)
        return dataclasses.replace(
            cfg, annotations=str(root / "train" / "annotations.json"), image_dir=str(root / "train" / "images"),
            val_annotations=str(root / "val" / "annotations.json"), val_image_dir=str(root / "val" / "images"),
            parts_dir=cfg.parts_dir or str(root / "train" / "parts"),
            val_parts_dir=cfg.val_parts_dir or str(root / "val" / "parts"))
    if cfg.dataset == "files":
        for key in ("annotations", "image_dir"):
            if not getattr(cfg, key):
                raise ValueError(f"data.{key} must be set for dataset 'files'")
        val_image_dir = cfg.val_image_dir or cfg.image_dir
        paths = [("annotations", cfg.annotations), ("image_dir", cfg.image_dir),
                 ("val_annotations", cfg.val_annotations), ("val_image_dir", val_image_dir)]
        for k, source in enumerate(cfg.extra_train):
            for key in ("annotations", "image_dir"):
                if not getattr(source, key):
                    raise ValueError(f"data.extra_train[{k}].{key} must be set")
                paths.append((f"extra_train[{k}].{key}", getattr(source, key)))
        for key, value in paths:
            if value and not Path(value).exists():
                raise FileNotFoundError(f"data.{key}: {value} does not exist")
        return dataclasses.replace(cfg, val_image_dir=val_image_dir)
    raise ValueError(f"unknown dataset {cfg.dataset!r}; expected one of {DATASETS}")
