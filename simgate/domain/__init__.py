"""Pure domain layer of simgate: rules that hold no matter how a message arrives or leaves.

Everything here is deterministic and free of I/O (no database, no HTTP, no clock) so that the
API, the dispatcher, the store and the device agent can share one definition of what a valid
recipient, a legal state change or an SMS segment is, and so that those rules can be tested
exhaustively without any infrastructure.
"""
