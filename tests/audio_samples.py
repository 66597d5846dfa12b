"""Small audio (and not-audio) files built in code for the recording tests: no binary fixtures."""

from __future__ import annotations

import io
import struct
import wave


def wav(seconds: float = 2.0, rate: int = 8000) -> bytes:
    """A mono 16-bit PCM WAV of silence."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))
    return out.getvalue()


def mp3(seconds: int = 3) -> bytes:
    """MPEG-1 Layer III frames at 128 kbit/s, 44.1 kHz (417 bytes, 1152 samples each), after an
    ID3v2 tag: what a recorder writes, with silent payloads."""
    header = bytes([0xFF, 0xFB, 0x90, 0x64])
    frame = header + b"\x00" * (417 - 4)
    frames = int(seconds * 44100 / 1152)  # a whole number of frames, just under `seconds`
    id3 = b"ID3\x04\x00\x00\x00\x00\x00\x00"  # an empty ID3v2.4 tag
    return id3 + frame * frames


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def mp4(handler: bytes = b"soun", brand: bytes = b"isom") -> bytes:
    """An MP4 skeleton (ftyp, moov/trak/mdia/hdlr) whose one track has the given handler:
    b"soun" for audio, b"vide" for a video."""
    hdlr = _box(b"hdlr", b"\x00" * 8 + handler + b"\x00" * 12 + b"\x00")
    moov = _box(b"moov", _box(b"trak", _box(b"mdia", hdlr)))
    return _box(b"ftyp", brand + b"\x00\x00\x02\x00" + brand) + moov + _box(b"mdat", b"\x00" * 64)


def _ebml(element_id: int, payload: bytes) -> bytes:
    ident = element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")
    return ident + b"\x01" + len(payload).to_bytes(7, "big") + payload  # an 8-byte size


def webm(track_type: int = 2) -> bytes:
    """A WebM skeleton with one track: 2 audio (what MediaRecorder writes for a call), 1 video."""
    header = _ebml(0x1A45DFA3, _ebml(0x4282, b"webm"))
    entry = _ebml(0xAE, _ebml(0xD7, b"\x01") + _ebml(0x83, bytes([track_type])))
    segment = _ebml(0x18538067, _ebml(0x1654AE6B, entry) + _ebml(0x1F43B675, b"\x00" * 32))
    return header + segment


def ogg_opus() -> bytes:
    """The first Ogg page of an Opus stream (enough for the type check)."""
    head = b"OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00"
    page = b"OggS\x00\x02" + b"\x00" * 8 + b"\x01\x00\x00\x00" + b"\x00" * 8 + b"\x01" + bytes([len(head)])
    return page + head


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17
