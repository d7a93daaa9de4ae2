"""Datasets: format readers and seeded synthetic generators.

Nothing here downloads anything: data is generated from a seed or read from files you have.
Readers for COCO, KITTI, ScanNet-style and shot-feature layouts arrive with the plugins that
need them.
"""

from xuframe.data._blobs import make_blobs

__all__ = ["make_blobs"]
