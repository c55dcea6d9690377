"""Identifiers and data formats of the social security card (S2 §7–§8).

Social security numbers (:mod:`.ssn`), card numbers (:mod:`.card_number`), the card
identification code (:mod:`.card_id`), GB/T 2260 region codes (:mod:`.regions`), the ATR
(:mod:`.atr`) and the ``an``/``cn``/``b`` formats (:mod:`.formats`). Every check raises
:class:`IdentifierError` (or its subclass :class:`FormatError`) naming the field.
"""

# Re-exported with "as" rather than listed in __all__, so that the API reference documents
# each object once, under the module that defines it.
from sbkcard.identifiers.atr import historical_bytes as historical_bytes
from sbkcard.identifiers.atr import make_atr as make_atr
from sbkcard.identifiers.card_id import CardId as CardId
from sbkcard.identifiers.card_number import card_number_check_char as card_number_check_char
from sbkcard.identifiers.card_number import make_card_number as make_card_number
from sbkcard.identifiers.card_number import validate_card_number as validate_card_number
from sbkcard.identifiers.errors import FormatError as FormatError
from sbkcard.identifiers.errors import IdentifierError as IdentifierError
from sbkcard.identifiers.formats import decode_an as decode_an
from sbkcard.identifiers.formats import decode_b as decode_b
from sbkcard.identifiers.formats import decode_cn as decode_cn
from sbkcard.identifiers.formats import decode_date as decode_date
from sbkcard.identifiers.formats import encode_an as encode_an
from sbkcard.identifiers.formats import encode_b as encode_b
from sbkcard.identifiers.formats import encode_cn as encode_cn
from sbkcard.identifiers.formats import encode_date as encode_date
from sbkcard.identifiers.regions import REGIONS as REGIONS
from sbkcard.identifiers.regions import region_name as region_name
from sbkcard.identifiers.regions import validate_region as validate_region
from sbkcard.identifiers.ssn import ssn_check_char as ssn_check_char
from sbkcard.identifiers.ssn import validate_ssn as validate_ssn
