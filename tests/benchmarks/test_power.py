"""The consistency rule's power calculation the detection benchmark reports."""

from benchmarks.power import flag_probability, smallest_detectable_share


def test_power_grows_with_the_stale_share() -> None:
    powers = [flag_probability(s, 300, 0.95) for s in (0.0, 0.05, 0.1, 0.2)]
    assert powers == sorted(powers)
    assert powers[0] == 0.0  # nothing stale: every record matches, never flagged
    assert powers[-1] > 0.999  # 20% stale: flagged


def test_smallest_detectable_share_has_the_power_it_claims() -> None:
    share = smallest_detectable_share(300, 0.95)
    assert flag_probability(share, 300, 0.95) >= 0.95
    assert flag_probability(share - 0.005, 300, 0.95) < 0.95
