"""The conformance kit: check that a component keeps the documented contract of its interface.

Run it on your own components, the way xuframe runs it on every built-in one::

    from xuframe.testing import parametrize_with_checks

    @parametrize_with_checks([MyDetector])
    def test_conformance(component, check):
        check(component)

or all at once with :func:`check_component`. Strategies for property tests live in
:mod:`xuframe.testing.strategies` (needs hypothesis).
"""

from xuframe.testing._checks import Check, check_component, checks_for, parametrize_with_checks

__all__ = ["Check", "check_component", "checks_for", "parametrize_with_checks"]
