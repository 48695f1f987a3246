"""De-duplication keys of device frames are unique per frame id and fit their column."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from simgate.domain.framekeys import MAX_KEY_LENGTH, frame_key

IDS = st.text(min_size=1, max_size=128)


class TestFrameKey:
    def test_two_long_ids_with_a_common_prefix_get_two_keys(self) -> None:
        first, second = "a" * 127 + "1", "a" * 127 + "2"
        assert frame_key(7, first) != frame_key(7, second)

    def test_a_short_id_keeps_the_key_earlier_versions_stored(self) -> None:
        assert frame_key(7, "abc") == "7:abc"

    @given(st.integers(min_value=1, max_value=2**63 - 1), IDS, IDS)
    def test_keys_fit_the_column_and_differ_for_different_ids(
        self, device_id: int, one: str, two: str
    ) -> None:
        assert len(frame_key(device_id, one)) <= MAX_KEY_LENGTH
        assert (frame_key(device_id, one) == frame_key(device_id, two)) == (one == two)

    @given(
        st.integers(min_value=1, max_value=10**6), st.integers(min_value=1, max_value=10**6), IDS
    )
    def test_keys_of_different_devices_differ(self, one: int, two: int, frame_id: str) -> None:
        assert (frame_key(one, frame_id) == frame_key(two, frame_id)) == (one == two)
