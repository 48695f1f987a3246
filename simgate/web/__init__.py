"""Pages served to people in a browser: the encrypted-message page and the dashboard.

The dashboard (``/dashboard/``) is server-rendered: Jinja2 templates (``templates/``), htmx for
in-place updates, and our own CSS and script (``static/``); htmx is copied from npm into
``static/vendor/`` by ``make assets``. Each page group is one module with a ``router``,
registered in ``web.app.ROUTERS``; the menu is ``web.navigation.NAV``.
"""
