"""The people-facing edge: the Gradio web chat (`sourcechat serve`) and the command line.

The web chat's names load on first access, so the command line starts without gradio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ui.app import Handlers, build_app, serve

__all__ = ["Handlers", "build_app", "serve"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        import ui.app

        return getattr(ui.app, name)
    raise AttributeError(f"module 'ui' has no attribute {name!r}")
