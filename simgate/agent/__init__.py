"""The device agent: connects a phone or modem to a simgate server over the device protocol.

It runs on phones (Termux) and small boxes, so everything under ``simgate.agent`` imports only
the standard library, ``websockets``, ``typer`` and :mod:`simgate.protocol`, never server code.
The pieces:

* :mod:`~simgate.agent.runner`: one run's lifecycle (connect, hello/welcome, reconnects, stop),
  configured by :mod:`~simgate.agent.config`;
* :mod:`~simgate.agent.connection`: one live WebSocket (reader, writer, watchdog);
* :mod:`~simgate.agent.transmitter`: the send path (``send`` to the radio, GUID de-duplication);
* :mod:`~simgate.agent.events`: what the driver reports unasked (inbound SMS, battery, signal);
* :mod:`~simgate.agent.outbox`: the durable local state, kept in a
  :mod:`~simgate.agent.ledger` of GUID outcomes and a :mod:`~simgate.agent.statefile`;
* :mod:`~simgate.agent.drivers` (the radio) and :mod:`~simgate.agent.command` (``simgate agent``).

This module re-exports nothing so that importing a driver does not import the WebSocket stack.
"""
