"""The dashboard's forms over plain HTTP: their anti-forgery token, signing in as a browser does."""

from __future__ import annotations

import re

import httpx

from tests.support.server import PASSWORD, Account

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_token(http: httpx.Client, path: str) -> str:
    """The anti-forgery token of the form on ``path`` (the page sets its cookie)."""
    page = http.get(path)
    assert page.status_code == 200, page.text
    found = TOKEN.search(page.text)
    assert found, f"no csrf_token field on {path}"
    return found.group(1)


def sign_in(http: httpx.Client, account: Account, password: str = PASSWORD) -> httpx.Response:
    """Post the sign-in form as a browser would (token included); the answer."""
    token = form_token(http, "/dashboard/login")
    return http.post(
        "/dashboard/login",
        data={"email": account.email, "password": password, "csrf_token": token},
    )
