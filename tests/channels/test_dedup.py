"""The in-memory "seen recently" set behind Slack retry de-duplication."""

import pytest

from channels.dedup import RecentKeys


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_new_once_within_the_ttl_and_new_again_after_it() -> None:
    clock = FakeClock()
    seen = RecentKeys(ttl_seconds=60, max_entries=10, clock=clock)

    assert seen.add("Ev1") is True
    clock.now += 59
    assert seen.add("Ev1") is False
    clock.now += 2  # the TTL counts from the first sighting
    assert "Ev1" not in seen
    assert seen.add("Ev1") is True


def test_the_oldest_keys_are_forgotten_beyond_max_entries() -> None:
    clock = FakeClock()
    seen = RecentKeys(ttl_seconds=60, max_entries=3, clock=clock)
    for key in ["a", "b", "c", "d"]:
        clock.now += 1
        assert seen.add(key)

    assert len(seen) == 3
    assert "a" not in seen and all(k in seen for k in "bcd")


@pytest.mark.parametrize("ttl, size", [(0, 10), (-1, 10), (10, 0)])
def test_nonsense_limits_are_rejected(ttl: float, size: int) -> None:
    with pytest.raises(ValueError):
        RecentKeys(ttl_seconds=ttl, max_entries=size)
