"""The abstract interfaces every component implements (re-exported from :mod:`xuframe`)."""

from xuframe.interfaces._component import Component
from xuframe.interfaces._interfaces import Detector, Distiller, Generator, Solver, Verifier

#: The interfaces a registered component must subclass exactly one of.
INTERFACES: tuple[type[Component], ...] = (Generator, Detector, Distiller, Verifier, Solver)

__all__ = ["Component", "Generator", "Detector", "Distiller", "Verifier", "Solver", "INTERFACES"]
