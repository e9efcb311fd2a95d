"""QR codes for deep links: printed on receipts, shown at the till, attached to e-mails."""

from __future__ import annotations

from io import BytesIO

import qrcode
from qrcode.constants import ERROR_CORRECT_M


def qr_png(text: str, *, box_size: int = 8, border: int = 4) -> bytes:
    """PNG bytes of *text* as a QR code; medium error correction survives a creased or smudged receipt."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=border)
    code.add_data(text)
    code.make(fit=True)
    image = code.make_image(fill_color="black", back_color="white")
    buffer = BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
