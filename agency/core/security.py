"""Headers every response carries, decided here once for pages, the API, downloads and errors alike."""

from flask import Flask, Response, current_app, request

# Nothing inline: scripts and styles come only from static/, so markup injected into a page cannot
# run (no inline <script>, on...= handlers, javascript: URLs or style attributes). Charts are SVG
# drawn inline on the server, which the policy allows; images may also be data: URLs, which cannot
# run script. No page may frame this one (the facility portal must not be overlaid by another site:
# clickjacking), and forms post only back here.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "object-src 'none'",
    "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
])

# same-origin: links to other sites (a licensing board, a payer) get no Referer at all, so no id,
# search or private token in our URLs leaves the site; our own requests keep it, which CSRF checks
# over HTTPS need (Flask-WTF compares the Referer with the host).
REFERRER_POLICY = "same-origin"


def init_app(app: Flask) -> None:
    app.after_request(secure_headers)


def secure_headers(response: Response) -> Response:
    headers = response.headers
    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    headers["X-Frame-Options"] = "DENY"  # frame-ancestors for browsers that predate it
    headers["X-Content-Type-Options"] = "nosniff"  # an upload is shown as its declared type, never as HTML
    headers["Referrer-Policy"] = REFERRER_POLICY
    if current_app.config["ENV"] == "production" or request.is_secure:
        headers["Strict-Transport-Security"] = _hsts()
    if request.endpoint != "static":
        # Every answer but the stylesheet and script is someone's data: a clinician's licences, a
        # facility's invoices, a document, a CSV, the calendar feed. None may stay in a browser's
        # or a proxy's cache, where the next user of a shared computer (or the back button after
        # sign-out) would find it.
        headers["Cache-Control"] = "no-store"
    return response


def _hsts() -> str:
    value = f"max-age={int(current_app.config['HSTS_MAX_AGE'])}"
    return value + "; includeSubDomains" if current_app.config["HSTS_INCLUDE_SUBDOMAINS"] else value
