"""Built-in plugin ``stylekd``: StyleGAN2 in plain PyTorch (the generator ``stylegan2``,
:class:`~.generator.StyleGAN2`, with its discriminator and a loader for rosinality-layout
checkpoints) and "Mind the Gap in Distilling StyleGANs" (Xu, Hou, Liu, Loy, ECCV 2022), the
distiller ``stylekd`` (:class:`~.distill.StyleKD`); training and the teacher-student gap in
:mod:`.training`.
"""

from xuframe import Registry, hookimpl
from xuframe_plugins.stylekd.distill import (
    StyleKD,
    direction_similarity_loss,
    latent_directions,
    make_student,
    mixed_codes,
    r1_penalty,
)
from xuframe_plugins.stylekd.generator import (
    StyleGAN2,
    from_rosinality,
    load_rosinality,
    to_rosinality,
)
from xuframe_plugins.stylekd.stylegan2 import (
    Discriminator,
    EqualConv2d,
    EqualLinear,
    ModulatedConv2d,
)

__all__ = [
    "Discriminator",
    "EqualConv2d",
    "EqualLinear",
    "ModulatedConv2d",
    "StyleGAN2",
    "StyleKD",
    "direction_similarity_loss",
    "from_rosinality",
    "latent_directions",
    "load_rosinality",
    "make_student",
    "mixed_codes",
    "r1_penalty",
    "to_rosinality",
]


@hookimpl
def xuframe_register(registry: Registry) -> None:
    registry.add(StyleGAN2)
    registry.add(StyleKD)
