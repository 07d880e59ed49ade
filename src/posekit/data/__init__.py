"""Data: annotation files, crop geometry and augmentation, heat-map targets, the PyTorch dataset."""

from posekit.data.annotations import (
    AnnotationError,
    PoseAnnotations,
    check_num_joints,
    load_annotations,
    read_mpii_h5,
    read_mpii_json,
    unannotated_mask,
    write_json_annotations,
)
from posekit.data.dataset import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    DataError,
    PoseDataset,
    denormalize_image,
    load_image,
    normalize_image,
)
from posekit.data.multitask import MixedDataset, MultiTaskDataset
from posekit.data.paf import paf_targets
from posekit.data.pascal_parts import (
    IGNORE_INDEX,
    PART_CLASS_NAMES,
    PASCAL_PART_TO_CLASS,
    load_part_labels,
    pascal_person_part_annotations,
    pascal_person_part_folders,
)
from posekit.data.targets import HeatmapCodec, decode_heatmaps
from posekit.data.transforms import (
    AugParams,
    affine_points,
    apply_color_jitter,
    box_mask,
    compose_affine,
    crop_image,
    flip_heatmaps,
    flip_image,
    flip_joint_axis,
    flip_keypoints,
    get_affine_transform,
    hflip_affine,
    invert_affine,
    sample_augmentation,
    seed002_affine,
    seed002_box,
    seed002_content_box,
)

__all__ = [
    "MixedDataset",
    "MultiTaskDataset",
    "paf_targets",
    "AnnotationError", "PoseAnnotations", "check_num_joints", "load_annotations", "read_mpii_h5",
    "read_mpii_json", "unannotated_mask", "write_json_annotations",
    "IMAGENET_MEAN", "IMAGENET_STD", "DataError", "PoseDataset", "denormalize_image", "load_image",
    "normalize_image",
    "IGNORE_INDEX", "PART_CLASS_NAMES", "PASCAL_PART_TO_CLASS", "load_part_labels",
    "pascal_person_part_annotations", "pascal_person_part_folders",
    "HeatmapCodec", "decode_heatmaps",
    "AugParams", "affine_points", "apply_color_jitter", "box_mask", "compose_affine", "crop_image",
    "flip_heatmaps", "flip_image", "flip_joint_axis", "flip_keypoints", "get_affine_transform",
    "hflip_affine", "invert_affine", "sample_augmentation", "seed002_affine", "seed002_box",
    "seed002_content_box",
]
