"""The issuer–bureau exchange and the data-preparation job (Part 10 §5.3, §6.2, §6.3).

- :mod:`.parties`: each party's RSA key pairs (one to decrypt, one to sign) and the
  public file it hands the other party;
- :mod:`.sealed`: the exchanged file, encrypted to the recipient and signed by the sender;
- :mod:`.prepare`: data preparation, a pure function per card (factors → the card's
  keys → records → ciphertexts and MACs under the batch transport key);
- :mod:`.engine`: the same preparation in one process or partitioned on
  ``dask.distributed``;
- :mod:`.issuer`: reserve and export a batch, import the bureau's result;
- :mod:`.bureau`: open the file, personalise, sign the result, delete the data.
"""
