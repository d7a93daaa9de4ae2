"""The plugin's own tests: xuframe's conformance kit on its component."""

from xuframe_threshold import ThresholdSegmenter

from xuframe.testing import parametrize_with_checks


@parametrize_with_checks([ThresholdSegmenter])
def test_conformance(component, check):
    check(component)
