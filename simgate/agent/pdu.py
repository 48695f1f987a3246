"""SMS PDUs as a modem speaks them in PDU mode (``AT+CMGF=0``): a pure codec, no I/O.

Encodes SMS-SUBMIT (what we send) and SMS-DELIVER (what the test modem delivers), decodes both and
SMS-STATUS-REPORT, after 3GPP TS 23.040 (PDU layout) and TS 23.038 (the GSM 7-bit default
alphabet and its extension table). Hex strings are what ``AT+CMGS``/``AT+CMGR`` carry; every PDU
here starts with the SMSC address octets (``00``: the SIM's own SMSC), as modems expect.

A text that the GSM alphabet can carry goes as GSM-7 (``€ [ ] { } ~ ^ | \\`` and form feed cost
two septets: an escape and the extension code); anything else as UCS-2, i.e. UTF-16 code units,
so an emoji is a surrogate pair that is never split across parts. Long texts become a
concatenated SMS with an 8-bit-reference user data header: 153 GSM-7 septets or 67 UCS-2 units a
part (160 and 70 for a single part).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

__all__ = [
    "Concat",
    "Deliver",
    "PduError",
    "StatusReport",
    "Submit",
    "SubmitPdu",
    "decode",
    "encode_deliver",
    "encode_status_report",
    "encode_submit",
    "is_gsm7",
    "join_texts",
    "pack_septets",
    "split_text",
    "unpack_septets",
]

_ESC = 0x1B
# TS 23.038 6.2.1: the default alphabet, by septet value; the escape (0x1B) is no character.
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# TS 23.038 6.2.1.1: the extension table, reached with the escape.
_EXTENSION = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D,
              "]": 0x3E, "|": 0x40, "€": 0x65}  # fmt: skip
_BASIC_CODE = {char: code for code, char in enumerate(_BASIC) if code != _ESC}
_EXTENSION_CHAR = {code: char for char, code in _EXTENSION.items()}

_GSM7_SINGLE, _GSM7_PART = 160, 153
_UCS2_SINGLE, _UCS2_PART = 70, 67
_MAX_PARTS = 255
_BMP_LAST = 0xFFFF

_DCS_GSM7, _DCS_8BIT, _DCS_UCS2 = 0x00, 0x04, 0x08
_UDHI = 0x40
_TON_INTERNATIONAL, _TON_ALPHANUMERIC = 0x91, 0x50
_TON_UNKNOWN = 0x81
_VALIDITY_4_DAYS = 0xAA


class PduError(ValueError):
    """A PDU that cannot be decoded, or a number or text that cannot be encoded."""


@dataclass(frozen=True, slots=True)
class Concat:
    """One part of a concatenated SMS: parts with the same sender and ``reference`` belong
    together; ``sequence`` counts from 1 to ``total``."""

    reference: int
    total: int
    sequence: int


@dataclass(frozen=True, slots=True)
class SubmitPdu:
    """One SMS-SUBMIT: ``hex`` for the modem, ``length`` (TPDU octets, SMSC excluded) for
    ``AT+CMGS=<length>``."""

    hex: str
    length: int


@dataclass(frozen=True, slots=True)
class Deliver:
    """A decoded SMS-DELIVER. ``text`` may hold half a surrogate pair when a sender split an
    emoji across parts: :func:`join_texts` mends it."""

    sender: str
    text: str
    at_ms: int
    dcs: int
    concat: Concat | None = None


@dataclass(frozen=True, slots=True)
class Submit:
    """A decoded SMS-SUBMIT (what a modem was asked to put on the air)."""

    to: str
    text: str
    dcs: int
    concat: Concat | None = None
    message_reference: int = 0


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A decoded SMS-STATUS-REPORT: ``status`` 0x00-0x1F means delivered (TS 23.040 9.2.3.15)."""

    message_reference: int
    recipient: str
    at_ms: int
    discharged_ms: int
    status: int


# --- septets ------------------------------------------------------------------------------


def is_gsm7(text: str) -> bool:
    """Whether the GSM 7-bit default alphabet (with its extension table) can carry ``text``."""
    return all(char in _BASIC_CODE or char in _EXTENSION for char in text)


def _septets(char: str) -> list[int]:
    if char in _BASIC_CODE:
        return [_BASIC_CODE[char]]
    if char in _EXTENSION:
        return [_ESC, _EXTENSION[char]]
    raise PduError(f"{char!r} is not in the GSM 7-bit alphabet")


