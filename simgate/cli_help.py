"""What ``--help`` shows beside each option: a name for the value, never a Python type.

Typer labels values by their annotation (``<str>``, ``<int range>``, ``<path>``) and even puts
``<bool>`` beside flags, which reads as a value to give. Every option of the ``simgate``
commands gets its value's name here, in one table, so the same option reads the same in every
command (``--account EMAIL``, ``--server URL``, ``--timeout SECONDS``); flags get none. A
metavar given where an option is declared wins. ``tests/cli/test_help.py`` walks every
command's help and fails on a type name, so a new option needs an entry (or its own metavar).

Duck-typed: typer builds its commands on its own copy of Click's classes.
"""

from __future__ import annotations

from typing import Any

#: Value names by option (its long name) or argument (its parameter name).
METAVARS: dict[str, str] = {
    # who and where
    "--account": "EMAIL",
    "--email": "EMAIL",
    "--password": "PASSWORD",
    "--api-key": "KEY",
    "--server": "URL",
    "--url": "URL",
    "--host": "ADDRESS",
    "--port": "PORT",
    "--pair": "PAIRING",
    "--token": "TOKEN",
    "--name": "NAME",
    "--label": "LABEL",
    # messages and devices
    "--device": "SID",
    "--guid": "GUID",
    "--sim": "SIM",
    "--sims": "SIMS",
    "--status": "STATE",
    "--events": "EVENTS",
    "--format": "v2|legacy",
    "--delivery": "ID",
    # numbers and durations
    "--count": "N",
    "--workers": "N",
    "--limit": "N",
    "--seed": "N",
    "--import-last": "N",
    "--inject-inbound": "N",
    "--rate-per-minute": "N",
    "--rate-per-hour": "N",
    "--daily-cap": "N",
    "--expires": "DAYS",
    "--timeout": "SECONDS",
    "--delay": "SECONDS",
    "--poll-interval": "SECONDS",
    "--command-timeout": "SECONDS",
    "--connect-rate": "PER_SECOND",
    "--failure-rate": "SHARE",
    "--baud": "BAUD",
    # files and the agent's choices
    "--outbox-file": "FILE",
    "--tokens-file": "FILE",
    "--state-dir": "DIR",
    "--serial-port": "DEVICE_PATH",
    "--pin": "PIN",
    "--driver": "simulator|termux|modem",
    "--transport": "websocket|longpoll|auto",
    "--log-level": "LEVEL",
    "--log-format": "text|json",
    # arguments
    "sid": "SID",
    "guid": "GUID",
    "number": "NUMBER",
    "policy": "POLICY",
    "key_id": "KEY_ID",
    "client_id": "CLIENT_ID",
    "endpoint_id": "ENDPOINT_ID",
}


def readable_help(command: Any) -> None:
    """Name the value of every option and argument of ``command`` and its subcommands."""
    help_option = command.get_help_option(command.context_class(command))
    params = [*command.params, *([help_option] if help_option is not None else [])]
    for param in params:
        if param.param_type_name == "argument":
            # An argument's name is its value's name already (``SID``); typer would add its
            # type beside it, and has no setting to leave it out.
            param.display_type_rich = _no_type
        if param.metavar is not None:
            continue
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = ""
            continue
        longs = [opt for opt in param.opts if opt.startswith("--")]
        key = longs[0] if longs and param.param_type_name == "option" else param.name
        if key in METAVARS:
            param.metavar = METAVARS[key]
    for sub in getattr(command, "commands", {}).values():
        readable_help(sub)


def _no_type(ctx: Any = None) -> None:
    return None
