"""Parsing the ``recipients`` parameter into E.164 numbers."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simgate.domain.errors import InvalidParameter, MissingParameter
from simgate.domain.recipients import (
    MAX_E164_DIGITS,
    Recipient,
    normalize_number,
    parse_recipients,
    split_recipients,
)

BE_MOBILE = "+32470123456"
FR_MOBILE = "+33612345678"
FICTIONAL_US = "+15551234567"  # possible (right length) but not valid: 555 is fictional


class TestSplit:
    """Separators, stripping, and the lost-plus rule."""

    def test_single_number(self) -> None:
        """One number is one piece."""
        assert split_recipients("+32470123456") == ["+32470123456"]

    def test_commas_and_semicolons_both_separate(self) -> None:
        """Clients use either separator, sometimes both."""
        assert split_recipients("1,2;3") == ["1", "2", "3"]

    def test_newlines_and_tabs_separate_like_commas(self) -> None:
        """A column pasted from a spreadsheet; spaces inside one number stay."""
        assert split_recipients("0470 12 34 56\r\n0471123456\n\t+32 472 11 22 33\n") == [
            "0470 12 34 56",
            "0471123456",
            "+32 472 11 22 33",
        ]

    def test_whitespace_is_stripped_and_empty_pieces_dropped(self) -> None:
        """Trailing separators and blank pieces are noise, not numbers."""
        assert split_recipients(" 0470 12 34 56 ,, ;  ;0471\t,") == ["0470 12 34 56", "0471"]

    def test_empty_or_blank_input_gives_no_pieces(self) -> None:
        """Nothing to send to is an empty list (parse_recipients turns it into an error)."""
        assert split_recipients("") == []
        assert split_recipients("  ,; , ") == []

    def test_leading_space_before_digit_means_lost_plus(self) -> None:
        """An unencoded '+32470...' arrives as ' 32470...' and gets its plus back."""
        assert split_recipients(" 32470123456") == ["+32470123456"]
        assert split_recipients("   32470123456") == ["+32470123456"]

    def test_lost_plus_applies_to_every_piece_when_the_first_shows_it(self) -> None:
        """A client that lost one plus lost them all: '+a,+b' arrives as ' a, b'."""
        assert split_recipients(" 32470123456, 33612345678; 447400123456") == [
            "+32470123456",
            "+33612345678",
            "+447400123456",
        ]

    def test_space_after_comma_is_cosmetic_when_first_piece_has_no_lost_plus(self) -> None:
        """'a, b' typed by a human keeps b as written (it may be a national number)."""
        assert split_recipients("0470123456, 0471234567") == ["0470123456", "0471234567"]
        assert split_recipients("2025550123, 2025550124") == ["2025550123", "2025550124"]
        assert split_recipients("+32470123456, 33612345678") == [
            "+32470123456",
            "33612345678",
        ]

    def test_leading_space_before_zero_is_not_a_plus(self) -> None:
        """No country code starts with 0, so ' 0470...' is a national number with a space."""
        assert split_recipients(" 0470123456") == ["0470123456"]
        assert split_recipients(" 32470123456, 0471234567") == ["+32470123456", "0471234567"]

    def test_leading_tab_or_non_digit_is_just_stripped(self) -> None:
        """Only spaces directly followed by a digit stand for a lost plus."""
        assert split_recipients("\t32470123456") == ["32470123456"]
        assert split_recipients(" (0470) 12") == ["(0470) 12"]
        assert split_recipients(" +32470123456") == ["+32470123456"]


class TestNormalizeAccepts:
    """Every spelling a client may reasonably send ends up as the same E.164 number."""

    @pytest.mark.parametrize(
        ("raw", "region", "expected"),
        [
            ("+32470123456", "BE", BE_MOBILE),
            ("+32470123456", "US", BE_MOBILE),
            ("0032470123456", "BE", BE_MOBILE),
            ("0032470123456", "US", BE_MOBILE),  # US dials abroad with 011, 00 still works
            ("0470123456", "BE", BE_MOBILE),
            ("0470 12 34 56", "BE", BE_MOBILE),
            ("0470.12.34.56", "BE", BE_MOBILE),
            ("0470-12-34-56", "BE", BE_MOBILE),
            ("(0470) 12 34 56", "BE", BE_MOBILE),
            ("+32 (0)470 12 34 56", "BE", BE_MOBILE),
            ("+32 470 12-34.56", "FR", BE_MOBILE),
            ("32470123456", "BE", BE_MOBILE),
            ("32470123456", "FR", BE_MOBILE),
            ("33612345678", "BE", FR_MOBILE),
            ("0612345678", "FR", FR_MOBILE),
            ("447400123456", "BE", "+447400123456"),
            ("07400 123456", "GB", "+447400123456"),
            ("+1 (202) 555-0123", "BE", "+12025550123"),
            ("(202) 555-0123", "US", "+12025550123"),
            ("12025550123", "BE", "+12025550123"),
            ("  +32470123456  ", "BE", BE_MOBILE),
            ("0470123456", "be", BE_MOBILE),  # region code case does not matter
        ],
    )
    def test_spelling(self, raw: str, region: str, expected: str) -> None:
        """International, 00-prefixed, national, digits-only and punctuated forms."""
        assert normalize_number(raw, region) == expected

    def test_fictional_but_possible_number_is_accepted(self) -> None:
        """Possible-but-not-valid numbers pass: metadata lags behind new number ranges."""
        number = phonenumbers.parse(FICTIONAL_US)
        assert phonenumbers.is_possible_number(number)
        assert not phonenumbers.is_valid_number(number)
        assert normalize_number(FICTIONAL_US, "BE") == FICTIONAL_US

    def test_digits_only_international_needs_a_valid_number(self) -> None:
        """'15551234567' is not a Belgian number, and +1 555 123 4567 is only possible (555 is
        fictional): without its +, it is refused rather than guessed; with it, accepted."""
        with pytest.raises(InvalidParameter, match=r"region BE .* \+ and its country code"):
            normalize_number("15551234567", "BE")
        assert normalize_number("+15551234567", "BE") == FICTIONAL_US

    def test_a_national_number_of_another_country_is_not_sent_to_brazil(self) -> None:
        """Issue 14: '5551234567' with region BE went to +55 51 234567 (Brazil, possible but
        not valid). It is neither a Belgian number nor a valid international one: refused,
        naming the region it was read in."""
        with pytest.raises(InvalidParameter, match="region BE"):
            normalize_number("5551234567", "BE")

    def test_a_possible_national_number_wins_over_a_valid_international_reading(self) -> None:
        """Without +, the default region comes first: '2025550123' in the US is American."""
        assert normalize_number("2025550123", "US") == "+12025550123"

    def test_valid_reading_wins_over_merely_possible_one(self) -> None:
        """When both readings parse, the one the metadata knows as valid is chosen."""
        # As a Belgian national number "32470123456" is too long; as +32... it is valid.
        assert normalize_number("32470123456", "BE") == BE_MOBILE

    def test_unknown_default_region_reads_digits_as_international(self) -> None:
        """With no usable default region, digits-only input can only be international."""
        assert normalize_number("32470123456", "ZZ") == BE_MOBILE


class TestNormalizeRejects:
    """Inputs that cannot be turned into a number an SMS can reach."""

    @pytest.mark.parametrize(
        "raw",
        [
            "",
            "   ",
            "abc",
            "+32470ABC456",
            "1-800-FLOWERS",
            "+32470123456 ext. 12",
            "+32470123456#",
            "tel:+32470123456",
            "+32 470/12 34 56",
            "++32470123456",
            "32+470123456",
            "٠٤٧٠١٢٣٤٥٦",  # Arabic-Indic digits: refused rather than guessed
        ],
    )
    def test_malformed_input(self, raw: str) -> None:
        """Empty strings, letters and symbols outside digits/space/.-() are refused."""
        with pytest.raises(InvalidParameter) as info:
            normalize_number(raw, "BE")
        assert info.value.extra == {"parameter": "recipients"}
        assert info.value.message.startswith("Invalid parameter recipients: ")

    @pytest.mark.parametrize("raw", ["+3247012345678901", "1234567890123456", "001234567890123456"])
    def test_more_than_fifteen_digits(self, raw: str) -> None:
        """E.164 numbers have at most 15 digits including the country code."""
        with pytest.raises(InvalidParameter, match="more than 15 digits"):
            normalize_number(raw, "BE")

    @pytest.mark.parametrize(
        ("raw", "region"),
        [
            ("+3247", "BE"),  # too short
            ("047012", "BE"),
            ("+999123456789", "BE"),  # unassigned country code
            ("0470123456", "ZZ"),  # national number without a region
            ("5550123", "US"),  # local number missing its area code
            ("+0470123456", "BE"),
        ],
    )
    def test_impossible_numbers(self, raw: str, region: str) -> None:
        """Numbers with no complete, possible E.164 reading are refused."""
        with pytest.raises(InvalidParameter, match="not a possible phone number"):
            normalize_number(raw, region)

    def test_error_message_quotes_and_truncates_the_input(self) -> None:
        """The reason names the bad input, but a huge input cannot bloat the reply."""
        with pytest.raises(InvalidParameter) as info:
            normalize_number("x" * 10_000, "BE")
        assert "'xxxxx" in info.value.message
        assert len(info.value.message) < 200


class TestRecipient:
    """The per-number result value."""

    def test_ok_recipient(self) -> None:
        """An accepted number has e164 and no error."""
        r = Recipient(raw="0470123456", e164=BE_MOBILE, error=None)
        assert r.ok

    def test_failed_recipient(self) -> None:
        """A refused number has an error and no e164."""
        r = Recipient(raw="abc", e164=None, error="bad")
        assert not r.ok

    @pytest.mark.parametrize(("e164", "error"), [(None, None), (BE_MOBILE, "bad")])
    def test_exactly_one_of_e164_and_error(self, e164: str | None, error: str | None) -> None:
        """Neither or both would make the result ambiguous."""
        with pytest.raises(ValueError, match="exactly one of e164 and error"):
            Recipient(raw="x", e164=e164, error=error)

    def test_is_frozen(self) -> None:
        """Results are values and cannot be altered."""
        r = Recipient(raw="x", e164=BE_MOBILE, error=None)
        with pytest.raises(AttributeError):
            r.e164 = None  # type: ignore[misc]


class TestParseRecipients:
    """Splitting, per-recipient errors, de-duplication and limits together."""

    def test_mixed_list(self) -> None:
        """Good numbers are normalised and bad ones carry their own error, in order."""
        result = parse_recipients("0470123456; abc, +33612345678", "BE")
        assert [r.raw for r in result] == ["0470123456", "abc", "+33612345678"]
        assert [r.e164 for r in result] == [BE_MOBILE, None, FR_MOBILE]
        assert [r.ok for r in result] == [True, False, True]
        assert result[1].error is not None
        assert "not part of a phone number" in result[1].error

    def test_bad_numbers_do_not_raise(self) -> None:
        """Even when every number is bad the caller gets results, not an exception."""
        result = parse_recipients("abc,123", "BE")
        assert len(result) == 2
        assert not any(r.ok for r in result)

    def test_duplicates_in_any_spelling_are_kept_once_at_first_position(self) -> None:
        """Nobody gets the same SMS twice from one request."""
        raw = "0470 12 34 56, +33612345678, +32470123456, 0032470123456, 32470123456"
        result = parse_recipients(raw, "BE")
        assert [r.e164 for r in result] == [BE_MOBILE, FR_MOBILE]
        assert result[0].raw == "0470 12 34 56"

    def test_refused_pieces_are_all_kept(self) -> None:
        """Each bad piece is reported, even if it repeats."""
        result = parse_recipients("abc,abc", "BE")
        assert [r.raw for r in result] == ["abc", "abc"]

    def test_lost_plus_list(self) -> None:
        """An unencoded '+32470123456,+15551234567' still reaches both numbers."""
        result = parse_recipients(" 32470123456, 15551234567", "FR")
        assert [r.e164 for r in result] == [BE_MOBILE, FICTIONAL_US]

    @pytest.mark.parametrize("raw", ["", "   ", ",;,", " ; "])
    def test_no_pieces_is_a_missing_parameter(self, raw: str) -> None:
        """A recipients value with nothing in it counts as not given."""
        with pytest.raises(MissingParameter) as info:
            parse_recipients(raw, "BE")
        assert info.value.extra == {"parameter": "recipients"}
        assert info.value.message == "Missing required parameter: recipients"

    def test_max_count_is_inclusive(self) -> None:
        """Exactly max_count pieces are accepted."""
        raw = ",".join(f"+3247012345{i}" for i in range(5))
        assert len(parse_recipients(raw, "BE", max_count=5)) == 5

    def test_more_than_max_count_is_refused(self) -> None:
        """One piece too many fails the whole request, before any parsing."""
        raw = ",".join(["abc"] * 6)
        with pytest.raises(InvalidParameter) as info:
            parse_recipients(raw, "BE", max_count=5)
        assert info.value.message == "Invalid parameter recipients: at most 5 numbers per request"
        assert info.value.extra == {"parameter": "recipients"}

    def test_max_count_counts_pieces_before_deduplication(self) -> None:
        """The limit is on what the client sent, not on what remains after de-duplication."""
        with pytest.raises(InvalidParameter):
            parse_recipients(",".join([BE_MOBILE] * 3), "BE", max_count=2)

    def test_default_max_count_is_1000(self) -> None:
        """Up to 1000 numbers per request by default."""
        ok = ",".join(["abc"] * 1000)
        assert len(parse_recipients(ok, "BE")) == 1000
        with pytest.raises(InvalidParameter, match="at most 1000"):
            parse_recipients(ok + ",abc", "BE")


REGIONS = ["BE", "FR", "DE", "GB", "US", "NL", "ES", "IT", "IN", "BR", "JP", "AU", "ZA", "NG"]
TYPES = [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]


def _example(region: str, kind: int) -> phonenumbers.PhoneNumber:
    number = phonenumbers.example_number_for_type(region, kind)
    assert number is not None
    return number


@given(
    region=st.sampled_from(REGIONS),
    kind=st.sampled_from(TYPES),
    default_region=st.sampled_from([*REGIONS, "ZZ"]),
)
def test_example_numbers_normalise_to_themselves(
    region: str, kind: int, default_region: str
) -> None:
    """Any valid number in E.164, international or 00 form normalises to its E.164 form.

    Whatever the default region, an explicit international spelling is never reinterpreted;
    a national spelling works in its own region; and digits-only works without a region.
    """
    number = _example(region, kind)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    intl = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    assert len(e164) - 1 <= MAX_E164_DIGITS
    assert normalize_number(e164, default_region) == e164
    assert normalize_number(intl, default_region) == e164
    assert normalize_number("00" + e164[1:], default_region) == e164
    assert normalize_number(national, region) == e164
    assert normalize_number(e164[1:], "ZZ") == e164
    assert parse_recipients(f" {e164[1:]},{intl};{e164}", default_region) == [
        Recipient(raw=f"+{e164[1:]}", e164=e164, error=None)
    ]


@given(st.text(max_size=40), st.sampled_from(["BE", "US", "ZZ"]))
def test_normalize_either_returns_e164_or_raises_invalid_parameter(raw: str, region: str) -> None:
    """No input crashes: the result is a '+digits' string of at most 15 digits, or a 400."""
    try:
        e164 = normalize_number(raw, region)
    except InvalidParameter:
        return
    assert e164.startswith("+")
    assert e164[1:].isdigit()
    assert e164[1:].isascii()
    assert 1 <= len(e164) - 1 <= MAX_E164_DIGITS
    assert normalize_number(e164, region) == e164


@given(st.text(alphabet=st.sampled_from("0123456789+ ,;.-()ab"), max_size=80))
def test_parse_recipients_never_crashes_and_never_duplicates(raw: str) -> None:
    """Arbitrary input yields per-recipient results with unique E.164 numbers, or a 400."""
    try:
        result = parse_recipients(raw, "BE")
    except (MissingParameter, InvalidParameter):
        return
    numbers = [r.e164 for r in result if r.e164 is not None]
    assert len(numbers) == len(set(numbers))
    assert all((r.e164 is None) != (r.error is None) for r in result)
