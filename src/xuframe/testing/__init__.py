"""The conformance kit: check that a component keeps the documented contract of its interface.

Run it on your own components, the way xuframe runs it on every built-in one::

    from xuframe.testing import parametrize_with_checks

    @parametrize_with_checks([MyDetector])
    def test_conformance(component, check):
        check(component)

or all at once with :func:`check_component`. The last check,
:func:`check_rejects_bad_input`, sweeps the component's entry points with a table of bad
values (wrong type, NaN, inf, empty, wrong ndim or dtype, huge) and requires an
``xuframe.errors`` exception (or a result without NaN) within a time and memory bound. Strategies for property tests live in
:mod:`xuframe.testing.strategies` (needs hypothesis).
"""

from xuframe.testing._bad_input import check_rejects_bad_input
from xuframe.testing._checks import Check, check_component, checks_for, parametrize_with_checks

__all__ = [
    "Check",
    "check_component",
    "check_rejects_bad_input",
    "checks_for",
    "parametrize_with_checks",
]
