"""The Gradio web chat (`sourcechat serve`)."""

from ui.app import Handlers, build_app, serve

__all__ = ["Handlers", "build_app", "serve"]
