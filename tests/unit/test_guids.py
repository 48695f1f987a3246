"""Message GUIDs: 40 lowercase hex characters, random, and checked strictly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from simgate.domain.guids import GUID_LENGTH, GUID_RE, is_guid, new_guid


def test_new_guid_is_forty_lowercase_hex_characters() -> None:
    """The shape matches what clients store and what is_guid accepts."""
    guid = new_guid()
    assert len(guid) == GUID_LENGTH == 40
    assert set(guid) <= set("0123456789abcdef")
    assert is_guid(guid)
    assert GUID_RE.match(guid)


def test_new_guids_do_not_repeat() -> None:
    """160 random bits: a thousand draws never collide."""
    assert len({new_guid() for _ in range(1000)}) == 1000


def test_is_guid_rejects_wrong_lengths() -> None:
    """One character too few or too many is not a GUID."""
    assert not is_guid("a" * 39)
    assert not is_guid("a" * 41)
    assert not is_guid("")


def test_is_guid_rejects_uppercase() -> None:
    """Only one spelling per GUID, so uppercase is refused."""
    assert not is_guid("A" * 40)
    assert not is_guid("0123456789ABCDEF" + "0" * 24)


def test_is_guid_rejects_non_hex_characters() -> None:
    """g-z, dashes and spaces are not hex."""
    assert not is_guid("g" * 40)
    assert not is_guid("0" * 39 + "-")
    assert not is_guid(" " + "0" * 39)


def test_is_guid_rejects_trailing_newline() -> None:
    """A trailing newline must not sneak through as a regex ``$`` would allow."""
    assert not is_guid("0" * 40 + "\n")


@given(st.text(alphabet="0123456789abcdef", min_size=40, max_size=40))
def test_any_forty_lowercase_hex_string_is_a_guid(value: str) -> None:
    """is_guid accepts exactly the shape, not only strings new_guid produced."""
    assert is_guid(value)


@given(st.text(max_size=60))
def test_is_guid_matches_its_definition(value: str) -> None:
    """For arbitrary text, is_guid is exactly "40 chars, all lowercase hex"."""
    expected = len(value) == 40 and all(c in "0123456789abcdef" for c in value)
    assert is_guid(value) == expected
