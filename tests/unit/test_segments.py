"""SMS segment counting: encodings, part boundaries, and characters never split."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simgate.domain.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    MAX_MESSAGE_CHARS,
    MAX_PARTS,
    SegmentInfo,
    count_segments,
    is_gsm7,
)

EMOJI = "\U0001f600"  # outside the BMP: one surrogate pair, two UTF-16 code units
PLAIN_GSM = sorted(GSM7_BASIC)


class TestAlphabet:
    """Which characters keep a message in GSM-7."""

    def test_basic_table_has_127_characters_and_extension_table_10(self) -> None:
        """128 GSM 03.38 code points minus ESC, plus the 10 extension characters."""
        assert len(GSM7_BASIC) == 127
        assert set("\f^{}\\[~]|€") == GSM7_EXTENSION
        assert not GSM7_BASIC & GSM7_EXTENSION

    @pytest.mark.parametrize(
        "text",
        [
            "Hello, world!",
            "@£$¥èéùìòÇ\nØø\rÅå",
            "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ",
            " !\"#¤%&'()*+,-./0123456789:;<=>?",
            "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà",
        ],
    )
    def test_basic_characters_are_gsm7(self, text: str) -> None:
        """The whole default alphabet encodes as GSM-7 at one septet each."""
        assert is_gsm7(text)
        assert count_segments(text) == SegmentInfo("GSM-7", 1, len(text))

    @pytest.mark.parametrize("ch", sorted("\f^{}\\[~]|€"))
    def test_extension_characters_cost_two_septets(self, ch: str) -> None:
        """Escape-table characters stay GSM-7 but take ESC + code."""
        assert count_segments(ch) == SegmentInfo("GSM-7", 1, 2)
        assert count_segments("a" + ch + "b").units == 4

    @pytest.mark.parametrize("ch", ["á", "ç", "`", "\t", "€\u0301", "Ж", "中", "ł", EMOJI])
    def test_anything_else_switches_to_ucs2(self, ch: str) -> None:
        """One character outside GSM-7 turns the whole message into UCS-2."""
        assert not is_gsm7("hello " + ch)
        assert count_segments("hello " + ch).encoding == "UCS-2"

    def test_uppercase_c_cedilla_is_gsm7_but_lowercase_is_not(self) -> None:
        """GSM 03.38 has Ç (0x09) but no ç: a classic trap."""
        assert is_gsm7("Ç")
        assert not is_gsm7("ç")

    def test_empty_text_is_one_gsm7_part(self) -> None:
        """An empty SMS is still one SMS (callers reject it before sending)."""
        assert count_segments("") == SegmentInfo("GSM-7", 1, 0)


class TestGsm7Boundaries:
    """160 septets in one SMS, 153 per part once concatenated."""

    def test_160_septets_fit_one_sms(self) -> None:
        """Exactly 160 basic characters are one part."""
        assert count_segments("a" * 160) == SegmentInfo("GSM-7", 1, 160)

    def test_161_septets_need_two_parts(self) -> None:
        """One more septet means concatenation, and the parts shrink to 153."""
        assert count_segments("a" * 161) == SegmentInfo("GSM-7", 2, 161)

    def test_two_full_parts(self) -> None:
        """306 septets fill exactly two parts of 153."""
        assert count_segments("a" * 153 * 2) == SegmentInfo("GSM-7", 2, 306)

    def test_one_septet_past_two_full_parts(self) -> None:
        """307 septets need a third part."""
        assert count_segments("a" * (153 * 2 + 1)) == SegmentInfo("GSM-7", 3, 307)

    def test_extension_chars_at_160_septets_still_fit(self) -> None:
        """80 extension characters are 160 septets: one SMS."""
        assert count_segments("€" * 80) == SegmentInfo("GSM-7", 1, 160)

    def test_extension_char_pushing_past_160_splits(self) -> None:
        """159 basic + one extension char is 161 septets: two parts."""
        assert count_segments("a" * 159 + "€") == SegmentInfo("GSM-7", 2, 161)

    def test_extension_char_is_not_split_across_parts(self) -> None:
        """With 152 septets used, a 2-septet char moves whole to the next part.

        152 + 2 + 152 = 306 septets would fit two parts of 153 if the escape sequence could be
        split; it cannot, so part 1 ends at 152 and part 2 holds 2 + 152 = 154 > 153.
        """
        text = "a" * 152 + "€" + "a" * 152
        info = count_segments(text)
        assert info.units == 306
        assert info.parts == 3

    def test_extension_char_ending_exactly_at_part_boundary(self) -> None:
        """151 + 2 septets fill part one exactly; nothing moves."""
        text = "a" * 151 + "€" + "a" * 153
        assert count_segments(text) == SegmentInfo("GSM-7", 2, 306)

    def test_all_extension_chars_fill_parts_of_152(self) -> None:
        """Only 76 two-septet chars fit in a 153-septet part, wasting one septet each."""
        assert count_segments("€" * 76 * 2).parts == 2
        assert count_segments("€" * (76 * 2 + 1)).parts == 3

    def test_longest_allowed_message_is_max_parts(self) -> None:
        """MAX_MESSAGE_CHARS basic characters make exactly MAX_PARTS parts."""
        assert MAX_PARTS == 30
        assert MAX_MESSAGE_CHARS == 4590
        assert count_segments("a" * MAX_MESSAGE_CHARS).parts == MAX_PARTS
        assert count_segments("a" * (MAX_MESSAGE_CHARS + 1)).parts == MAX_PARTS + 1


class TestUcs2Boundaries:
    """70 code units in one SMS, 67 per part once concatenated."""

    def test_70_units_fit_one_sms(self) -> None:
        """Exactly 70 BMP characters are one part."""
        assert count_segments("ж" * 70) == SegmentInfo("UCS-2", 1, 70)

    def test_71_units_need_two_parts(self) -> None:
        """One more unit means concatenation."""
        assert count_segments("ж" * 71) == SegmentInfo("UCS-2", 2, 71)

    def test_two_full_parts(self) -> None:
        """134 units fill exactly two parts of 67; one more needs a third."""
        assert count_segments("ж" * 67 * 2) == SegmentInfo("UCS-2", 2, 134)
        assert count_segments("ж" * (67 * 2 + 1)) == SegmentInfo("UCS-2", 3, 135)

    def test_emoji_counts_two_units(self) -> None:
        """A surrogate pair is two UTF-16 code units."""
        assert count_segments(EMOJI) == SegmentInfo("UCS-2", 1, 2)
        assert count_segments(EMOJI * 35) == SegmentInfo("UCS-2", 1, 70)
        assert count_segments(EMOJI * 35 + "a") == SegmentInfo("UCS-2", 2, 71)

    def test_emoji_is_not_split_across_parts(self) -> None:
        """With 66 units used, an emoji moves whole to the next part.

        66 + 2 + 66 = 134 units would fit two parts of 67 if the pair could be split.
        """
        text = "ж" * 66 + EMOJI + "ж" * 66
        info = count_segments(text)
        assert info.units == 134
        assert info.parts == 3

    def test_emoji_ending_exactly_at_part_boundary(self) -> None:
        """65 + 2 units fill part one exactly; nothing moves."""
        text = "ж" * 65 + EMOJI + "ж" * 67
        assert count_segments(text) == SegmentInfo("UCS-2", 2, 134)

    def test_gsm_extension_char_in_ucs2_text_costs_one_unit(self) -> None:
        """In UCS-2 '€' is an ordinary BMP character: no escape needed."""
        assert count_segments("€ж") == SegmentInfo("UCS-2", 1, 2)

    def test_units_match_utf16_length(self) -> None:
        """units equals the UTF-16 encoded length, emoji and all."""
        text = "Привет 👋🏽 мир 🇧🇪"
        assert count_segments(text).units == len(text.encode("utf-16-le")) // 2


def test_segment_info_is_frozen() -> None:
    """Results are values: they cannot be altered after the fact."""
    info = count_segments("hi")
    with pytest.raises(AttributeError):
        info.parts = 5  # type: ignore[misc]


@given(st.text(alphabet=PLAIN_GSM, max_size=2000))
def test_plain_gsm_parts_are_the_tightest_fit(text: str) -> None:
    """Without 2-septet chars, parts is exactly enough capacity and never one too many."""
    info = count_segments(text)
    assert info.encoding == "GSM-7"
    assert info.units == len(text)
    capacity = 160 if info.parts == 1 else 153
    assert info.parts * capacity >= info.units
    assert (info.parts - 1) * capacity < max(info.units, 1)
    if info.units > 160:
        assert info.parts == math.ceil(info.units / 153)


@given(st.text(alphabet=PLAIN_GSM + sorted(GSM7_EXTENSION), max_size=1000))
def test_gsm_with_extension_chars_never_uses_fewer_parts(text: str) -> None:
    """Extension chars can only add parts compared with a perfect fill."""
    info = count_segments(text)
    assert info.encoding == "GSM-7"
    assert info.units == sum(2 if c in GSM7_EXTENSION else 1 for c in text)
    if info.units > 160:
        assert math.ceil(info.units / 153) <= info.parts <= math.ceil(info.units / 152)


@given(st.text(min_size=1, max_size=500).filter(lambda t: not is_gsm7(t)))
def test_ucs2_units_and_parts_are_consistent(text: str) -> None:
    """UCS-2 units are UTF-16 code units and parts hold at most 67 of them."""
    info = count_segments(text)
    assert info.encoding == "UCS-2"
    assert info.units == len(text.encode("utf-16-le", "surrogatepass")) // 2
    if info.units <= 70:
        assert info.parts == 1
    else:
        assert math.ceil(info.units / 67) <= info.parts <= math.ceil(info.units / 66)
