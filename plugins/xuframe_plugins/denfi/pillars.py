"""The BEV trunk, now shared in :mod:`xuframe.nn` (``BevGrid``, ``PillarEncoder``,
``BevBackbone``); re-exported here so that ``xuframe_plugins.denfi.pillars`` keeps working."""

from __future__ import annotations

from xuframe.nn import BevBackbone, BevGrid, PillarEncoder

__all__ = ["BevBackbone", "BevGrid", "PillarEncoder"]
