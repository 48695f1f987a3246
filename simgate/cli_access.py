"""``simgate key`` and ``simgate oauth``: an account's API keys and OAuth2 clients.

Secrets are printed once, when made; listings show ids, names and prefixes only.
"""

from __future__ import annotations

import typer

from simgate.cli_support import ACCOUNT_OPTION, JSON_OPTION, emit, run_with_context, server_settings

key_app = typer.Typer(help="Manage an account's API keys.", no_args_is_help=True)
oauth_app = typer.Typer(help="Manage an account's OAuth2 clients.", no_args_is_help=True)


def _when(ms: int | None) -> str | None:
    from simgate.domain import timefmt

    return None if ms is None else timefmt.iso_utc(ms)


@key_app.command("create")
def key_create(
    account: str = ACCOUNT_OPTION,
    name: str = typer.Option("", "--name", help="A name, to tell the keys apart."),
    expires: int | None = typer.Option(
        None, "--expires", min=1, help="Days until the key expires (default: never)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create an API key and print it (shown only now: only its digest is stored)."""
    from simgate.services import keys

    made = run_with_context(
        server_settings(), lambda ctx: keys.create_key(ctx, account, name, expires)
    )
    expiry = _when(made.expires_ms)
    emit(
        as_json,
        {"id": made.id, "api_key": made.api_key, "name": made.name, "expires_at": expiry},
        f"API key {made.id} created (shown once): {made.api_key}"
        + (f"\nExpires {expiry}" if expiry else ""),
    )


@key_app.command("list")
def key_list(account: str = ACCOUNT_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List the account's API keys by id, name and prefix (never the keys themselves)."""
    from simgate.clock import now_ms
    from simgate.services import keys

    found = run_with_context(server_settings(), lambda ctx: keys.list_keys(ctx, account))
    now = now_ms()
    rows = [
        {
            "id": item.id,
            "name": item.name,
            "prefix": item.prefix,
            "state": item.state(now),
            "created_at": _when(item.created_ms),
            "last_used_at": _when(item.last_used_ms),
            "expires_at": _when(item.expires_ms),
            "revoked_at": _when(item.revoked_ms),
        }
        for item in found
    ]
    lines = [
        f"{row['id']}\t{row['prefix']}…\t{row['state']}\t{row['name'] or '-'}"
        f"\tlast used {row['last_used_at'] or 'never'}"
        for row in rows
    ]
    emit(as_json, {"keys": rows}, "\n".join(lines) or "No API key.")


@key_app.command("revoke")
def key_revoke(
    key_id: int = typer.Argument(..., help="Id of the key (see `simgate key list`)."),
    account: str = ACCOUNT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Revoke an API key: refused from now on (by running servers within a few seconds)."""
    from simgate.services import keys

    revoked = run_with_context(server_settings(), lambda ctx: keys.revoke_key(ctx, account, key_id))
    human = f"API key {key_id} revoked." if revoked else f"API key {key_id} was already revoked."
    emit(as_json, {"id": key_id, "revoked": revoked}, human)


@oauth_app.command("create")
def oauth_create(
    account: str = ACCOUNT_OPTION,
    name: str = typer.Option("", "--name", help="A name, to tell the clients apart."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create an OAuth2 client and print its id and secret (the secret is shown only now)."""
    from simgate.services import oauth

    made = run_with_context(server_settings(), lambda ctx: oauth.create_client(ctx, account, name))
    emit(
        as_json,
        {"client_id": made.client_id, "client_secret": made.client_secret, "name": made.name},
        f"client_id: {made.client_id}\nclient_secret (shown once): {made.client_secret}",
    )


@oauth_app.command("list")
def oauth_list(account: str = ACCOUNT_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List the account's OAuth2 clients (never their secrets)."""
    from simgate.services import oauth

    found = run_with_context(server_settings(), lambda ctx: oauth.list_clients(ctx, account))
    rows = [
        {
            "client_id": item.client_id,
            "name": item.name,
            "secret_prefix": item.secret_prefix,
            "state": "revoked" if item.revoked_ms is not None else "active",
            "created_at": _when(item.created_ms),
            "last_used_at": _when(item.last_used_ms),
            "revoked_at": _when(item.revoked_ms),
        }
        for item in found
    ]
    lines = [
        f"{row['client_id']}\t{row['state']}\t{row['name'] or '-'}"
        f"\tlast used {row['last_used_at'] or 'never'}"
        for row in rows
    ]
    emit(as_json, {"clients": rows}, "\n".join(lines) or "No OAuth2 client.")


@oauth_app.command("revoke")
def oauth_revoke(
    client_id: str = typer.Argument(..., help="The client's client_id."),
    account: str = ACCOUNT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Revoke an OAuth2 client; its access tokens die with it."""
    from simgate.services import oauth

    run_with_context(server_settings(), lambda ctx: oauth.revoke_client(ctx, account, client_id))
    emit(as_json, {"client_id": client_id, "revoked": True}, f"Client {client_id} revoked.")
