"""How errors look on the dashboard: an HTML page instead of the API's JSON body.

``simgate.api.errors`` stays the one place that maps errors to statuses; for paths under
``/dashboard`` it asks :func:`page` for the body. Signing in is not an error page: a request
without a valid session goes to the sign-in page (htmx requests are told with ``HX-Redirect``,
so the whole page moves instead of a fragment turning into a form).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from simgate.domain.errors import SignInRequired
from simgate.web import sessions
from simgate.web.templating import render

TITLES = {
    400: "That did not work",
    403: "Refused",
    404: "Not found",
    409: "Not possible now",
    413: "Too large",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Unavailable",
}


def page(
    request: Request, status: int, code: str, message: str, headers: dict[str, str] | None
) -> Response:
    """The dashboard's answer for an error of ``status``/``code``."""
    if code == SignInRequired.code:
        reading = request.method == "GET"
        target = sessions.login_url(sessions.next_url(request)) if reading else "/dashboard/login"
        if request.headers.get("hx-request") == "true":
            return Response(status_code=401, headers={"HX-Redirect": target})
        # 302 for a page (the browser comes back with GET); 303 after a form, for the same.
        return RedirectResponse(target, status_code=302 if reading else 303)
    return render(
        request,
        "error.html",
        status=status,
        headers=headers,
        title=TITLES.get(status, "Error"),
        message=message,
        code=code,
    )