def _gsm7_text(septets: Sequence[int]) -> str:
    chars: list[str] = []
    escaped = False
    for septet in septets:
        if escaped:
            # An unknown extension code shows as its basic character (TS 23.038 6.2.1.1).
            chars.append(_EXTENSION_CHAR.get(septet, _BASIC[septet]))
            escaped = False
        elif septet == _ESC:
            escaped = True
        else:
            chars.append(_BASIC[septet])
    if escaped:
        chars.append(" ")  # a trailing escape alone: TS 23.038 says show a space
    return "".join(chars)


def pack_septets(septets: Sequence[int], fill_bits: int = 0) -> bytes:
    """Pack 7-bit values, least significant bit first, after ``fill_bits`` zero bits."""
    out = bytearray()
    acc, nbits = 0, fill_bits
    for septet in septets:
        acc |= (septet & 0x7F) << nbits
        nbits += 7
        while nbits >= 8:  # noqa: PLR2004 - bits in an octet
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits > 0:
        out.append(acc & 0xFF)
    return bytes(out)


def unpack_septets(data: bytes, count: int, fill_bits: int = 0) -> list[int]:
    """The first ``count`` 7-bit values packed in ``data`` after ``fill_bits`` bits."""
    value = int.from_bytes(data, "little")
    if fill_bits + 7 * count > 8 * len(data):
        raise PduError("user data shorter than its length says")
    return [(value >> (fill_bits + 7 * i)) & 0x7F for i in range(count)]


# --- splitting ----------------------------------------------------------------------------


def split_text(text: str) -> tuple[bool, list[str]]:
    """``(gsm7, parts)``: the alphabet ``text`` goes in and its parts, none splitting an escape
    sequence or a surrogate pair."""
    gsm7 = is_gsm7(text)
    single, part = (_GSM7_SINGLE, _GSM7_PART) if gsm7 else (_UCS2_SINGLE, _UCS2_PART)
    if gsm7:
        costs = [len(_septets(char)) for char in text]
    else:  # UTF-16 code units: 2 for a character outside the BMP (a surrogate pair)
        costs = [1 + (ord(char) > _BMP_LAST) for char in text]
    if sum(costs) <= single:
        return gsm7, [text]
    parts: list[str] = []
    start, used = 0, 0
    for index, units in enumerate(costs):
        if used + units > part:
            parts.append(text[start:index])
            start, used = index, 0
        used += units
    parts.append(text[start:])
    if len(parts) > _MAX_PARTS:
        raise PduError(f"text too long: {len(parts)} parts, at most {_MAX_PARTS}")
    return gsm7, parts


def join_texts(texts: Sequence[str]) -> str:
    """The parts' texts joined, a surrogate pair split across two parts made whole again (and
    any other lone half replaced by U+FFFD)."""
    joined = "".join(texts)
    return joined.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "replace")


# --- addresses and timestamps ---------------------------------------------------------------


def _swap_digits(digits: str) -> bytes:
    if len(digits) % 2:
        digits += "F"
    return bytes.fromhex("".join(digits[i + 1] + digits[i] for i in range(0, len(digits), 2)))


def _unswap_digits(data: bytes, count: int) -> str:
    digits = "".join(f"{octet & 0x0F:X}{octet >> 4:X}" for octet in data)
    return digits[:count].translate(str.maketrans("ABC", "*#a"))


def _address(number: str) -> bytes:
    digits = number.removeprefix("+")
    if not digits.isdigit() or not digits.isascii() or len(digits) > 20:  # noqa: PLR2004
        raise PduError(f"cannot address {number!r}: digits only, an optional leading +")
    kind = _TON_INTERNATIONAL if number.startswith("+") else _TON_UNKNOWN
    return bytes([len(digits), kind]) + _swap_digits(digits)


