"""Shared tensor kernels. Each kernel lives here once and every plugin calls it.

IoU, Gaussian targets, voxelization and peak extraction arrive with the plugins that need them.
"""

from xuframe.ops._scatter import Reduce, ScatterBackend, has_torch_scatter, scatter

__all__ = ["Reduce", "ScatterBackend", "has_torch_scatter", "scatter"]
