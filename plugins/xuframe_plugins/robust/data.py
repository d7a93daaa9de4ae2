"""Data for verified training: scikit-learn's bundled digits and an MNIST IDX reader.

These live in :mod:`xuframe.data` (other plugins use them too) and are re-exported here.
"""

from __future__ import annotations

from xuframe.data import ImageClassification, digits, mnist, read_idx

__all__ = ["ImageClassification", "digits", "mnist", "read_idx"]
