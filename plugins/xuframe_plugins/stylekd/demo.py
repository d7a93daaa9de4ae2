"""The ``stylegan2`` and ``stylekd`` demos: the shipped digits teacher sampled, and distilled
into half-width students. Kept out of the model modules so that they import one way
(``stylegan2`` <- ``generator`` <- ``distill`` <- ``training`` <- ``pretrained`` <- ``demo``)."""

from __future__ import annotations

import functools
import time
from typing import Any

import torch

from xuframe import DemoResult
from xuframe.pictures import image_grid
from xuframe_plugins.stylekd.distill import StyleKD, make_student
from xuframe_plugins.stylekd.generator import StyleGAN2
from xuframe_plugins.stylekd.pretrained import evaluate
from xuframe_plugins.stylekd.training import digit_images, discrepancy, distill


@functools.lru_cache(maxsize=1)
def demo_teacher() -> StyleGAN2:
    """The shipped digits StyleGAN2 (``weights="digits"``, see
    :mod:`xuframe_plugins.stylekd.pretrained`), loaded once per process so that the
    ``stylegan2`` and ``stylekd`` demos share it."""
    import xuframe

    teacher: StyleGAN2 = xuframe.create("generator", "stylegan2", weights="digits")
    return teacher


def stylekd_demo(seed: int = 0) -> DemoResult:
    """Distil the shipped digits teacher into half-width students, with and without mapping
    inheritance, for the same steps; report the teacher-student gap for the same z."""
    start = time.perf_counter()
    teacher = demo_teacher()
    images = digit_images(16)
    results: dict[str, float] = {}
    rows = [teacher.sample(8, seed=seed)]  # the same z for every row of the picture
    for inherit in (True, False):
        student = make_student(teacher, 0.5, inherit_mapping=inherit, seed=seed + 1)
        tag = "inherited" if inherit else "random"
        before = discrepancy(teacher, student, n=128, seed=seed)
        distill(StyleKD(teacher, student), images, 40, batch_size=16, seed=seed)
        after = discrepancy(teacher, student, n=128, seed=seed)
        results[f"{tag}/l1_init"] = before["l1"]
        results[f"{tag}/l1"] = after["l1"]
        results[f"{tag}/fd"] = after["fd"]
        rows.append(student.sample(8, seed=seed))
    results["seconds"] = time.perf_counter() - start
    return DemoResult(
        results,
        summary=(
            f"16-px digits teacher, half-width students, 40 steps: teacher-student L1 for the "
            f"same z {results['inherited/l1_init']:.3f} -> {results['inherited/l1']:.3f} with the "
            f"inherited mapping, {results['random/l1_init']:.3f} -> {results['random/l1']:.3f} "
            f"with a random one ({results['seconds']:.0f} s); picture rows: teacher, "
            "inherited, random, for the same z"
        ),
        headline="inherited/l1",
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
