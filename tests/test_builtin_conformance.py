"""Every registered component passes the conformance kit: new ones are tested when they register.

The last check of each component is the bad-input sweep (``check_rejects_bad_input``). It is
in the default run, except for the components whose sweep takes more than a few seconds on one
CPU thread (their models run for every accepted case): those are marked slow.
"""

import pytest

import xuframe
from xuframe.testing import check_rejects_bad_input, checks_for

#: Components whose sweep takes longer than a few seconds (measured on one thread).
SLOW_SWEEPS = {
    "detector/denfi",
    "detector/pillars-baseline",
    "detector/pircnn",
    "detector/pointrcnn",
    "detector/lgss",
    "detector/srdet",
    "detector/ttfnet-r18",
    "detector/votenet",
    "detector/xview-denfi",
    "detector/xview-pillars",
    "detector/xview-pointrcnn",
}


def _params() -> list:
    params = []
    for component in xuframe.list_components():
        label = f"{component.kind}/{component.name}"
        for check in checks_for(component):
            slow = check is check_rejects_bad_input and label in SLOW_SWEEPS
            marks = [pytest.mark.slow] if slow else []
            params.append(
                pytest.param(component, check, id=f"{label}-{check.__name__}", marks=marks)
            )
    return params


@pytest.mark.parametrize(("component", "check"), _params())
def test_registered_component_conforms(component, check):
    check(component)
