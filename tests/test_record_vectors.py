"""Every record type's VECTORS, both ways: decode(bytes) == content, encode back."""

from __future__ import annotations

import pytest

from sbkcard.applet_model.records import CONTENT_TYPES, FileContent

VECTORS = [
    pytest.param(cls, raw, expected, id=f"{cls.__name__}-{n}")
    for cls in CONTENT_TYPES.values()
    for n, (raw, expected) in enumerate(cls.VECTORS)
]


def test_vectors_cover_the_main_files() -> None:
    covered = {cls.PATH for cls in CONTENT_TYPES.values() if cls.VECTORS}
    assert {"SSSE/EF05", "SSSE/EF06", "SSSE/DF04/EF08"} <= covered


@pytest.mark.parametrize(("cls", "raw", "expected"), VECTORS)
def test_vector(cls: type[FileContent], raw: bytes, expected: FileContent) -> None:
    assert type(expected) is cls
    assert cls.decode(raw) == expected
    assert expected.encode() == raw
