"""The parameter parsers of the HTTP API, as pure functions: whatever text a client sends, each
parser gives a value or a 400 (``InvalidParameter``/``MissingParameter``), never another
exception (which would be a 500)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from simgate.api import conversations, frommobile, gateway, inbox, sms
from simgate.api.params import (
    MAX_INTEGER_DIGITS,
    MAX_SEARCH_CHARS,
    Params,
    declared_too_large,
    parse_integer,
)
from simgate.domain.errors import InvalidParameter, MissingParameter
from simgate.services.sent_log import DeleteQuery, LogQuery

#: What a 400 is made of; anything else raised by a parser is a 500.
CLEAN = (InvalidParameter, MissingParameter)

#: Characters that trip naive parsers: digits ``int`` refuses ("²", "٣", full-width one), signs,
#: separators ``int`` accepts ("_"), white space of several kinds, date and GUID material.
TRICKY = "0123456789-+_ .,:T\t\n\u00a0\u2003²³¹٣\uff11a-fA-FxXeE"
values = st.one_of(
    st.text(alphabet=TRICKY, max_size=30),
    st.text(max_size=30),
    st.sampled_from(
        ["--5", "²", "-", "-0", "+5", "1_000", "٣", "\uff11", "9" * 40, "-" + "9" * 19]
    ),
    st.builds(str, st.integers()),
    st.just("a" * (MAX_SEARCH_CHARS + 1)),
)


def params_of(names: list[str]) -> st.SearchStrategy[Params]:
    """Params holding any subset of ``names``, each with any value."""
    return st.dictionaries(st.sampled_from(names), values).map(Params)


def value_or_400(parse: Callable[[], Any]) -> Any:
    try:
        return parse()
    except CLEAN as exc:
        return exc


class TestParseInteger:
    @given(values)
    @example("--5")
    @example("²")
    def test_any_text_is_a_number_or_invalid_parameter(self, value: str) -> None:
        value_or_400(lambda: parse_integer("n", value))

    @given(st.integers(min_value=-(10**18), max_value=10**18))
    def test_every_whole_number_in_ascii_digits_is_read_back(self, number: int) -> None:
        assert parse_integer("n", str(number)) == number

    @pytest.mark.parametrize(
        "value", ["--5", "²", "٣", "\uff11", "+5", "1_000", "5 ", "-", "", "1e3", "9" * 20]
    )
    def test_spellings_int_would_read_or_crash_on_are_refused(self, value: str) -> None:
        with pytest.raises(InvalidParameter):
            parse_integer("n", value)

    def test_the_longest_accepted_spelling(self) -> None:
        assert parse_integer("n", "9" * MAX_INTEGER_DIGITS) == int("9" * MAX_INTEGER_DIGITS)
        assert parse_integer("n", "-" + "9" * MAX_INTEGER_DIGITS) < 0

    @given(st.integers(-1000, 1000))
    def test_bounds_are_inclusive(self, number: int) -> None:
        parsed = value_or_400(lambda: parse_integer("n", str(number), minimum=0, maximum=10))
        assert (parsed == number) if 0 <= number <= 10 else isinstance(parsed, InvalidParameter)


class TestParams:
    @given(values)
    @example("--5")
    @example("²")
    def test_integer_gives_a_number_or_invalid_parameter(self, value: str) -> None:
        value_or_400(lambda: Params({"n": value}).integer("n", minimum=0, maximum=4_102_444_800))

    @pytest.mark.parametrize("value", ["--5", "²"])
    def test_integer_refuses_what_isdigit_accepted(self, value: str) -> None:
        """Before the strict rule these raised ValueError in ``int`` (a 500)."""
        with pytest.raises(InvalidParameter):
            Params({"schedule_timestamp": value}).integer("schedule_timestamp")

    def test_surrounding_white_space_is_ignored(self) -> None:
        assert Params({"n": " 42 "}).integer("n") == 42

    @given(values)
    def test_choice_gives_a_meaning_or_invalid_parameter(self, value: str) -> None:
        parsed = value_or_400(lambda: Params({"c": value}).choice("c", {"0": False, "1": True}))
        assert parsed in (None, False, True) or isinstance(parsed, InvalidParameter)

    @given(values)
    def test_search_is_bounded(self, value: str) -> None:
        parsed = value_or_400(lambda: Params({"q": value}).search("q"))
        if isinstance(parsed, str):
            assert len(parsed) <= MAX_SEARCH_CHARS

    def test_a_100_kb_search_is_refused(self) -> None:
        with pytest.raises(InvalidParameter, match=str(MAX_SEARCH_CHARS)):
            Params({"keyword": "%_" * 50_000}).search("keyword")


class TestDeclaredLength:
    @given(st.one_of(st.none(), values))
    @example("²")
    def test_any_header_value_is_an_answer(self, value: str | None) -> None:
        assert declared_too_large(value, 1024) in (True, False)

    @pytest.mark.parametrize(
        ("header", "too_large"),
        [("1025", True), ("1024", False), (" 2048 ", True), ("²", False), ("1e9", False)],
    )
    def test_only_a_well_formed_length_counts(self, header: str, too_large: bool) -> None:
        assert declared_too_large(header, 1024) is too_large


SEND = [
    "recipients",
    "message",
    "schedule_timestamp",
    "port",
    "sIdentifiant",
    "sendsms",
    "sendwa",
    "waonly",
    "shorturl",
    "encrypt_message",
]
LOG = ["before", "guid_message", "error_api", "error_mobile", "keyword", "limit"]
DELETE = ["guid_message", "date_start", "date_end"]
INBOX = ["sIdentifiantPhone", "after_timestamp_unix", "onlyunread", "guid", "guid_message"]
FROM_MOBILE = [
    "date",
    "date_from",
    "date_to",
    "period",
    "sIdentifiant",
    "number",
    "message",
    "search",
    "sort_by",
    "sort_order",
    "limit",
]
CONVERSATIONS = [
    "origineConversation",
    "numero",
    "date_from",
    "date_to",
    "sort",
    "limit",
    "resume",
    "resume_line_how",
]


class TestSendingParsers:
    @given(params_of(SEND))
    @example(Params({"recipients": "+32470000000", "message": "hi", "schedule_timestamp": "--5"}))
    @example(Params({"recipients": "+32470000000", "message": "hi", "schedule_timestamp": "²"}))
    def test_send_request(self, params: Params) -> None:
        value_or_400(lambda: sms.send_request(params, "BE"))

    @given(params_of(["sendsms", "sendwa", "waonly"]))
    def test_channel_of(self, params: Params) -> None:
        parsed = value_or_400(lambda: sms.channel_of(params))
        assert parsed in ("sms", "whatsapp", "both") or isinstance(parsed, InvalidParameter)

    @given(params_of(["guid"]))
    def test_guid_param(self, params: Params) -> None:
        parsed = value_or_400(lambda: sms.guid_param(params, "guid"))
        if isinstance(parsed, str):
            assert len(parsed) == 40
            assert parsed == parsed.lower()

    @given(params_of(["day"]))
    @example(Params({"day": "9999-12-31"}))
    @example(Params({"day": "2024-02-30"}))
    def test_day_param(self, params: Params) -> None:
        parsed = value_or_400(lambda: sms.day_param(params, "day"))
        assert parsed is None or isinstance(parsed, date | InvalidParameter)

    @given(params_of(LOG))
    @example(Params({"before": "--5"}))
    @example(Params({"keyword": "%" * 100_000}))
    def test_log_query(self, params: Params) -> None:
        parsed = value_or_400(lambda: sms.log_query(params))
        if isinstance(parsed, LogQuery) and parsed.keyword is not None:
            assert len(parsed.keyword) <= MAX_SEARCH_CHARS

    @given(params_of(DELETE))
    def test_delete_query_never_selects_nothing(self, params: Params) -> None:
        parsed = value_or_400(lambda: sms.delete_query(params))
        if isinstance(parsed, DeleteQuery):
            assert parsed.guid is not None or parsed.first_day is not None


class TestReceivingParsers:
    @given(params_of(INBOX))
    @example(Params({"after_timestamp_unix": "²"}))
    def test_inbox_query(self, params: Params) -> None:
        value_or_400(lambda: inbox.inbox_query(params))

    @given(params_of(INBOX))
    def test_guid_of(self, params: Params) -> None:
        value_or_400(lambda: inbox.guid_of(params, "guid"))

    @given(params_of(FROM_MOBILE))
    @example(Params({"date": "0000-01-01"}))
    @example(Params({"limit": "--5"}))
    @example(Params({"search": "x" * 100_000}))
    def test_frommobile_query(self, params: Params) -> None:
        value_or_400(lambda: frommobile.query_of(params))

    @given(params_of(["d"]))
    def test_day_of(self, params: Params) -> None:
        parsed = value_or_400(lambda: frommobile.day_of(params, "d"))
        assert parsed is None or isinstance(parsed, date | InvalidParameter)

    @given(params_of(["o"]), st.booleans())
    def test_descending_of(self, params: Params, default: bool) -> None:
        value_or_400(lambda: frommobile.descending_of(params, "o", default=default))


class TestConversationParsers:
    @given(params_of(CONVERSATIONS))
    @example(Params({"origineConversation": "sent", "date_from": "2024-13-01 10:00:00"}))
    @example(Params({"origineConversation": "sent", "resume_line_how": "²", "resume": "1"}))
    @example(Params({"origineConversation": "sent", "numero": "1" * 100_000}))
    def test_conversation_query(self, params: Params) -> None:
        value_or_400(lambda: conversations.query_of(params))

    @given(params_of(["m"]))
    def test_moment_of(self, params: Params) -> None:
        parsed = value_or_400(lambda: conversations.moment_of(params, "m"))
        assert parsed is None or isinstance(parsed, date | datetime | InvalidParameter)

    @given(params_of(["origineConversation"]))
    def test_origin_of(self, params: Params) -> None:
        parsed = value_or_400(lambda: conversations.origin_of(params))
        assert parsed in ("received", "sent") or isinstance(parsed, CLEAN)


class TestGatewayParsers:
    @given(params_of(["sid"]))
    def test_sid(self, params: Params) -> None:
        value_or_400(lambda: gateway._sid(params))


def test_every_parser_reads_only_a_mapping() -> None:
    """The parsers are pure: Params over a plain dict is all they need (no request, no server)."""
    plain: Mapping[str, str] = {"recipients": "+32470000000", "message": "hi"}
    assert sms.send_request(Params(plain), "BE").message == "hi"
