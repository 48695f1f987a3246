"""The PDU codec: published vectors (3GPP TS 23.040 / 23.038 and the classic PDU-format
examples) and Hypothesis round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simgate.agent import pdu
from simgate.agent.pdu import Concat, Deliver, StatusReport, Submit

# The well-known "hellohello" examples (SMSC +27381000015, a 1999 timestamp at UTC+2).
HELLO_SEPTETS = "E8329BFD4697D9EC37"
HELLO_DELIVER = "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37"
HELLO_SUBMIT = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
T0 = 1_773_391_512_000


def septets_of(text: str) -> list[int]:
    return [s for char in text for s in pdu._septets(char)]


class TestSeptets:
    def test_hellohello_packs_to_the_published_octets(self) -> None:
        assert pdu.pack_septets(septets_of("hellohello")).hex().upper() == HELLO_SEPTETS

    def test_unpacking_is_the_inverse_also_after_fill_bits(self) -> None:
        septets = septets_of("Ünìcode? no: GSM {}")
        for fill in range(7):
            packed = pdu.pack_septets(septets, fill)
            assert pdu.unpack_septets(packed, len(septets), fill) == septets

    def test_extension_characters_cost_two_septets(self) -> None:
        for char in "€[]{}~^|\\":
            assert septets_of(char)[0] == 0x1B
            assert len(septets_of(char)) == 2
        assert septets_of("€") == [0x1B, 0x65]
        assert septets_of("@£$") == [0x00, 0x01, 0x02]


class TestSplitting:
    def test_160_gsm_characters_fit_one_part_161_need_two_of_153(self) -> None:
        assert pdu.split_text("a" * 160) == (True, ["a" * 160])
        gsm7, parts = pdu.split_text("a" * 161)
        assert gsm7
        assert [len(p) for p in parts] == [153, 8]

    def test_an_escape_sequence_is_never_split(self) -> None:
        _, parts = pdu.split_text("a" * 152 + "€" + "b" * 10)
        assert parts[0] == "a" * 152
        assert parts[1].startswith("€")

    def test_ucs2_takes_70_then_67_units_and_keeps_surrogate_pairs_whole(self) -> None:
        assert pdu.split_text("é" * 10 + "ж" * 60) == (False, ["é" * 10 + "ж" * 60])
        gsm7, parts = pdu.split_text("ж" * 66 + "😀" + "жжж")
        assert not gsm7
        assert parts == ["ж" * 66, "😀жжж"]


class TestPublishedVectors:
    def test_the_classic_sms_deliver(self) -> None:
        assert pdu.decode(HELLO_DELIVER) == Deliver(
            sender="27838890001",  # type of number 0xC8: no "+"
            text="hellohello",
            at_ms=922_713_419_000,  # 1999-03-29 15:16:59 +02:00
            dcs=0,
        )

    def test_the_classic_sms_submit_is_what_we_encode(self) -> None:
        assert pdu.encode_submit("+46708251358", "hellohello") == [
            pdu.SubmitPdu(hex=HELLO_SUBMIT, length=23)
        ]
        assert pdu.decode(HELLO_SUBMIT) == Submit(to="+46708251358", text="hellohello", dcs=0)

    def test_a_national_number_goes_with_type_81(self) -> None:
        [sent] = pdu.encode_submit("0470123456", "x")
        assert sent.hex.startswith("0011000A814007214365")

    def test_an_alphanumeric_sender_is_decoded(self) -> None:
        # TS 23.040 9.1.2.5: type 0xD0, length in semi-octets of the 7-bit packed name.
        [deliver] = pdu.encode_deliver("MyBank", "code 1234", at_ms=T0)
        assert deliver.startswith("00040BD0CDBC30")
        decoded = pdu.decode(deliver)
        assert isinstance(decoded, Deliver)
        assert decoded.sender == "MyBank"

    def test_a_negative_timezone_is_applied(self) -> None:
        [deliver] = pdu.encode_deliver("+1555", "x", at_ms=T0, offset_quarters=-20)  # UTC-5
        decoded = pdu.decode(deliver)
        assert isinstance(decoded, Deliver)
        assert decoded.at_ms == T0
        assert deliver[16:30] == "6230313054210A"  # 26-03-13 03:45:12, 20 quarters west

    def test_a_concatenated_gsm7_part_has_the_header_and_one_fill_bit(self) -> None:
        first, _ = pdu.encode_submit("+32470123456", "a" * 200, reference=0x42)
        tpdu = bytes.fromhex(first.hex)[1:]
        assert tpdu[0] & 0x40  # TP-UDHI
        udl, header = tpdu[13], tpdu[14:20]
        assert udl == 160  # 7 septets of header and fill, then 153 characters
        assert header == bytes([5, 0, 3, 0x42, 2, 1])
        # 'a' (0x61) after one fill bit: 0x61 << 1 = 0xC2.
        assert tpdu[20] == 0xC2

    def test_a_status_report_is_decoded(self) -> None:
        report = (
            "00"  # SMSC
            "06"  # SMS-STATUS-REPORT
            "2A"  # TP-MR
            "0B912374101032F5" + "62303180215480" * 2 + "00"  # +32470101235  # delivered
        )
        decoded = pdu.decode(report)
        assert isinstance(decoded, StatusReport)
        assert decoded.message_reference == 0x2A
        assert decoded.recipient == "+32470101235"
        assert decoded.status == 0

    def test_a_published_status_report(self) -> None:
        # The SMS-STATUS-REPORT of the widely quoted +31628870634 examples (Diafaan's PDU
        # samples, also in python-gsmmodem's tests): MR 214, delivered (TP-ST 0x00).
        report = "0006D60B911326880736F4111011719551401110117195714000"
        assert pdu.decode(report) == StatusReport(
            message_reference=214,
            recipient="+31628870634",
            at_ms=1_294_765_155_000,  # 2011-01-11 17:59:15 +01:00
            discharged_ms=1_294_765_157_000,  # two seconds later
            status=0,
        )
        assert report == pdu.encode_status_report(
            214,
            "+31628870634",
            at_ms=1_294_765_155_000,
            discharged_ms=1_294_765_157_000,
            offset_quarters=4,
        )

    def test_a_status_report_is_requested_only_when_asked(self) -> None:
        plain = pdu.encode_submit("+46708251358", "hellohello")
        asked = pdu.encode_submit("+46708251358", "hellohello", status_report=True)
        assert plain[0].hex == HELLO_SUBMIT  # first octet 0x11
        assert asked[0].hex == "0031" + HELLO_SUBMIT[4:]  # TP-SRR: bit 5 of the first octet
        assert asked[0].length == plain[0].length
        for part in pdu.encode_submit("+1555", "x" * 200, status_report=True):
            assert bytes.fromhex(part.hex)[1] & 0x20

    def test_garbage_is_a_pdu_error(self) -> None:
        for bad in ("", "zz", "0004", "0003FF"):
            with pytest.raises(pdu.PduError):
                pdu.decode(bad)


class TestJoining:
    def test_an_emoji_split_by_the_sender_is_mended(self) -> None:
        pair = "😀".encode("utf-16-be")
        halves = [pair[:2].decode("utf-16-be", "surrogatepass"), pair[2:].decode(
            "utf-16-be", "surrogatepass")]  # fmt: skip
        assert pdu.join_texts(["a" + halves[0], halves[1] + "b"]) == "a😀b"


GSM_TEXT = st.text(alphabet=st.sampled_from(pdu._BASIC.replace("\x1b", "") + "€[]{}~^|\\"))
NUMBERS = st.from_regex(r"\A\+?[0-9]{3,15}\Z")


class TestRoundTrips:
    @given(to=NUMBERS, text=st.one_of(GSM_TEXT, st.text()), reference=st.integers(0, 255))
    def test_any_text_comes_back_whole_in_parts_of_at_most_140_octets(
        self, to: str, text: str, reference: int
    ) -> None:
        text = text[:800]
        parts = pdu.encode_submit(to, text, reference=reference)
        decoded = [pdu.decode(p.hex) for p in parts]
        for part, sent in zip(parts, decoded, strict=True):
            assert isinstance(sent, Submit)
            assert sent.to == to
            tpdu = bytes.fromhex(part.hex)[1:]
            assert len(tpdu) == part.length
            user_data = tpdu[len(tpdu) - _ud_octets(sent, tpdu) :]
            assert len(user_data) <= 140
        if len(parts) > 1:
            assert [d.concat for d in decoded] == [
                Concat(reference, len(parts), i) for i in range(1, len(parts) + 1)
            ]
        assert pdu.join_texts([d.text for d in decoded]) == text

    @given(sender=st.one_of(NUMBERS, st.from_regex(r"\A[A-Za-z][A-Za-z0-9 ]{0,10}\Z")),
           text=st.text(max_size=400), at=st.integers(946_771_200, 3_786_000_000),
           quarters=st.integers(-48, 56))  # fmt: skip
    def test_delivered_texts_senders_and_times_come_back(
        self, sender: str, text: str, at: int, quarters: int
    ) -> None:
        decoded = [pdu.decode(p) for p in pdu.encode_deliver(sender, text, at_ms=at * 1000,
                                                             offset_quarters=quarters)]  # fmt: skip
        assert all(isinstance(d, Deliver) for d in decoded)
        assert {d.sender for d in decoded} == {sender}
        assert {d.at_ms for d in decoded} == {at * 1000}
        assert pdu.join_texts([d.text for d in decoded]) == text


class TestStatusReports:
    # Stamps carry two digits of year, read as 1990-2089: the report and its discharge time
    # both stay before 2090 (3_786_000_000 + 10**6 s once crossed into 2090, read as 1990).
    @given(reference=st.integers(0, 255), recipient=NUMBERS, status=st.integers(0, 255),
           at=st.integers(946_771_200, 3_785_000_000), later=st.integers(0, 10**6))  # fmt: skip
    def test_a_status_report_comes_back(
        self, reference: int, recipient: str, status: int, at: int, later: int
    ) -> None:
        encoded = pdu.encode_status_report(
            reference, recipient, at_ms=at * 1000, discharged_ms=(at + later) * 1000, status=status
        )
        assert pdu.decode(encoded) == StatusReport(
            message_reference=reference,
            recipient=recipient,
            at_ms=at * 1000,
            discharged_ms=(at + later) * 1000,
            status=status,
        )


def _ud_octets(sent: Submit, tpdu: bytes) -> int:
    # TP-UDL is the octet before the user data: septets for GSM-7, octets for UCS-2.
    address_octets = (tpdu[2] + 1) // 2
    udl = tpdu[2 + 2 + address_octets + 3]
    return (udl * 7 + 7) // 8 if sent.dcs == 0 else udl
