"""Every registered component passes the conformance kit: new ones are tested when they register."""

import xuframe
from xuframe.testing import parametrize_with_checks


@parametrize_with_checks(xuframe.list_components())
def test_registered_component_conforms(component, check):
    check(component)
