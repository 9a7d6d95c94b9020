"""Whether a compressed H.264 / HEVC picture is an IDR picture, from its packet's NAL units.

Why: OpenCV's seek lands on a sync point (a packet the container marks as one) and decodes
forward from there. The whole-video decode may stand in for that seek only if a decoder started
at *any* sync point gives the same frames as one that ran from the start. An IDR picture
guarantees it: it marks every earlier reference picture unused, so nothing decoded after it
can depend on what came before (ITU-T H.264 §8.2.5.1; H.265 §8.3.2 for IDR_W_RADL / IDR_N_LP).
A container's sync flag alone does not: an open-GOP I picture (H.264 recovery point, HEVC CRA)
is flagged too, and the pictures after it may reference the previous GOP.

Only the length-prefixed form stored in MP4/MOV/MKV (``avcC`` / ``hvcC`` extradata, 1-4 byte
NAL lengths) is parsed; anything else (Annex B start codes, another codec, a malformed length)
is "not known to be IDR", so the caller falls back to OpenCV's own seek: fail closed.
"""

from __future__ import annotations

#: A packet's bytes: ``bytes``, or a ``memoryview`` of the demuxer's buffer (no copy).
Data = bytes | bytearray | memoryview

#: VCL NAL unit types (the picture's slices) and the IDR ones among them, per codec.
_H264_VCL, _H264_IDR = frozenset(range(1, 6)), frozenset({5})
_HEVC_VCL, _HEVC_IDR = frozenset(range(0, 32)), frozenset({19, 20})


def length_size(codec: str, extradata: bytes | None) -> int:
    """Bytes of each NAL length prefix in this stream's packets (1, 2 or 4), or 0 where the
    packets are not known to be length-prefixed (no ``avcC``/``hvcC`` record: Annex B, or a
    codec other than H.264/HEVC)."""
    if not extradata:
        return 0
    if codec == "h264" and len(extradata) >= 7 and extradata[0] == 1:
        size = (extradata[4] & 3) + 1  # avcC: lengthSizeMinusOne
    elif codec == "hevc" and len(extradata) >= 23 and extradata[0] == 1:
        size = (extradata[21] & 3) + 1  # hvcC: lengthSizeMinusOne
    else:
        return 0
    return size if size in (1, 2, 4) else 0


def nal_types(codec: str, data: Data, size: int) -> list[int] | None:
    """The NAL unit types of one length-prefixed packet in order, or ``None`` if the lengths do
    not tile the packet exactly (malformed: not trusted)."""
    out: list[int] = []
    i, n = 0, len(data)
    while i < n:
        if i + size >= n:
            return None
        length = int.from_bytes(data[i:i + size], "big")
        start = i + size
        if length == 0 or start + length > n:
            return None
        head = data[start]
        if head & 0x80:  # forbidden_zero_bit
            return None
        out.append(head & 0x1F if codec == "h264" else (head >> 1) & 0x3F)
        i = start + length
    return out or None


def is_idr(codec: str, data: Data, size: int) -> bool:
    """True only if the packet is a whole IDR picture: it parses, has slices, and every slice
    is an IDR slice (a picture mixing IDR and non-IDR slices is not allowed, and not trusted)."""
    if size not in (1, 2, 4) or codec not in ("h264", "hevc"):
        return False
    types = nal_types(codec, data, size)
    if types is None:
        return False
    vcl, idr = (_H264_VCL, _H264_IDR) if codec == "h264" else (_HEVC_VCL, _HEVC_IDR)
    slices = [t for t in types if t in vcl]
    return bool(slices) and all(t in idr for t in slices)
