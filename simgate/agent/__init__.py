"""The device agent: connects a phone or modem to a simgate server over the device protocol.

It runs on phones (Termux) and small boxes, so everything under ``simgate.agent`` imports only
the standard library, ``websockets``, ``typer`` and :mod:`simgate.protocol`, never server code.
The pieces: :mod:`~simgate.agent.runner` (connection, reconnects, acks, de-duplication),
:mod:`~simgate.agent.outbox` (the durable local state), :mod:`~simgate.agent.drivers` (the radio)
and :mod:`~simgate.agent.command` (``simgate agent``). This module re-exports nothing so that
importing a driver does not import the WebSocket stack.
"""
