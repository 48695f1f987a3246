"""The dashboard's gate, over real HTTP: redirects to sign in, sessions, anti-forgery tokens,
first-run setup, sign-in throttling and password change."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.server import PASSWORD, LiveServer
from tests.support.webforms import TOKEN, form_token, sign_in


class TestRedirects:
    def test_the_root_goes_to_the_dashboard(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        with shared_servers().client() as http:
            for path in ("/", "/dashboard"):
                answer = http.get(path)
                assert answer.status_code == 302
                assert answer.headers["location"] == "/dashboard/"

    def test_a_page_without_a_session_goes_to_sign_in_and_comes_back(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        account = live.create_account()
        with live.client() as http:
            answer = http.get("/dashboard/sent?status=failed")
            assert answer.status_code == 302
            assert (
                answer.headers["location"]
                == "/dashboard/login?next=/dashboard/sent%3Fstatus%3Dfailed"
            )
            token = form_token(http, answer.headers["location"])
            signed = http.post(
                "/dashboard/login",
                data={
                    "email": account.email,
                    "password": PASSWORD,
                    "next": "/dashboard/sent?status=failed",
                    "csrf_token": token,
                },
            )
            assert signed.status_code == 303
            assert signed.headers["location"] == "/dashboard/sent?status=failed"
            assert http.get("/dashboard/sent?status=failed").status_code == 200

    def test_next_never_leads_to_another_site(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        account = live.create_account()
        for evil in ("https://evil.test/", "//evil.test/dashboard", "/dashboard\\@evil.test"):
            with live.client() as http:
                signed = http.post(
                    "/dashboard/login",
                    data={
                        "email": account.email,
                        "password": PASSWORD,
                        "next": evil,
                        "csrf_token": form_token(http, "/dashboard/login"),
                    },
                )
                assert signed.headers["location"] == "/dashboard/"


class TestSessionCookie:
    def test_the_cookie_is_httponly_samesite_and_scoped(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        with live.client() as http:
            answer = sign_in(http, live.create_account())
            assert answer.status_code == 303
            cookie = answer.headers["set-cookie"]
            assert cookie.startswith("simgate_session=")
            assert "HttpOnly" in cookie
            assert "SameSite=lax" in cookie
            assert "Path=/dashboard" in cookie
            assert "Secure" not in cookie  # plain http on loopback

    def test_the_cookie_is_secure_when_the_public_address_is_https(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers(public_base_url="https://gateway.example.test")
        with live.client() as http:
            cookie = sign_in(http, live.create_account()).headers["set-cookie"]
            assert "Secure" in cookie

    def test_a_tampered_cookie_is_not_a_session(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        with live.client() as http:
            sign_in(http, live.create_account())
            value = http.cookies["simgate_session"]
            http.cookies.set("simgate_session", "x" + value[1:], path="/dashboard")
            assert http.get("/dashboard/").status_code == 302

    def test_an_idle_session_ends_and_the_page_asks_to_sign_in_again(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers(dashboard_idle_seconds=60)
        with live.client() as http:
            sign_in(http, live.create_account())
            assert http.get("/dashboard/").status_code == 200
            start = live.ctx.clock()
            live.ctx.clock = lambda: start + 59_000  # still inside the idle time
            assert http.get("/dashboard/").status_code == 200
            live.ctx.clock = lambda: start + 59_000 + 61_000  # idle for 61 s
            answer = http.get("/dashboard/devices")
            assert answer.status_code == 302
            assert answer.headers["location"] == "/dashboard/login?next=/dashboard/devices"
            live.ctx.clock = lambda: start  # the session is gone, not just out of time
            assert http.get("/dashboard/").status_code == 302

    def test_signing_out_ends_the_session_even_for_a_copied_cookie(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        with live.client() as http:
            sign_in(http, live.create_account())
            copied = http.cookies["simgate_session"]
            token = TOKEN.search(http.get("/dashboard/").text).group(1)  # type: ignore[union-attr]
            assert http.post("/dashboard/logout", data={"csrf_token": token}).status_code == 303
        with live.client(cookies={"simgate_session": copied}) as thief:
            assert thief.get("/dashboard/").status_code == 302


class TestCsrf:
    def test_a_post_without_the_token_is_refused(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        with live.client() as http:
            sign_in(http, live.create_account())
            for data in ({}, {"csrf_token": "0" * 64}):
                refused = http.post("/dashboard/logout", data=data)
                assert refused.status_code == 403
                assert "did not come from this dashboard" in refused.text
            assert http.get("/dashboard/").status_code == 200  # still signed in

    def test_the_token_of_another_session_does_not_work(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        with live.client() as mine, live.client() as theirs:
            sign_in(mine, live.create_account())
            sign_in(theirs, live.create_account())
            their_token = TOKEN.search(theirs.get("/dashboard/").text).group(1)  # type: ignore[union-attr]
            assert (
                mine.post("/dashboard/logout", data={"csrf_token": their_token}).status_code == 403
            )

    def test_htmx_requests_carry_the_token_in_a_header(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        with live.client() as http:
            sign_in(http, live.create_account())
            token = TOKEN.search(http.get("/dashboard/").text).group(1)  # type: ignore[union-attr]
            answer = http.post("/dashboard/logout", headers={"X-CSRF-Token": token})
            assert answer.status_code == 303

    def test_signing_in_needs_the_form_token_too(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        account = live.create_account()
        with live.client() as http:
            refused = http.post(
                "/dashboard/login", data={"email": account.email, "password": PASSWORD}
            )
            assert refused.status_code == 403
            assert "simgate_session" not in http.cookies


class TestSignIn:
    def test_a_wrong_password_is_refused_without_saying_which_field(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        account = live.create_account()
        with live.client() as http:
            wrong = sign_in(http, account, password="not the password")
            assert wrong.status_code == 400
            assert "Wrong e-mail or password." in wrong.text
            unknown = http.post(
                "/dashboard/login",
                data={
                    "email": "nobody@example.test",
                    "password": PASSWORD,
                    "csrf_token": form_token(http, "/dashboard/login"),
                },
            )
            assert unknown.status_code == 400
            assert "Wrong e-mail or password." in unknown.text
            assert "simgate_session" not in http.cookies

    def test_repeated_failures_slow_down_then_answer_429_with_retry_after(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers(
            dashboard_signin_free_failures=2,
            dashboard_signin_max_failures=4,
            dashboard_signin_delay_seconds=0.4,
        )
        account = live.create_account()
        with live.client() as http:
            times = []
            for _ in range(4):
                answer = sign_in(http, account, password="guess")
                assert answer.status_code == 400
                times.append(answer.elapsed.total_seconds())
            assert max(times[:2]) < 0.4 <= min(times[2:])  # the 3rd and 4th waited
            refused = sign_in(http, account)  # even the right password, for now
            assert refused.status_code == 429
            assert 800 <= int(refused.headers["retry-after"]) <= 900
            assert "Too many failed attempts" in refused.text
            assert "simgate_session" not in http.cookies
        other = live.create_account()
        with live.client() as http:  # another account from the same address is not affected
            assert sign_in(http, other).status_code == 303


class TestFirstRunSetup:
    def test_setup_exists_only_while_there_is_no_account(
        self, server_factory: Callable[..., LiveServer]
    ) -> None:
        live = server_factory()
        with live.client() as http:
            assert http.get("/dashboard/login").headers["location"] == "/dashboard/setup"
            token = form_token(http, "/dashboard/setup")
            made = http.post(
                "/dashboard/setup",
                data={
                    "email": "Owner@Example.test",
                    "password": "a long enough one",
                    "confirm": "a long enough one",
                    "csrf_token": token,
                },
            )
            assert made.status_code == 200
            assert "Your account is ready" in made.text
            assert http.get("/dashboard/").status_code == 200  # signed in already
            again = http.get("/dashboard/setup")
            assert again.status_code == 404
            late = http.post(
                "/dashboard/setup",
                data={
                    "email": "intruder@example.test",
                    "password": "another password",
                    "confirm": "another password",
                    "csrf_token": TOKEN.search(http.get("/dashboard/").text).group(1),  # type: ignore[union-attr]
                },
            )
            assert late.status_code == 404
        with live.client() as fresh:
            assert fresh.get("/dashboard/setup").status_code == 404
            assert fresh.get("/dashboard/login").status_code == 200

    def test_setup_refuses_mismatched_or_short_passwords(
        self, server_factory: Callable[..., LiveServer]
    ) -> None:
        live = server_factory()
        with live.client() as http:
            token = form_token(http, "/dashboard/setup")
            for password, confirm, said in (
                ("one password", "another one", "not the same"),
                ("short", "short", "at least 8 characters"),
            ):
                answer = http.post(
                    "/dashboard/setup",
                    data={
                        "email": "owner@example.test",
                        "password": password,
                        "confirm": confirm,
                        "csrf_token": token,
                    },
                )
                assert answer.status_code == 400
                assert said in answer.text
            assert http.get("/dashboard/setup").status_code == 200  # still no account


class TestPasswordChange:
    def test_a_new_password_signs_out_the_other_browsers(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        account = live.create_account()
        with live.client() as here, live.client() as elsewhere:
            sign_in(here, account)
            sign_in(elsewhere, account)
            token = form_token(here, "/dashboard/password")
            wrong = here.post(
                "/dashboard/password",
                data={
                    "current": "nope",
                    "new": "new password 1",
                    "confirm": "new password 1",
                    "csrf_token": token,
                },
            )
            assert wrong.status_code == 400
            assert "current password is not right" in wrong.text
            changed = here.post(
                "/dashboard/password",
                data={
                    "current": PASSWORD,
                    "new": "new password 1",
                    "confirm": "new password 1",
                    "csrf_token": token,
                },
            )
            assert changed.status_code == 200
            assert "Your password is changed" in changed.text
            assert here.get("/dashboard/").status_code == 200
            assert elsewhere.get("/dashboard/").status_code == 302
        with live.client() as later:
            assert sign_in(later, account).status_code == 400
            assert sign_in(later, account, password="new password 1").status_code == 303
