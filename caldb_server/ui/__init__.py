"""The web interface: calibration scientists browse, compare, upload and curate in a browser.

Server-rendered pages (Jinja2 templates in ``templates/ui/``, one stylesheet and a little
JavaScript in ``static/``, no build chain), served by the same application as the API, in
the blueprint ``ui`` mounted at ``/``. The pages are thin views over the same service
functions as the API, under the same access marks; only three things differ from the API,
each registered in its one place here:

- who is calling comes from a signed session cookie (:mod:`.session`), not a bearer token;
- every form is protected against cross-site requests (Flask-WTF's CSRF token);
- errors are pages (:mod:`.pages`), and the Content-Security-Policy lets pages load their
  own stylesheet, scripts and images, and nothing else: no inline script or style.
"""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from caldb_server.auth.access import set_authenticator
from caldb_server.errors import set_problem_renderer
from caldb_server.headers import set_content_security_policy
from caldb_server.ui import pages, session
from caldb_server.ui import views as _views  # noqa: F401 - importing it registers the pages
from caldb_server.ui.blueprint import PAGE_POLICY, blueprint

__all__ = ["PAGE_POLICY", "blueprint", "init_app"]

csrf = CSRFProtect()


def init_app(app: Flask, secret_key: str) -> None:
    """Mount the web interface on ``app`` (before the access rules are checked)."""
    session.init_app(app, secret_key)
    # No Referer check over HTTPS: every answer says Referrer-Policy: no-referrer, so browsers
    # send none; the session-bound token and the SameSite=Lax cookie stop cross-site forms.
    app.config.update(
        WTF_CSRF_CHECK_DEFAULT=False, WTF_CSRF_TIME_LIMIT=None, WTF_CSRF_SSL_STRICT=False
    )
    csrf.init_app(app)
    app.register_blueprint(blueprint)
    set_content_security_policy(app, blueprint.name, PAGE_POLICY)
    set_authenticator(app, blueprint.name, session.session_principal)
    set_problem_renderer(app, blueprint.name, pages.problem_page)
    set_problem_renderer(app, "", pages.problem_page_or_json)


@blueprint.before_request
def _protect_forms() -> None:
    """Every state-changing request of the interface carries the form's CSRF token."""
    csrf.protect()  # GET, HEAD and OPTIONS pass (WTF_CSRF_METHODS)
