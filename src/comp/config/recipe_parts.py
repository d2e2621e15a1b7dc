"""Recipe sections that live apart from :mod:`comp.config.recipe` (which imports them back): the
``[predict]`` and ``[teacher]`` tables. ``from comp.config.recipe import PredictCfg, TeacherCfg`` still works."""

from __future__ import annotations

from dataclasses import dataclass

from comp.config.spec import choice_field
from comp.predict.tta import TTA_LEVELS


@dataclass
class PredictCfg:
    tta: str = choice_field("flip", TTA_LEVELS)  # see comp.predict.tta
    batch_size: int = 512
    crop: float = 1.0  # every TTA view sees the centre crop of this fraction of each side, resized back; 1 = the image

    def checks(self) -> list[tuple]:
        return [("predict.crop", self.crop, 0 < self.crop <= 1, "in (0, 1]")]


@dataclass
class TeacherCfg:
    """How a run learns from teacher runs (``comp train --distill RUN`` / ``--pseudo-label RUN``)."""

    temperature: float = 1.0  # the teacher's probabilities softened as p^(1/T), renormalised (its logits / T)
    distill_weight: float = 0.5  # distillation: a training row's target = (1 - w) x its label + w x the teacher's
    pseudo_threshold: float = 0.0  # pseudo-labels: test images whose top teacher probability is at least this
    pseudo_top_share: float = 0.5  # and, of those, the most confident share of each predicted class
    pseudo_targets: str = choice_field("soft", ("soft", "hard"))  # the teacher's probabilities, or its class
    pseudo_weight: float = 1.0  # the loss weight of a pseudo-labelled image (a training image's is 1)

    def checks(self) -> list[tuple]:
        return [("teacher.temperature", self.temperature, self.temperature > 0, "positive"),
                ("teacher.distill_weight", self.distill_weight, 0 <= self.distill_weight <= 1, "in [0, 1]"),
                ("teacher.pseudo_threshold", self.pseudo_threshold, 0 <= self.pseudo_threshold < 1, "in [0, 1)"),
                ("teacher.pseudo_top_share", self.pseudo_top_share, 0 < self.pseudo_top_share <= 1, "in (0, 1]"),
                ("teacher.pseudo_weight", self.pseudo_weight, self.pseudo_weight > 0, "positive")]
