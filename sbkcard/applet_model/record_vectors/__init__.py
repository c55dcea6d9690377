"""Known answers for every file's content: ``(file bytes, typed content)`` pairs.

Each module gives the ``VECTORS`` of one DF's content types (:mod:`sbkcard.applet_model.records`).
The bytes come from the standard's own examples and real cards where they exist; the
others are assembled by hand, item by item, from the tag, length and format of S2
table 9 and the file tables 3–8, with values from the code tables the standard names,
and each is explained in its comments. A test decodes each and encodes it back.
"""

from sbkcard.applet_model.record_vectors import df01, df02, df03, df04, df07, ssse

__all__ = ["df01", "df02", "df03", "df04", "df07", "ssse"]
