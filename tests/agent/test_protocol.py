"""simgate.protocol: frames round-trip, bad frames are refused precisely, unknown ones pass."""

from __future__ import annotations

import json

import pytest

from simgate import protocol
from simgate.protocol import (
    AcceptedFrame,
    AckFrame,
    ErrorFrame,
    FailedFrame,
    Frame,
    HelloFrame,
    MobileSentFrame,
    PingFrame,
    PongFrame,
    ProtocolError,
    ReceivedFrame,
    SendFrame,
    SentFrame,
    StatusFrame,
    UnknownFrame,
    WelcomeFrame,
    decode_frame,
    device_ws_url,
    encode_frame,
)

GUID = "a" * 40

EXAMPLES: list[Frame] = [
    HelloFrame(
        version="simgate-agent/0.1.0",
        driver="simulator",
        sims=(1, 2),
        capabilities=("sms",),
        battery=80,
        signal=3,
    ),
    WelcomeFrame(sid="dev_1", label="Kitchen phone", heartbeat=25),
    SendFrame(guid=GUID, to="+32470123456", text="Hi ✓", sim=2, channel="both", parts=1),
    AcceptedFrame(guid=GUID),
    SentFrame(id="f1", guid=GUID, sim=1, at=1_700_000_000_000),
    FailedFrame(id="f2", guid=GUID, error="no credit", operator=True, at=1_700_000_000_000),
    ReceivedFrame(id="f3", number="+15550100", text="yo", at=1_700_000_000_000, sim=None),
    MobileSentFrame(id="f4", number="+1555", text="typed", at=1, formatted="2024-01-01 00:00:00"),
    AckFrame(id="f1"),
    StatusFrame(battery=None, signal=2),
    PingFrame(),
    PongFrame(),
    ErrorFrame(code="invalid_frame", message="sent.guid must be a string"),
]


class TestRoundTrip:
    @pytest.mark.parametrize("frame", EXAMPLES, ids=lambda frame: frame.TYPE)
    def test_encode_then_decode_gives_the_same_frame(self, frame: Frame) -> None:
        assert decode_frame(encode_frame(frame)) == frame

    @pytest.mark.parametrize("frame", EXAMPLES, ids=lambda frame: frame.TYPE)
    def test_encoded_frame_is_a_json_object_with_type_first(self, frame: Frame) -> None:
        data = json.loads(encode_frame(frame))
        assert next(iter(data)) == "type"
        assert data["type"] == frame.TYPE

    def test_hello_matches_the_documented_shape(self) -> None:
        data = json.loads(encode_frame(EXAMPLES[0]))
        assert data == {
            "type": "hello",
            "protocol": 1,
            "version": "simgate-agent/0.1.0",
            "driver": "simulator",
            "sims": [1, 2],
            "capabilities": ["sms"],
            "battery": 80,
            "signal": 3,
            "charging": None,
            "rate_count": None,
            "rate_seconds": None,
        }

    def test_text_is_not_escaped_to_ascii(self) -> None:
        assert "✓" in encode_frame(EXAMPLES[2])


class TestLenientDecoding:
    def test_unknown_type_is_returned_not_refused(self) -> None:
        frame = decode_frame('{"type": "config", "rate": 5}')
        assert frame == UnknownFrame(type="config", data={"type": "config", "rate": 5})

    def test_extra_keys_are_ignored(self) -> None:
        assert decode_frame('{"type": "ack", "id": "x", "future": [1]}') == AckFrame(id="x")

    def test_send_defaults_when_optional_fields_are_missing(self) -> None:
        frame = decode_frame(json.dumps({"type": "send", "guid": GUID, "to": "+1", "text": ""}))
        assert frame == SendFrame(guid=GUID, to="+1", text="", sim=None, channel="sms", parts=1)

    def test_integral_float_timestamps_are_accepted(self) -> None:
        frame = decode_frame('{"type":"sent","id":"i","guid":"g","sim":null,"at":1.7e12}')
        assert isinstance(frame, SentFrame)
        assert frame.at == 1_700_000_000_000


class TestRefusedFrames:
    @pytest.mark.parametrize(
        ("text", "code"),
        [
            ("not json", "invalid_json"),
            ("[1, 2]", "invalid_frame"),
            ('{"id": "x"}', "invalid_frame"),
            ('{"type": ""}', "invalid_frame"),
            ('{"type": "ack"}', "invalid_frame"),
            ('{"type": "ack", "id": ""}', "invalid_frame"),
            ('{"type": "send", "guid": "g", "to": "+1", "text": 5}', "invalid_frame"),
            (
                '{"type": "send", "guid": "g", "to": "+1", "text": "", "channel": "fax"}',
                "invalid_frame",
            ),
            ('{"type": "send", "guid": "g", "to": "+1", "text": "", "sim": true}', "invalid_frame"),
            (
                '{"type": "failed", "id": "i", "guid": "g", "error": "", "operator": 1, "at": 1}',
                "invalid_frame",
            ),
            ('{"type": "status", "battery": 101}', "invalid_frame"),
            ('{"type": "welcome", "sid": "s"}', "invalid_frame"),
            ('{"type": "hello", "version": "v", "driver": "d"}', "invalid_frame"),
        ],
    )
    def test_bad_frames_raise_protocol_error_with_a_stable_code(self, text: str, code: str) -> None:
        with pytest.raises(ProtocolError) as caught:
            decode_frame(text)
        assert caught.value.code == code

    def test_the_message_names_the_field(self) -> None:
        with pytest.raises(ProtocolError, match=r"sent\.at"):
            decode_frame('{"type":"sent","id":"i","guid":"g","at":"now"}')


class TestDeviceWsUrl:
    @pytest.mark.parametrize(
        ("server", "expected"),
        [
            ("http://host:8000", "ws://host:8000/device/ws"),
            ("http://host:8000/", "ws://host:8000/device/ws"),
            ("https://sms.example.com", "wss://sms.example.com/device/ws"),
            ("https://example.com/simgate/", "wss://example.com/simgate/device/ws"),
            ("ws://host:1", "ws://host:1/device/ws"),
            ("wss://host/", "wss://host/device/ws"),
            ("wss://host/custom/path?x=1", "wss://host/custom/path?x=1"),
        ],
    )
    def test_base_urls_map_to_the_device_endpoint(self, server: str, expected: str) -> None:
        assert device_ws_url(server) == expected

    @pytest.mark.parametrize("server", ["ftp://host", "host:8000", "http://", ""])
    def test_unusable_urls_are_refused(self, server: str) -> None:
        with pytest.raises(ValueError, match="server URL"):
            device_ws_url(server)


def test_helpers_give_what_the_frames_need() -> None:
    assert len(protocol.new_frame_id()) == 32
    assert protocol.new_frame_id() != protocol.new_frame_id()
    assert protocol.now_ms() > 1_700_000_000_000
    formatted = protocol.format_phone_time(1_700_000_000_000)
    assert len(formatted) == len("2023-11-14 22:13:20")
    assert {"sent", "failed", "delivered", "received", "mobile_sent"} == protocol.ACKED_TYPES
