"""Terminals: transports, operations, PSAM/HSM authentication, the national reader interface."""
