"""The standard's cryptography and key management (Part 4 §7–§9; Part 9 §7).

Small pure functions over bytes: block ciphers (:mod:`.ciphers`), the MAC and TAC
(:mod:`.mac`), data encryption (:mod:`.encryption`), diversification (:mod:`.derivation`,
:mod:`.factors`), session keys and authentication data (:mod:`.session`), KCVs and SM3;
the key table and hierarchy of the user card in :mod:`sbkcard.keys.hierarchy`.
"""

# Re-exported with "as" rather than listed in __all__, so that the API reference documents
# each object once, under the module that defines it.
from sbkcard.keys.check_value import kcv as kcv
from sbkcard.keys.ciphers import Algorithm as Algorithm
from sbkcard.keys.ciphers import decrypt_block as decrypt_block
from sbkcard.keys.ciphers import encrypt_block as encrypt_block
from sbkcard.keys.derivation import diversify as diversify
from sbkcard.keys.derivation import diversify_batch as diversify_batch
from sbkcard.keys.encryption import decrypt_data as decrypt_data
from sbkcard.keys.encryption import encrypt_data as encrypt_data
from sbkcard.keys.errors import CryptoError as CryptoError
from sbkcard.keys.errors import DataLengthError as DataLengthError
from sbkcard.keys.errors import KeyHierarchyError as KeyHierarchyError
from sbkcard.keys.errors import KeyLengthError as KeyLengthError
from sbkcard.keys.errors import PaddingError as PaddingError
from sbkcard.keys.errors import UnknownKeyError as UnknownKeyError
from sbkcard.keys.errors import UnsupportedAlgorithmError as UnsupportedAlgorithmError
from sbkcard.keys.factors import card_factor as card_factor
from sbkcard.keys.factors import city_factor as city_factor
from sbkcard.keys.factors import province_factor as province_factor
from sbkcard.keys.hashing import sm3 as sm3
from sbkcard.keys.mac import mac as mac
from sbkcard.keys.mac import tac as tac
from sbkcard.keys.session import auth_data as auth_data
from sbkcard.keys.session import session_key as session_key
from sbkcard.keys.store import KeyStore as KeyStore
from sbkcard.keys.store import KeyStoreError as KeyStoreError
from sbkcard.keys.store_keyset import StoreKeySet as StoreKeySet
from sbkcard.keys.store_keyset import load_keyset as load_keyset
from sbkcard.keys.store_keyset import open_store as open_store
