"""Conformance suite: the standard's byte-level facts, checked against three targets.

The same tests run against every card under test; each test sends the standard's own
command bytes and checks the answer against the clause it cites (Part 3/5/7 of
the standard, S2, S3).  A target is a :class:`~sbkcard.terminal.transports.transport.Transport`:

``sim-gen2``, ``sim-gen3``
    the demo card of each generation (DES "2.00", SM4 "3.00") as an in-process
    :class:`~sbkcard.simulator.SimulatedCard`;
``pcsc-gen2``, ``pcsc-gen3``
    the same cards behind a real PC/SC stack: a private pcscd with the vpcd driver (one
    for the whole session, :class:`~sbkcard.simulator.pcscd.PcscdStack` through the
    plugin's ``sbk_pcscd`` fixture), reached through pyscard with
    :class:`~sbkcard.terminal.transports.pcsc.PcscTransport`;
``real``
    a real card in a PC/SC reader, when ``SBKCARD_REAL_READER=<reader name>`` is set
    (the full name or a unique part of it).  It is the only target that may be absent:
    without the variable it is not collected (pytest's header names the targets of the
    run), while the four simulated targets run everywhere (in CI a missing pcscd or vpcd
    is an error, not a skip).

Reading EF06 of a 3.00 card, EF07, and any test that needs an external authentication
use the terminal's own authentication
(:meth:`~sbkcard.terminal.connection.Connection.authenticate`) through a PSAM: a
simulated PSAM in-process for the simulated targets;
for the real card a PSAM in a second reader named by ``SBKCARD_REAL_PSAM_READER``
(without it those tests skip).  Tests that verify the PIN on a real card need
``SBKCARD_REAL_PIN``, and run only while the card has at least two PIN tries left.

State stays confined: every test starts with a cold reset of its target, and a
simulated card whose persistent state a test changed is put back to its fresh image
afterwards.  Tests that spend PIN or key tries (wrong PINs, failed authentications,
counters run down to zero) are marked ``destructive`` and never run on the real card.
The two tests that make one authentication fail on purpose (a replayed and a superseded
challenge) start and end with a successful one, which sets the key's counter back to
its maximum (Part 7 §6.6): run against a simulated card served as if it were a real
one, the whole ``real`` target leaves the card image byte for byte as it was.

libpcsclite reads the pcscd socket path once per process, so the private pcscd of the
``pcsc-*`` targets and the system pcscd of a real reader cannot serve one process:
with ``SBKCARD_REAL_READER`` set the targets are ``sim-gen2``, ``sim-gen3`` and
``real``.  Run the real card on its own (not with the rest of ``tests/``, whose PC/SC
tests start the private pcscd)::

    SBKCARD_REAL_READER='ACS ACR39U' SBKCARD_REAL_PSAM_READER='ACS ACR39U SAM' \\
        pytest tests/conformance -k real

Guide: ``docs/guide/75-conformance.rst``.
"""
