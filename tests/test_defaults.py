"""One place for every default: no function, class or model below the settings gives a
setting's parameter its own default value (it drifted before: 40 tokens in the settings,
160 in the backends; 1500/200 chunks in the settings, 600/100 in the chunker)."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil

from assistant.settings import Settings

# interfaces whose defaults belong to someone else (LangChain's VectorStore signature)
ALLOWED = {("index.store", "ChunkStore.similarity_search", "k")}


def _modules():
    for package in ("corpus", "index", "assistant", "ui"):
        for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
            name = f"{package}.{info.name}"
            if name != "assistant.settings" and info.name != "__main__":
                yield name, importlib.import_module(name)


def _own_defaults(module_name, module):
    """(where, parameter, default) of everything defined in the module."""
    for attr, obj in vars(module).items():
        if getattr(obj, "__module__", None) != module_name:
            continue
        callables = [(attr, obj)] if inspect.isfunction(obj) else []
        if inspect.isclass(obj):
            callables += [(f"{attr}.{m}", f) for m, f in vars(obj).items()
                          if inspect.isfunction(f)]
            if dataclasses.is_dataclass(obj):
                yield from ((attr, f.name, f.default) for f in dataclasses.fields(obj)
                            if f.default is not dataclasses.MISSING)
            for field_name, info in (getattr(obj, "model_fields", None) or {}).items():
                if not info.is_required():
                    yield attr, field_name, info.default
        for where, f in callables:
            for p in inspect.signature(f).parameters.values():
                if p.default is not inspect.Parameter.empty:
                    yield where, p.name, p.default


def test_no_lower_layer_defaults_a_setting():
    settings = set(Settings.model_fields)
    found = [(module_name, where, name, default)
             for module_name, module in _modules()
             for where, name, default in _own_defaults(module_name, module)
             if name in settings and default is not None
             and (module_name, where, name) not in ALLOWED]
    assert found == [], "give these no default; the caller passes the setting"


def test_the_scan_finds_a_planted_default():
    import types

    module = types.ModuleType("planted")
    exec("def chunk(text, chunk_size=600):\n    return text\n", module.__dict__)
    assert list(_own_defaults("planted", module)) == [("chunk", "chunk_size", 600)]
