"""The device codec: whatever a peer sends, decoding gives a bounded frame or a ProtocolError
naming what was wrong, never another exception and never a value a database would refuse."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simgate.protocol import (
    MAX_FRAME_BYTES,
    MAX_ID_LENGTH,
    MAX_MS,
    FailedFrame,
    HelloFrame,
    MobileSentFrame,
    ProtocolError,
    ReceivedFrame,
    SentFrame,
    StatusFrame,
    UnknownFrame,
    decode_frame,
)

INT32 = 2**31 - 1
TYPES = ["hello", "sent", "failed", "received", "mobile_sent", "status", "ack", "send", "ping"]
KEYS = [
    "id", "guid", "number", "text", "at", "sim", "sims", "battery", "signal", "protocol",
    "version", "driver", "capabilities", "error", "operator", "formatted", "parts", "to",
]  # fmt: skip

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=300),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=10,
)
frames = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES)},
    optional=dict.fromkeys(KEYS, json_values),
)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _strings(item)]
    return []


def _ints(value: Any) -> list[int]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, list | tuple):
        return [number for item in value for number in _ints(item)]
    return []


class TestDecodeAnything:
    @settings(max_examples=400, deadline=None)
    @given(frames)
    def test_a_frame_decodes_to_bounded_values_or_a_named_refusal(
        self, data: dict[str, Any]
    ) -> None:
        outcome: Any
        try:
            outcome = decode_frame(json.dumps(data))
        except ProtocolError as exc:
            outcome = exc
        if isinstance(outcome, ProtocolError):
            assert outcome.code in {"invalid_frame", "invalid_json", "frame_too_large"}
            field = outcome.field or "type"
            assert field.startswith(f"{data['type']}.") or field == "type"
            return
        frame = outcome
        if isinstance(frame, UnknownFrame):
            return
        for name in frame.__dataclass_fields__:
            value = getattr(frame, name)
            assert all("\x00" not in text for text in _strings(value))
            if name == "at":
                assert all(0 <= number <= MAX_MS for number in _ints(value))
            else:
                assert all(-INT32 - 1 <= number <= INT32 for number in _ints(value))
        for name in ("id", "guid"):
            if hasattr(frame, name):
                assert 0 < len(getattr(frame, name)) <= MAX_ID_LENGTH

    @given(st.binary(max_size=200) | st.text(max_size=200))
    def test_any_bytes_or_text_decode_or_are_refused(self, raw: bytes | str) -> None:
        with contextlib.suppress(ProtocolError):
            decode_frame(raw)


class TestNamedRefusals:
    @pytest.mark.parametrize(
        ("data", "field"),
        [
            ({"type": "received", "id": "r", "number": "1", "text": "t", "at": MAX_MS + 1},
             "received.at"),
            ({"type": "sent", "id": "s", "guid": "g"}, "sent.at"),
            ({"type": "sent", "id": "s" * (MAX_ID_LENGTH + 1), "guid": "g", "at": 1}, "sent.id"),
            ({"type": "sent", "id": "s\x00", "guid": "g", "at": 1}, "sent.id"),
            ({"type": "status", "battery": INT32 + 1}, "status.battery"),
            ({"type": "hello", "version": "v", "driver": "d"}, "hello.protocol"),
            ({"type": "hello", "protocol": 1, "sims": [2**31]}, "hello.sims"),
            ({"type": "mobile_sent", "id": "m", "number": "", "text": "t", "at": 1},
             "mobile_sent.number"),
        ],
    )  # fmt: skip
    def test_the_refusal_names_the_field(self, data: dict[str, Any], field: str) -> None:
        with pytest.raises(ProtocolError) as refused:
            decode_frame(json.dumps(data))
        assert refused.value.field == field

    def test_a_refused_frame_with_an_id_carries_it_so_the_server_can_ack_it(self) -> None:
        with pytest.raises(ProtocolError) as refused:
            decode_frame(json.dumps({"type": "received", "id": "keep", "at": -1}))
        assert (refused.value.frame_type, refused.value.frame_id) == ("received", "keep")

    def test_a_frame_over_one_mebibyte_is_refused_before_parsing(self) -> None:
        with pytest.raises(ProtocolError) as refused:
            decode_frame('{"type":"ping","pad":"' + "é" * MAX_FRAME_BYTES + '"}')
        assert refused.value.code == "frame_too_large"


class TestNormalised:
    def test_nul_characters_are_removed_from_free_text(self) -> None:
        frame = decode_frame(
            json.dumps({"type": "received", "id": "r", "number": "+1\x00", "text": "a\x00b"})
        )
        assert isinstance(frame, ReceivedFrame)
        assert (frame.number, frame.text, frame.at) == ("+1", "ab", None)

    def test_a_long_error_text_is_cut_not_refused(self) -> None:
        frame = decode_frame(
            json.dumps({"type": "failed", "id": "f", "guid": "g", "error": "e" * 5000, "at": 1})
        )
        assert isinstance(frame, FailedFrame)
        assert len(frame.error) == 256

    def test_good_frames_still_decode(self) -> None:
        assert isinstance(
            decode_frame('{"type":"hello","protocol":1,"version":"v","driver":"d"}'), HelloFrame
        )
        assert isinstance(decode_frame('{"type":"sent","id":"s","guid":"g","at":1}'), SentFrame)
        assert isinstance(decode_frame('{"type":"status","battery":100,"signal":4}'), StatusFrame)
        assert isinstance(
            decode_frame('{"type":"mobile_sent","id":"m","number":"1","text":"","at":1}'),
            MobileSentFrame,
        )
