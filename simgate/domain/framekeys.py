"""De-duplication keys for frames a device may resend (received SMS, SMS typed on the phone)."""

from __future__ import annotations

import hashlib
from typing import Final

#: Width of the stored key column.
MAX_KEY_LENGTH: Final = 120


def frame_key(device_id: int, frame_id: str) -> str:
    """A unique, bounded key for frame ``frame_id`` of device ``device_id``.

    ``"<device>:<frame id>"`` when it fits the column, so keys stored by earlier versions stay
    valid; otherwise ``"<device>#<sha256 of the frame id>"``. Cutting the key short instead would
    make two different long frame ids collide and silently drop the second SMS. The two forms
    never collide: the character after the device number differs.
    """
    plain = f"{device_id}:{frame_id}"
    if len(plain) <= MAX_KEY_LENGTH:
        return plain
    return f"{device_id}#{hashlib.sha256(frame_id.encode('utf-8', 'surrogatepass')).hexdigest()}"
