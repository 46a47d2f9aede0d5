"""Shared fixtures: every test gets its own data dir (and, in server mode, its own Chroma
server: tests/stores.py) and runs offline."""

from __future__ import annotations

import os

import pytest

from tests import stores

os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False",
                  GRADIO_ANALYTICS_ENABLED="False", TOKENIZERS_PARALLELISM="false")

SAMPLE_QUESTION = "How many people migrated from Japan to North Korea between 1959 and 1984?"


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory):
    """One converted-LLM cache for the whole run (the conversion takes ~20 s)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch, model_cache):
    """Point the data dir at tmp_path and clear any SOURCECHAT_* from the caller's shell."""
    for var in list(os.environ):
        if var.startswith("SOURCECHAT_"):
            monkeypatch.delenv(var)
    for var, value in stores.env_for(tmp_path / "data").items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("SOURCECHAT_MODEL_CACHE_DIR", str(model_cache))
    import assistant.api

    monkeypatch.setattr(assistant.api, "_DEFAULT", None)
    yield
    stores.stop()  # this test's servers; those of kept (module/session) data dirs live on


@pytest.fixture(scope="session", autouse=True)
def _stop_servers():
    yield
    stores.stop(keep=set())


@pytest.fixture(scope="session")
def sample_extractive(tmp_path_factory):
    """A real assistant (real Chroma, real MiniLM) over the sample, extractive backend."""
    from assistant import build_assistant

    settings = stores.settings(tmp_path_factory.mktemp("extractive"), keep=True)
    a = build_assistant(settings)
    a.ensure_indexed()
    return a


@pytest.fixture(scope="session")
def sample_embedded(tmp_path_factory, model_cache):
    """A real assistant over the sample with the real embedded SmolLM2."""
    from assistant import build_assistant

    settings = stores.settings(tmp_path_factory.mktemp("embedded"), keep=True, llm="embedded",
                                 model_cache_dir=model_cache)
    a = build_assistant(settings)
    a.ensure_indexed()
    return a


@pytest.fixture(scope="session")
def sample_transformers(tmp_path_factory, model_cache):
    """The same, with the embedded model's fallback runtime (transformers) forced."""
    from assistant import build_assistant

    settings = stores.settings(tmp_path_factory.mktemp("transformers"), keep=True, llm="embedded",
                                 model_cache_dir=model_cache, embedded_runtime="transformers")
    a = build_assistant(settings)
    a.ensure_indexed()
    return a


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Expose each phase's report on the item (for screenshots on failure)."""
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep
