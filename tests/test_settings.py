"""Settings are checked where they are read: one line naming what is wrong (fast)."""

from __future__ import annotations

import pytest

from assistant.settings import Settings
from corpus.errors import SourcechatError


def test_both_fusion_weights_zero_is_refused_at_settings_time(monkeypatch):
    monkeypatch.setenv("SOURCECHAT_DENSE_WEIGHT", "0")
    monkeypatch.setenv("SOURCECHAT_KEYWORD_WEIGHT", "0")
    with pytest.raises(SourcechatError) as err:
        Settings.load()
    assert str(err.value) == ("invalid settings: dense_weight and keyword_weight are both 0: "
                              "retrieval needs at least one of them above 0")


@pytest.mark.parametrize("dense, keyword", [(0, 0.5), (1, 0)])
def test_one_fusion_weight_zero_is_allowed(dense, keyword):
    settings = Settings.load(dense_weight=dense, keyword_weight=keyword)
    assert (settings.dense_weight, settings.keyword_weight) == (dense, keyword)


def test_an_overlap_as_large_as_the_chunk_is_refused():
    with pytest.raises(SourcechatError, match=r"chunk_overlap \(500\) must be smaller"):
        Settings.load(chunk_size=500, chunk_overlap=500)


def test_a_bad_value_names_its_setting_in_one_line(monkeypatch):
    monkeypatch.setenv("SOURCECHAT_K", "zero")
    with pytest.raises(SourcechatError) as err:
        Settings.load()
    assert str(err.value).startswith("invalid setting k: ") and "\n" not in str(err.value)
