"""What kind of audio a file holds, and how long it plays (call recordings, issue 13: B2).

`audio_type` reads the container's own structure, not the name or the declared type: the
general sniffer (the attachments' one) calls an .m4a and a .webm "video" by their container,
and a renamed video would pass for audio on the container alone, so MP4 and WebM files are
walked to their track list and refused when any track is video. `duration_seconds` asks
mutagen (pure Python, reads MP3, WAV, Ogg, FLAC, MP4 and AAC durations); WebM has no
mutagen reader, so its duration is unknown (None), as it is for a file mutagen cannot read.
"""

from __future__ import annotations

import contextlib
import logging
import math
import struct
from typing import BinaryIO

log = logging.getLogger("dossier.audio")

# MIME types of the audio we accept, as `audio_type` answers them.
MPEG, WAV, OGG, FLAC, MP4, AAC, WEBM = (
    "audio/mpeg", "audio/wav", "audio/ogg", "audio/flac", "audio/mp4", "audio/aac", "audio/webm",
)  # fmt: skip
ACCEPTED = (MPEG, WAV, OGG, FLAC, MP4, AAC, WEBM)
EXTENSIONS = {MPEG: "mp3", WAV: "wav", OGG: "ogg", FLAC: "flac", MP4: "m4a", AAC: "aac", WEBM: "webm"}

# How much of a file's start the MP4/WebM walks may read looking for the track list.
_SCAN_LIMIT = 64 * 1024 * 1024
_OGG_AUDIO = (b"OpusHead", b"\x01vorbis", b"\x7fFLAC", b"Speex   ")
_MP4_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}


def audio_type(file: BinaryIO) -> str | None:
    """The audio MIME type of a seekable file (read from its start), or None if it is not audio."""
    file.seek(0)
    head = file.read(64)
    if head[:3] == b"ID3":
        return MPEG
    if len(head) >= 4 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        layer = (head[1] >> 1) & 0b11
        if layer == 0:  # ADTS: AAC in MPEG's frame sync, layer bits 00
            return AAC if head[1] & 0xF6 == 0xF0 else None
        bitrate, rate = head[2] >> 4, (head[2] >> 2) & 0b11
        return MPEG if bitrate != 0xF and rate != 0b11 else None
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return WAV
    if head[:4] == b"fLaC":
        return FLAC
    if head[:4] == b"OggS":
        # The first page holds the first stream's identification header (Theora is video).
        return OGG if any(marker in head[28:64] for marker in _OGG_AUDIO) else None
    if head[4:8] == b"ftyp":
        return MP4 if _mp4_is_audio(file, head[8:12]) else None
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return WEBM if _webm_is_audio(file) else None
    return None


def duration_seconds(file: BinaryIO, mime: str) -> int | None:
    """How long the audio plays, in whole seconds (rounded up), or None when unknown."""
    from mutagen import MutagenError, aac, flac, mp3, mp4, oggflac, oggopus, oggspeex, oggvorbis, wave

    readers = {
        MPEG: (mp3.MP3,),
        WAV: (wave.WAVE,),
        FLAC: (flac.FLAC,),
        MP4: (mp4.MP4,),
        AAC: (aac.AAC,),
        OGG: (oggopus.OggOpus, oggvorbis.OggVorbis, oggflac.OggFLAC, oggspeex.OggSpeex),
    }
    for reader in readers.get(mime, ()):
        file.seek(0)
        try:
            length = reader(file).info.length
        except (MutagenError, ValueError, struct.error, EOFError, IndexError):
            continue
        if length and math.isfinite(length) and length > 0:
            return math.ceil(length)
        return None
    return None


# -- MP4: the handler of every track (moov/trak/mdia/hdlr) -----------------------------------


def _mp4_is_audio(file: BinaryIO, brand: bytes) -> bool:
    handlers = _mp4_handlers(file)
    if handlers is None:  # no moov found within reach: only an audio brand says audio
        return brand in _MP4_AUDIO_BRANDS
    return b"soun" in handlers and b"vide" not in handlers


def _mp4_handlers(file: BinaryIO) -> set[bytes] | None:
    file.seek(0, 2)
    end = file.tell()
    handlers: set[bytes] = set()
    found_moov = False

    def walk(start: int, stop: int, path: tuple[bytes, ...]) -> None:
        nonlocal found_moov
        position = start
        while position + 8 <= stop:
            file.seek(position)
            size, kind = struct.unpack(">I4s", file.read(8))
            header = 8
            if size == 1:
                size, header = struct.unpack(">Q", file.read(8))[0], 16
            elif size == 0:
                size = stop - position
            if size < header:
                return
            if kind == b"moov":
                found_moov = True
            if kind in (b"moov", b"trak", b"mdia"):
                walk(position + header, min(position + size, stop), (*path, kind))
            elif kind == b"hdlr" and path[-1:] == (b"mdia",):
                file.seek(position + header + 8)  # version/flags (4), pre_defined (4)
                handlers.add(file.read(4))
            position += size

    with contextlib.suppress(struct.error):  # a truncated box: judge by what was read
        walk(0, end, ())
    return handlers if found_moov else None


# -- WebM / Matroska: the TrackType of every TrackEntry (Segment/Tracks/TrackEntry) ----------

_SEGMENT, _TRACKS, _TRACK_ENTRY, _TRACK_TYPE, _CLUSTER = 0x18538067, 0x1654AE6B, 0xAE, 0x83, 0x1F43B675
_EBML, _DOC_TYPE = 0x1A45DFA3, 0x4282
_VIDEO_TRACK, _AUDIO_TRACK = 1, 2


def _vint(file: BinaryIO, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer: (value, length); the all-ones size is returned as -1."""
    first = file.read(1)
    if not first:
        return None
    byte = first[0]
    length = 1
    while length <= 8 and not byte & (0x80 >> (length - 1)):
        length += 1
    if length > 8:
        return None
    rest = file.read(length - 1)
    if len(rest) != length - 1:
        return None
    value = byte if keep_marker else byte & (0xFF >> length)
    for b in rest:
        value = (value << 8) | b
    if not keep_marker and value == (1 << (7 * length)) - 1:
        return -1, length
    return value, length


def _webm_is_audio(file: BinaryIO) -> bool:
    types: list[int] = []
    doc_type = b""

    def walk(start: int, stop: int) -> bool:
        """False once the walk should stop (clusters reached, or a malformed element)."""
        nonlocal doc_type
        position = start
        while position < stop:
            file.seek(position)
            element = _vint(file, keep_marker=True)
            size = _vint(file, keep_marker=False)
            if element is None or size is None:
                return False
            (element_id, id_length), (length, size_length) = element, size
            body = position + id_length + size_length
            end = stop if length < 0 else body + length
            if element_id == _CLUSTER:
                return False
            if element_id in (_EBML, _SEGMENT, _TRACKS, _TRACK_ENTRY):
                if not walk(body, min(end, stop)):
                    return False
            elif element_id == _DOC_TYPE:
                doc_type = file.read(min(length, 16))
            elif element_id == _TRACK_TYPE and 0 < length <= 8:
                types.append(int.from_bytes(file.read(length), "big"))
            if length < 0:
                return True
            position = end
        return True

    file.seek(0, 2)
    walk(0, min(file.tell(), _SCAN_LIMIT))
    return doc_type in (b"webm", b"matroska") and _AUDIO_TRACK in types and _VIDEO_TRACK not in types
