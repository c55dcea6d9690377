"""Every record type's VECTORS, both ways: decode(bytes) == content, encode back."""

from __future__ import annotations

import pytest

from sbkcard.applet_model.records import CONTENT_TYPES, FileContent
from sbkcard.applet_model.ssse import Layout

TYPES = tuple(dict.fromkeys(CONTENT_TYPES.values()))  # EF16–EF1A share one type
VECTORS = [
    pytest.param(cls, raw, expected, layout, id=f"{cls.__name__}-{layout.name}-{n}")
    for cls in TYPES
    for layout, vectors in ((Layout.V2, cls.VECTORS), (Layout.V1, cls.V1_VECTORS))
    for n, (raw, expected) in enumerate(vectors)
]


def test_every_content_type_has_a_vector() -> None:
    assert sorted(cls.__name__ for cls in TYPES if not cls.VECTORS) == []


@pytest.mark.parametrize(("cls", "raw", "expected", "layout"), VECTORS)
def test_vector(cls: type[FileContent], raw: bytes, expected: FileContent, layout: Layout) -> None:
    assert type(expected) is cls
    assert cls.decode(raw, layout) == expected
    assert expected.encode(layout) == raw