def _alphanumeric_address(name: str) -> bytes:
    septets = [s for char in name for s in _septets(char)]
    packed = pack_septets(septets)
    return bytes([(len(septets) * 7 + 3) // 4, 0xD0]) + packed


def _read_address(pdu: bytes, pos: int) -> tuple[str, int]:
    count, kind = pdu[pos], pdu[pos + 1]
    octets = (count + 1) // 2
    body = pdu[pos + 2 : pos + 2 + octets]
    if len(body) < octets:
        raise PduError("address truncated")
    if kind & 0x70 == _TON_ALPHANUMERIC:
        number = _gsm7_text(unpack_septets(body, count * 4 // 7))
    else:
        digits = _unswap_digits(body, count)
        number = "+" + digits if kind & 0x70 == _TON_INTERNATIONAL & 0x70 else digits
    return number, pos + 2 + octets


def _timestamp(at_ms: int, offset_quarters: int = 0) -> bytes:
    zone = timezone(timedelta(minutes=15 * offset_quarters))
    moment = datetime.fromtimestamp(at_ms / 1000, tz=zone)
    digits = f"{moment:%y%m%d%H%M%S}{abs(offset_quarters):02d}"
    stamp = bytearray(_swap_digits(digits))
    if offset_quarters < 0:
        stamp[6] |= 0x08
    return bytes(stamp)


def _read_timestamp(data: bytes) -> int:
    if len(data) != 7:  # noqa: PLR2004 - TS 23.040 9.2.3.11
        raise PduError("timestamp truncated")
    digits = _unswap_digits(data[:6], 12)
    zone_octet = data[6]
    quarters = (zone_octet & 0x07) * 10 + (zone_octet >> 4)
    if zone_octet & 0x08:
        quarters = -quarters
    try:
        year = int(digits[0:2])
        moment = datetime(
            # Two digits of year: the 1990s for the rare old stamp, this century otherwise.
            year + (1900 if year >= 90 else 2000),  # noqa: PLR2004
            int(digits[2:4]),
            int(digits[4:6]),
            int(digits[6:8]),
            int(digits[8:10]),
            int(digits[10:12]),
            tzinfo=timezone(timedelta(minutes=15 * quarters)),
        )
    except ValueError as exc:
        raise PduError(f"bad timestamp {data.hex()}") from exc
    return int(moment.timestamp() * 1000)


# --- user data ------------------------------------------------------------------------------


def _user_data(text: str, gsm7: bool, concat: Concat | None) -> tuple[int, bytes]:
    """``(TP-UDL, TP-UD)`` for one part."""
    header = b""
    if concat is not None:
        header = bytes([5, 0x00, 3, concat.reference & 0xFF, concat.total, concat.sequence])
    if gsm7:
        septets = [s for char in text for s in _septets(char)]
        header_bits = len(header) * 8
        fill = (7 - header_bits % 7) % 7
        body = pack_septets(septets, fill)
        # pack_septets began a fresh octet: the header's octets go in front of it.
        return (header_bits + fill) // 7 + len(septets), header + body
    body = text.encode("utf-16-be", "surrogatepass")
    return len(header) + len(body), header + body


def _read_user_data(pdu: bytes, pos: int, dcs: int, udhi: bool) -> tuple[str, Concat | None]:
    alphabet = _alphabet(dcs)
    length = pdu[pos]
    data = pdu[pos + 1 :]
    header_octets = 0
    concat = None
    if udhi:
        if not data:
            raise PduError("user data header missing")
        header_octets = data[0] + 1
        concat = _read_header(data[1:header_octets])
    if alphabet == _DCS_GSM7:
        header_septets = (header_octets * 8 + 6) // 7
        fill = header_septets * 7 - header_octets * 8
        septets = unpack_septets(data[header_octets:], length - header_septets, fill)
        return _gsm7_text(septets), concat
    body = data[header_octets:length]
    if alphabet == _DCS_UCS2:
        return body[: len(body) // 2 * 2].decode("utf-16-be", "surrogatepass"), concat
    return body.decode("latin-1"), concat


def _read_header(header: bytes) -> Concat | None:
    concat = None
    pos = 0
    while pos + 2 <= len(header):
        ie, size = header[pos], header[pos + 1]
        value = header[pos + 2 : pos + 2 + size]
        if ie == 0x00 and size == 3:  # noqa: PLR2004 - concatenation, 8-bit reference
            concat = Concat(reference=value[0], total=value[1], sequence=value[2])
        elif ie == 0x08 and size == 4:  # noqa: PLR2004 - concatenation, 16-bit reference
            concat = Concat(reference=value[0] << 8 | value[1], total=value[2], sequence=value[3])
        pos += 2 + size
    return concat


def _alphabet(dcs: int) -> int:
    """GSM-7, 8-bit or UCS-2 for a data coding scheme (TS 23.038 section 4)."""
    group = dcs >> 4
    if group <= 0x07:  # noqa: PLR2004 - general data coding, incl. automatic deletion
        return min(dcs & 0x0C, _DCS_UCS2)
    if group == 0x0E:  # noqa: PLR2004 - message waiting indication, UCS-2 text
        return _DCS_UCS2
    if group == 0x0F:  # noqa: PLR2004 - data coding / message class
        return _DCS_8BIT if dcs & 0x04 else _DCS_GSM7
    return _DCS_GSM7


# --- whole PDUs -----------------------------------------------------------------------------


def encode_submit(
    to: str, text: str, *, reference: int = 0, status_report: bool = False
) -> list[SubmitPdu]:
    """The SMS-SUBMIT PDUs that send ``text`` to ``to`` (``+`` and digits: international;
    digits alone: as dialled). ``reference`` ties the parts of a long text together;
    ``status_report`` sets TP-SRR (TS 23.040 9.2.3.5): the network then reports delivery."""
    address = _address(to)
    gsm7, texts = split_text(text)
    pdus = []
    for sequence, part in enumerate(texts, start=1):
        concat = None
        if len(texts) > 1:
            concat = Concat(reference=reference & 0xFF, total=len(texts), sequence=sequence)
        length, data = _user_data(part, gsm7, concat)
        first = 0x01 | 0x10 | (_UDHI if concat else 0) | (0x20 if status_report else 0)
        tpdu = (
            bytes([first, 0x00])
            + address
            + bytes([0x00, _DCS_GSM7 if gsm7 else _DCS_UCS2, _VALIDITY_4_DAYS, length])
            + data
        )
        pdus.append(SubmitPdu(hex=("00" + tpdu.hex()).upper(), length=len(tpdu)))
    return pdus


def encode_deliver(
    sender: str, text: str, *, at_ms: int, reference: int = 0, offset_quarters: int = 0
) -> list[str]:
    """The SMS-DELIVER PDUs (hex) of ``text`` from ``sender`` (a number, or a name of letters),
    as a network delivers them; for test modems."""
    plain = sender.removeprefix("+")
    address = _address(sender) if plain.isdigit() else _alphanumeric_address(sender)
    gsm7, texts = split_text(text)
    pdus = []
    for sequence, part in enumerate(texts, start=1):
        concat = None
        if len(texts) > 1:
            concat = Concat(reference=reference & 0xFF, total=len(texts), sequence=sequence)
        length, data = _user_data(part, gsm7, concat)
        tpdu = (
            bytes([0x04 | (_UDHI if concat else 0)])
            + address
            + bytes([0x00, _DCS_GSM7 if gsm7 else _DCS_UCS2])
            + _timestamp(at_ms, offset_quarters)
            + bytes([length])
            + data
        )
        pdus.append(("00" + tpdu.hex()).upper())
    return pdus


def encode_status_report(
    message_reference: int,
    recipient: str,
    *,
    at_ms: int,
    discharged_ms: int,
    status: int = 0,
    offset_quarters: int = 0,
) -> str:
    """The SMS-STATUS-REPORT PDU (hex) a network sends about message ``message_reference`` to
    ``recipient``: sent to the centre at ``at_ms``, ``status`` (TS 23.040 9.2.3.15) reached at
    ``discharged_ms``; for test modems."""
    tpdu = (
        bytes([0x06, message_reference & 0xFF])  # SMS-STATUS-REPORT, no more messages
        + _address(recipient)
        + _timestamp(at_ms, offset_quarters)
        + _timestamp(discharged_ms, offset_quarters)
        + bytes([status & 0xFF])
    )
    return ("00" + tpdu.hex()).upper()


def decode(pdu_hex: str) -> Deliver | Submit | StatusReport:
    """Decode one PDU (SMSC address first), whichever way it travelled."""
    try:
        pdu = bytes.fromhex(pdu_hex.strip())
        return _decode(pdu)
    except (IndexError, ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, PduError):
            raise
        raise PduError(f"undecodable PDU: {exc}") from exc


def _decode(pdu: bytes) -> Deliver | Submit | StatusReport:
    pos = 1 + pdu[0]  # the SMSC address, which we do not need
    first = pdu[pos]
    udhi = bool(first & _UDHI)
    kind = first & 0x03
    if kind == 0x00:
        sender, pos = _read_address(pdu, pos + 1)
        dcs = pdu[pos + 1]
        at_ms = _read_timestamp(pdu[pos + 2 : pos + 9])
        text, concat = _read_user_data(pdu, pos + 9, dcs, udhi)
        return Deliver(sender=sender, text=text, at_ms=at_ms, dcs=dcs, concat=concat)
    if kind == 0x01:
        reference = pdu[pos + 1]
        to, pos = _read_address(pdu, pos + 2)
        dcs = pdu[pos + 1]
        validity = (first >> 3) & 0x03
        pos += 2 + {0: 0, 2: 1}.get(validity, 7)
        text, concat = _read_user_data(pdu, pos, dcs, udhi)
        return Submit(to=to, text=text, dcs=dcs, concat=concat, message_reference=reference)
    if kind == 0x02:  # noqa: PLR2004 - SMS-STATUS-REPORT
        reference = pdu[pos + 1]
        recipient, pos = _read_address(pdu, pos + 2)
        return StatusReport(
            message_reference=reference,
            recipient=recipient,
            at_ms=_read_timestamp(pdu[pos : pos + 7]),
            discharged_ms=_read_timestamp(pdu[pos + 7 : pos + 14]),
            status=pdu[pos + 14],
        )
    raise PduError(f"reserved message type in first octet {first:#04x}")
