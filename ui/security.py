"""Response headers that keep the web chat's page to its own origin.

Rendering escapes document and model text (ui/render.py); this Content-Security-Policy
contains any mistake there: the browser loads images, scripts, styles, fonts, frames
and connections only from the app itself (plus `data:`/`blob:` images and fonts, which
Gradio and the viewer's rendered PDF pages use). Gradio's page needs inline scripts and
styles and evaluates the app's `js` hooks, so those stay allowed — but only ever from
this origin: no document can make the browser contact another host.
"""

from __future__ import annotations

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' data: blob:",
    "font-src 'self' data:",
    "style-src 'self' 'unsafe-inline'",
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
    "connect-src 'self'",
    "frame-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'self'",
])
HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class SecurityHeaders:
    """ASGI middleware: every HTTP response gets HEADERS (replacing any of the same name)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        """Pass the request on; add the headers to the response's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {name for name, _ in HEADERS}
                message["headers"] = [(k, v) for k, v in message.get("headers", [])
                                      if k.lower() not in names] + HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)
