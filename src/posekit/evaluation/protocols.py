"""PCKh evaluation protocols: the rules by which published MPII numbers were computed.

The MPII PCKh of a prediction file is not one number: the public implementations agree on the
distance and the head size but differ in how a tie at the threshold counts, which joints are scored
and how per-joint rates become the table. Each :class:`PCKhProtocol` writes down one
implementation's rules, read from its evaluation code (no code is taken from them); ``posekit
evaluate --protocol NAME`` applies them to the same prediction file. The numeric fixtures of
``tests/test_protocols.py`` check each one against the numbers that repository's own code prints.

* ``hrnet`` (the default; HRNet ``lib/dataset/mpii.py`` ``evaluate``, MMPose, the MATLAB toolkit's
  ``<=``): ground truth ``gt_valid.mat`` (``pos_gt_src``, ``jnt_missing``, head boxes); a joint is
  correct when ``d <= t * head``; rows ``0.5 * (left + right)``; Mean = count-weighted over the 14
  joints without pelvis and thorax.
* ``bearpaw`` (bearpaw/pytorch-pose ``evaluation/eval_PCKh.py``, the table of its README): the same
  ground truth; correct when ``d < t * head``; rows ``0.5 * (left + right)``; Mean = the plain
  (unweighted) mean of the 14 per-joint values.
* ``princeton`` (princeton-vl/pytorch_stacked_hourglass ``test.py`` ``mpii_eval``): ground truth
  ``valid.h5`` (``part``, ``visible``) with its ``normalize`` field as the head size; ground-truth
  joints whose x is 0 are skipped (whatever their y); correct when ``d < t * head``; each row (and
  the per-joint values) is a pooled rate, correct / count over its joints; ``total`` pools all 16
  joints, pelvis and thorax included (the script prints fractions rounded to 3 decimals; posekit
  reports percentages). The script prints no 14-joint mean; posekit's ``mean`` for this protocol is
  the pooled rate over the same 14 joints as the other protocols.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PCKhProtocol", "PROTOCOLS", "get_protocol"]


@dataclass(frozen=True)
class PCKhProtocol:
    """The rules of one PCKh implementation (module docstring).

    Attributes:
        name: the ``--protocol`` name.
        strict: a joint is correct when ``d < t * head`` (True) or ``d <= t * head`` (False).
        rows: ``"mean_lr"``: a table row is the mean of its joints' rates (``0.5 * (l + r)``);
            ``"pooled"``: correct / count over the row's joints.
        mean: ``"weighted"``: the Mean pools the correct counts of its joints (the count-weighted
            mean of their rates); ``"unweighted"``: the plain mean of their rates.
        total: the result also reports ``total``, pooled over all joints.
        skip_zero_x: ground-truth joints with x = 0 are not scored (else only annotated ones).
        head_size: where the head size comes from: ``"headbox"`` (``0.6 x`` head-box diagonal,
            ``gt_valid.mat``) or ``"normalize"`` (``valid.h5``'s ``normalize`` field).
        source: the repository and file the rules were read from.
    """

    name: str
    strict: bool
    rows: str
    mean: str
    total: bool
    skip_zero_x: bool
    head_size: str
    source: str

    def within(self, distances: np.ndarray, threshold: float) -> np.ndarray:
        """Elementwise ``distances < threshold`` (strict) or ``<= threshold``; distances in head
        sizes, NaN compares False."""
        with np.errstate(invalid="ignore"):
            return np.less(distances, threshold) if self.strict else np.less_equal(distances, threshold)


#: The built-in protocols, by ``--protocol`` name (the first is the default).
PROTOCOLS: dict[str, PCKhProtocol] = {p.name: p for p in (
    PCKhProtocol("hrnet", strict=False, rows="mean_lr", mean="weighted", total=False, skip_zero_x=False,
                 head_size="headbox", source="leoxiaobin/deep-high-resolution-net.pytorch lib/dataset/mpii.py"),
    PCKhProtocol("bearpaw", strict=True, rows="mean_lr", mean="unweighted", total=False, skip_zero_x=False,
                 head_size="headbox", source="bearpaw/pytorch-pose evaluation/eval_PCKh.py"),
    PCKhProtocol("princeton", strict=True, rows="pooled", mean="weighted", total=True, skip_zero_x=True,
                 head_size="normalize", source="princeton-vl/pytorch_stacked_hourglass test.py (mpii_eval)"),
)}


def get_protocol(protocol: "str | PCKhProtocol") -> PCKhProtocol:
    """A protocol by name (or the protocol itself).

    Raises:
        ValueError: an unknown name (the known ones are listed).
    """
    if isinstance(protocol, PCKhProtocol):
        return protocol
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown PCKh protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")
    return PROTOCOLS[protocol]
