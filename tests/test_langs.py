"""Language codes: what people type, what NLLB wants, what XTTS speaks."""

from __future__ import annotations

import pytest

from stream_tts.engines.langs import (
    ISO_TO_FLORES,
    XTTS_LANGUAGES,
    UnknownLanguageError,
    to_flores,
    to_xtts,
)


@pytest.mark.parametrize(
    ("given", "flores"),
    [
        ("ja", "jpn_Jpan"),
        ("JA", "jpn_Jpan"),
        ("ja-JP", "jpn_Jpan"),
        ("de", "deu_Latn"),
        ("jpn_Jpan", "jpn_Jpan"),
        ("zh", "zho_Hans"),
        ("zh-cn", "zho_Hans"),
        ("zh-TW", "zho_Hant"),
        ("pt_BR", "por_Latn"),
        (" fr ", "fra_Latn"),
        ("yue_Hant", "yue_Hant"),
    ],
)
def test_to_flores(given: str, flores: str) -> None:
    assert to_flores(given) == flores


@pytest.mark.parametrize("bad", ["", "xx", "klingon", "jpn_jpan", "12"])
def test_to_flores_rejects_unknown(bad: str) -> None:
    with pytest.raises(UnknownLanguageError, match="ISO 639-1"):
        to_flores(bad)


def test_every_mapped_code_is_an_nllb_language() -> None:
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    assert set(ISO_TO_FLORES.values()) <= set(FAIRSEQ_LANGUAGE_CODES)


def test_xtts_languages_map_to_themselves() -> None:
    assert len(XTTS_LANGUAGES) == 17
    for lang in XTTS_LANGUAGES:
        assert to_xtts(lang) == lang


@pytest.mark.parametrize(
    ("given", "xtts"),
    [("jpn_Jpan", "ja"), ("zho_Hans", "zh-cn"), ("zh", "zh-cn"), ("deu_Latn", "de"), ("ar", "ar")],
)
def test_translation_target_matches_xtts(given: str, xtts: str) -> None:
    assert to_xtts(given) == xtts


@pytest.mark.parametrize("bad", ["fi", "fin_Latn", "sw"])
def test_xtts_names_its_languages_when_it_cannot_speak_one(bad: str) -> None:
    with pytest.raises(UnknownLanguageError, match="zh-cn"):
        to_xtts(bad)
