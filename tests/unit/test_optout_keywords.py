"""Stop and start keywords: only a text that is a keyword counts, however it is typed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simgate.domain.optout import (
    DEFAULT_OPTIN_KEYWORDS,
    DEFAULT_OPTOUT_KEYWORDS,
    KeywordIntent,
    intent_of,
    keyword_form,
)

OPT_OUT = DEFAULT_OPTOUT_KEYWORDS
OPT_IN = DEFAULT_OPTIN_KEYWORDS

spaces = st.text(alphabet=" \t\n\u00a0", max_size=3)
closing = st.text(alphabet=".!?…;,", max_size=4)


def recased(word: str, flips: list[bool]) -> str:
    padded = flips + [False] * (len(word) - len(flips))
    return "".join(char.lower() if flip else char for char, flip in zip(word, padded, strict=False))


def intent(text: str) -> KeywordIntent | None:
    return intent_of(text, OPT_OUT, OPT_IN)


class TestDefaults:
    @pytest.mark.parametrize("text", ["STOP", "stop", "Stop.", " STOP! ", "StopAll", "arret"])
    def test_usual_spellings_of_a_stop_keyword_opt_out(self, text: str) -> None:
        """The forms people actually type are all the keyword."""
        assert intent(text) is KeywordIntent.OPT_OUT

    @pytest.mark.parametrize("text", ["START", "start", "Unstop!", " Start. "])
    def test_start_and_unstop_opt_in(self, text: str) -> None:
        assert intent(text) is KeywordIntent.OPT_IN

    def test_an_accented_keyword_matches_its_plain_form(self) -> None:
        """French phones send "Arrêt": the configured "ARRET" must catch it."""
        assert intent("Arrêt !") is KeywordIntent.OPT_OUT

    @pytest.mark.parametrize(
        "text",
        [
            "Stop by tomorrow at 5",
            "please stop",
            "STOP STOP",
            "S TOP",
            "STOPPED",
            "¿STOP",
            "",
            "   ",
            "...",
            "END OF STORY",
        ],
    )
    def test_a_text_that_merely_contains_a_keyword_is_no_request(self, text: str) -> None:
        """Opting a customer out by mistake silences them: only the whole text counts."""
        assert intent(text) is None

    def test_a_very_long_text_is_never_a_keyword(self) -> None:
        assert intent("STOP" + " " * 10_000) is None


class TestProperties:
    @given(
        keyword=st.sampled_from(OPT_OUT),
        flips=st.lists(st.booleans(), max_size=12),
        before=spaces,
        after=spaces,
        punctuation=closing,
    )
    def test_any_casing_padding_and_closing_punctuation_of_a_stop_keyword_opts_out(
        self, keyword: str, flips: list[bool], before: str, after: str, punctuation: str
    ) -> None:
        text = before + recased(keyword, flips) + punctuation + after
        assert intent(text) is KeywordIntent.OPT_OUT

    @given(keyword=st.sampled_from(OPT_IN), punctuation=closing, after=spaces)
    def test_any_start_keyword_opts_in(self, keyword: str, punctuation: str, after: str) -> None:
        assert intent(keyword.lower() + punctuation + after) is KeywordIntent.OPT_IN

    @given(
        keyword=st.sampled_from(OPT_OUT + OPT_IN),
        tail=st.text(alphabet=st.characters(categories=("L", "N")), min_size=1, max_size=10),
        gap=spaces,
    )
    def test_a_keyword_followed_by_any_word_is_no_request(
        self, keyword: str, tail: str, gap: str
    ) -> None:
        assert intent(keyword + gap + tail + "!") is None

    @given(st.text(max_size=60))
    def test_keyword_form_is_idempotent(self, text: str) -> None:
        once = keyword_form(text)
        assert keyword_form(once) == once

    @given(st.text(max_size=60))
    def test_a_text_is_a_keyword_exactly_when_its_form_is_one(self, text: str) -> None:
        """No other route to a match: the form decides, and nothing else."""
        form = keyword_form(text)
        expected = (
            KeywordIntent.OPT_OUT
            if form in {keyword.casefold() for keyword in OPT_OUT}
            else KeywordIntent.OPT_IN
            if form in {keyword.casefold() for keyword in OPT_IN}
            else None
        )
        assert intent(text) is expected


class TestConfiguredLists:
    def test_the_lists_given_replace_the_defaults(self) -> None:
        assert intent_of("FIN", ["FIN"], ["DEBUT"]) is KeywordIntent.OPT_OUT
        assert intent_of("debut", ["FIN"], ["DEBUT"]) is KeywordIntent.OPT_IN
        assert intent_of("STOP", ["FIN"], ["DEBUT"]) is None

    def test_empty_lists_turn_keywords_off(self) -> None:
        assert intent_of("STOP", [], []) is None

    def test_a_keyword_in_both_lists_opts_out(self) -> None:
        """Keeping a number that asked to stop is the worse of the two mistakes."""
        assert intent_of("STOP", ["STOP"], ["STOP"]) is KeywordIntent.OPT_OUT
