"""The ``stylegan2`` and ``stylekd`` demos: the shipped digits teacher sampled, and the shipped
half-width students StyleKD distilled from it, measured against it. Kept out of the model
modules so that they import one way (``stylegan2`` <- ``generator`` <- ``distill`` <-
``training`` <- ``pretrained`` <- ``demo``)."""

from __future__ import annotations

import functools
import time
from typing import Any

import torch

from xuframe import DemoResult
from xuframe.pictures import image_grid
from xuframe_plugins.stylekd.distill import make_student
from xuframe_plugins.stylekd.generator import StyleGAN2
from xuframe_plugins.stylekd.pretrained import (
    GAP_SAMPLES,
    RANDOM_MAPPING_TAG,
    STUDENT_TAG,
    evaluate,
)
from xuframe_plugins.stylekd.training import discrepancy


@functools.lru_cache(maxsize=1)
def demo_teacher() -> StyleGAN2:
    """The shipped digits StyleGAN2 (``weights="digits"``, see
    :mod:`xuframe_plugins.stylekd.pretrained`), loaded once per process so that the
    ``stylegan2`` and ``stylekd`` demos share it."""
    import xuframe

    teacher: StyleGAN2 = xuframe.create("generator", "stylegan2", weights="digits")
    return teacher


def stylekd_demo(seed: int = 0) -> DemoResult:
    """The shipped half-width students that StyleKD distilled from the shipped digits teacher
    (``weights="digits-stylekd"``, mapping inherited, and ``"digits-stylekd-random-mapping"``),
    and, for context, an untrained student of the same size: their gap to the teacher for the
    same ``z`` and noise (pixel L1, PSNR, Frechet distance of random features; see
    :func:`~xuframe_plugins.stylekd.training.discrepancy`) and their Frechet distance to the
    held-out digits. No training: the students were made by ``examples/stylekd/distill_digits.py``
    (the manifest records the command)."""
    import xuframe

    start = time.perf_counter()
    teacher = demo_teacher()
    models: dict[str, StyleGAN2] = {
        "student": xuframe.create("generator", "stylegan2", weights=STUDENT_TAG),
        "random_mapping": xuframe.create("generator", "stylegan2", weights=RANDOM_MAPPING_TAG),
        "untrained": make_student(teacher, 0.5, inherit_mapping=True, seed=seed + 1).eval(),
    }
    results: dict[str, float] = {}
    with torch.no_grad():
        results["teacher/heldout_fd"] = evaluate(teacher, seed)["fd"]
        for tag, model in models.items():
            gap = discrepancy(teacher, model, n=GAP_SAMPLES, seed=seed)
            for key in ("l1", "psnr", "fd"):
                results[f"{tag}/{key}"] = gap[key]
            results[f"{tag}/heldout_fd"] = evaluate(model, seed)["fd"]
        # the same z for every row of the picture
        rows = [teacher.sample(8, seed=seed)] + [m.sample(8, seed=seed) for m in models.values()]
    results["seconds"] = time.perf_counter() - start
    r = results
    return DemoResult(
        results,
        summary=(
            f"16-px digits, the shipped half-width StyleKD student against the shipped teacher "
            f"for the same {GAP_SAMPLES} z: pixel L1 {r['student/l1']:.3f} (lower is closer; PSNR "
            f"{r['student/psnr']:.1f} dB); student with a random mapping "
            f"{r['random_mapping/l1']:.3f}, untrained student {r['untrained/l1']:.3f}. Frechet "
            f"distance to the held-out digits: student {r['student/heldout_fd']:.2f}, teacher {r['teacher/heldout_fd']:.2f}, "
            f"untrained {r['untrained/heldout_fd']:.2f} ({r['seconds']:.1f} s). Picture rows: "
            "teacher, StyleKD student, random-mapping student, untrained student, for the same z."
        ),
        headline="student/l1",
        picture=image_grid(torch.cat(rows), 8),
    )


def stylegan2_demo(cls: Any, seed: int = 0) -> DemoResult:
    """The shipped digits weights (``weights="digits"``): 32 samples and the Frechet
    distance (fixed random features) of samples to the held-out digits, against an
    untrained generator of the same size."""

    start = time.perf_counter()
    trained = demo_teacher()
    torch.manual_seed(seed)
    untrained = cls(trained.config).eval()
    with torch.no_grad():
        before = evaluate(untrained, seed)["fd"]
        after = evaluate(trained, seed)["fd"]
        samples = trained.sample(32, seed=seed)
    seconds = time.perf_counter() - start
    return DemoResult(
        {"fd": after, "fd_untrained": before, "seconds": seconds},
        summary=(
            f"16-px digits with the shipped weights ({seconds:.0f} s): Frechet distance to "
            f"the held-out digits (random features) {after:.2f}, untrained {before:.2f}"
        ),
        headline="fd",
        picture=image_grid(samples, 8),
    )
