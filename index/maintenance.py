"""Keeping Chroma and the records in agreement: the writer session, repair, check, removal.

Every write happens in a `writer_session`: under the collection's writer lock,
after adopting an index built before records existed and repairing what a run
that died midway (SIGKILL, power cut) left: chunks written but never recorded
are deleted, and records of chunks already deleted are dropped (a chunk's
sentence vectors live in its own row: they come and go with it). The run is
marked finished only when the session's block completes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from index.migrate import upgrade_layout
from index.store import ChunkStore


@contextmanager
def writer_session(store: ChunkStore, *, loud: bool = False) -> Iterator[int]:
    """Hold the writer lock, adopt and repair what earlier runs left, and mark a run begun;
    yields the fixes made. The run ends when the block completes (an exception leaves it
    unfinished, so the next session repairs it). `loud` says so on stderr when another
    writer holds the lock. A reindex that switches generations while this waits for the
    lock sends it on to the new generation's lock."""
    while True:
        store.follow()
        records = store.records
        with _acquired(records.writer_lock(), loud):
            store.follow()
            if store.records is not records:
                continue
            adopt(store)
            repaired = recover(store, records.begin_run(os.getpid()))
            yield repaired
            records.end_run()
            return


def remove_sources(store: ChunkStore, sources: Iterable[str]) -> int:
    """Delete sources with all their chunks and records; returns the chunks removed."""
    with writer_session(store):
        return delete_sources(store, list(sources))


def adopt(store: ChunkStore) -> int:
    """Record the chunks of an index built before records existed (or whose record file was
    lost), by their source, so the first ingest skips them instead of deleting them; move
    an older layout's sentence vectors into their chunks."""
    upgrade_layout(store)
    records = store.records
    if store.shared or records.has_keys() or records.has_run() or store.count() == 0:
        return 0  # a shared server's chunks may be other writers': never claimed
    ids, _, sources = store.all_texts()
    records.update(ids, group_ids=sources, time_at_least=records.get_time())
    return len(ids)


def recover(store: ChunkStore, dead: list[str] | None) -> int:
    """Repair what a dead run left (`dead`: the sources it had pending, None: no dead run).

    On disk there is one writer: the whole collection is checked after a dead run, or
    when the chunk counts disagree. A shared Chroma server has other writers, whose
    chunks are not in these records: only the dead run's pending sources are repaired.
    """
    if store.shared:
        return repair(store, dead) if dead else 0
    if dead is not None or store.count() != len(store.records.all_keys()):
        return repair(store)
    return 0


def repair(store: ChunkStore, sources: Sequence[str] | None = None) -> int:
    """Make Chroma and the records agree after an interrupted run (for `sources`, else for
    the whole collection; on a shared server, for the sources these records know);
    returns the fixes made.

    Chunks in Chroma but not in the records were written by a run that died before
    recording them: deleted (the next run writes them again). Records whose chunk is
    gone were deleted by a run that died before forgetting them: dropped, and their
    files re-read.
    """
    records = store.records
    with records.writer_lock():
        if sources is None and store.shared:  # only what this writer's records know of
            sources = sorted(set(known_sources(store)) | set(records.pending()))
        files = records.file_sources()
        if sources is None:
            in_chroma, recorded = store.all_ids(), records.all_keys()
        else:
            in_chroma, recorded = store.ids_for_sources(sources), records.keys_of(sources)
            files = sorted(set(files) & set(sources))
        unrecorded = sorted(in_chroma - recorded)
        lost = sorted(recorded - in_chroma)
        store.delete(unrecorded)
        if lost:
            records.drop_files(records.groups_of(lost))  # re-read those files next time
            records.delete_keys(lost)
        with_keys = set(records.group_counts() if sources is None
                        else records.groups_of(sorted(recorded - set(lost))))
        stale_files = [s for s in files if s not in with_keys]
        records.drop_files(stale_files)
    return len(unrecorded) + len(lost) + len(stale_files)


def check(store: ChunkStore, keyword=None) -> dict:
    """Counts of chunks in Chroma, in the records and in the keyword index (when given),
    and whether they are the very same ids (on a shared server: the chunks of the
    sources recorded here are the recorded ones, the keyword index holds all)."""
    in_chroma = store.all_ids()
    recorded = store.records.all_keys()
    # a shared server also holds other writers' chunks: compare the sources recorded here
    mine = store.ids_for_sources(known_sources(store)) if store.shared else in_chroma
    state = {
        "chunks": len(in_chroma),
        "records": len(recorded),
        "sources": len(store.records.group_counts()),
        "consistent": mine == recorded,
        "embedding_model": store.model_name,
        "collection": store.collection_name,  # the generation holding the chunks
    }
    if keyword is not None:
        in_keyword = keyword.ids()
        state["keyword_index"] = len(in_keyword)
        state["consistent"] = state["consistent"] and in_keyword == in_chroma
    return state


def delete_sources(store: ChunkStore, sources: list[str]) -> int:
    """Delete sources' chunks and records, within a writer session; returns the chunks."""
    store.records.mark_pending(sources)
    removed = 0
    for source in sources:
        keys = sorted(set(store.records.list_keys(group_ids=[source])) |
                      store.ids_for_source(source))
        store.records.drop_files([source])  # first: a crash after it re-reads the file
        store.delete(keys)
        store.records.delete_keys(keys)
        removed += len(keys)
    return removed


def known_sources(store: ChunkStore) -> list[str]:
    """Every source these records know of (by its chunks or its file record), sorted."""
    return sorted({s for s in store.records.group_counts() if s} |
                  set(store.records.file_sources()))


@contextmanager
def _acquired(lock, loud: bool) -> Iterator[None]:
    """Hold a writer lock; say so when another writer holds it and `loud`."""
    from filelock import Timeout

    try:
        lock.acquire(timeout=0)
    except Timeout:
        if loud:
            print("waiting for another ingest into this index to finish...", file=sys.stderr)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()
