"""How the shipped ``stylegan2`` weights are measured.

* ``weights="digits"`` (``weights/stylegan2-digits.pt``) is the teacher that
  ``examples/stylekd/distill_digits.py --export-weights digits`` trains: a 16-px StyleGAN2 on
  scikit-learn's 1,347 training digits for 1,500 steps; :func:`evaluate` measures it against
  the 450 held-out digits.
* ``weights="digits-stylekd"`` and ``weights="digits-stylekd-random-mapping"`` are half-width
  students that ``examples/stylekd/distill_digits.py --teacher-weights digits
  --export-students digits-stylekd`` distils from that teacher with StyleKD, the first with
  the teacher's mapping network inherited, the second with its own; :func:`evaluate_student`
  measures them against the held-out digits and against the teacher for the same ``z``.

The manifest records the metrics and the test suite re-measures them.
"""

from __future__ import annotations

from typing import Any

from xuframe.errors import InputError
from xuframe.metrics import frechet_distance
from xuframe.validation import check_int
from xuframe_plugins.stylekd.generator import StyleGAN2
from xuframe_plugins.stylekd.training import RandomFeatures, digit_images, discrepancy

__all__ = [
    "GAP_SAMPLES",
    "RANDOM_MAPPING_TAG",
    "STUDENT_TAG",
    "TEACHER_TAG",
    "evaluate",
    "evaluate_student",
]

#: The shipped weights the students were distilled from, and are measured against.
TEACHER_TAG = "digits"
#: The shipped half-width student distilled with StyleKD (the teacher's mapping inherited).
STUDENT_TAG = "digits-stylekd"
#: The same, distilled from the same synthesis initialisation with a mapping of its own.
RANDOM_MAPPING_TAG = "digits-stylekd-random-mapping"
#: The shared ``z`` (and noise) on which a student's gap to the teacher is measured.
GAP_SAMPLES = 256


def evaluate(model: Any, seed: int = 0) -> dict[str, float]:
    """``fd``: the Frechet distance between the random-feature statistics (a fixed, seeded
    untrained network: no downloaded weights) of as many samples (``seed``) as there are
    held-out digits and of those digits; lower is closer. ``model`` is a generator with a
    ``config.resolution`` and ``sample(n, seed)``, ``seed`` an int >= 0;
    :class:`~xuframe.errors.InputError` otherwise."""
    resolution = getattr(getattr(model, "config", None), "resolution", None)
    if not callable(getattr(model, "sample", None)) or not isinstance(resolution, int):
        raise InputError(
            "evaluate: expected a generator (config.resolution and sample(n, seed)), got "
            f"{type(model).__name__}"
        )
    seed = check_int(seed, "evaluate: seed", min=0, max=2**64 - 1)
    size = int(resolution)
    held_out = digit_images(size, "test")
    features = RandomFeatures()
    real = features(held_out)
    fake = features(model.sample(len(held_out), seed=seed))
    return {"fd": float(frechet_distance(fake, real))}


def evaluate_student(model: Any, seed: int = 0) -> dict[str, float]:
    """A distilled student's :func:`evaluate` (``fd``, to the held-out digits) and its gap to
    the shipped teacher (``weights=TEACHER_TAG``) for the same ``GAP_SAMPLES`` seeded ``z``
    and noise (:func:`~xuframe_plugins.stylekd.training.discrepancy`): ``gap_l1`` (mean
    absolute pixel difference, images in [-1, 1]; lower is closer), ``gap_psnr`` (dB) and
    ``gap_fd`` (Frechet distance of random-feature statistics of the two image sets).
    ``model`` is a :class:`~xuframe_plugins.stylekd.StyleGAN2` of the teacher's resolution and
    latent size, ``seed`` an int >= 0; :class:`~xuframe.errors.InputError` otherwise."""
    import xuframe

    if not isinstance(model, StyleGAN2):
        raise InputError(f"evaluate_student: expected a StyleGAN2, got {type(model).__name__}")
    seed = check_int(seed, "evaluate_student: seed", min=0, max=2**64 - 1)
    teacher = xuframe.create("generator", "stylegan2", weights=TEACHER_TAG)
    gap = discrepancy(teacher, model, n=GAP_SAMPLES, seed=seed)  # refuses another size first
    measured = evaluate(model, seed)
    return {
        "fd": measured["fd"],
        "gap_l1": gap["l1"],
        "gap_psnr": gap["psnr"],
        "gap_fd": gap["fd"],
    }
