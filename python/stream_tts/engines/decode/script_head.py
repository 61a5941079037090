"""Which vocabulary rows an output layer restricted to the target language's script keeps.

NLLB-200 language codes name the script (deu_Latn, rus_Cyrl, zho_Hans, jpn_Jpan, ...). A token
is kept when every letter in it belongs to that script, so tokens without letters (digits,
punctuation, the word-start mark) are kept too; of the special tokens only <s>, <pad>, </s> and
<unk> are (language codes are forced, never chosen). A letter's script is read from its Unicode
name (LATIN SMALL LETTER A, CYRILLIC CAPITAL LETTER DE, CJK UNIFIED IDEOGRAPH-4E2D, ...).

What it costs: a translation can then no longer copy a name or word written in another script
(a Latin product name into Russian), and the scores are those of the kept rows only.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import Any

# ISO 15924 code of an NLLB language -> Unicode name prefixes of its letters.
SCRIPT_NAMES: dict[str, tuple[str, ...]] = {
    "Latn": ("LATIN",),
    "Cyrl": ("CYRILLIC",),
    "Grek": ("GREEK",),
    "Arab": ("ARABIC",),
    "Hebr": ("HEBREW",),
    "Armn": ("ARMENIAN",),
    "Geor": ("GEORGIAN",),
    "Ethi": ("ETHIOPIC",),
    "Deva": ("DEVANAGARI",),
    "Beng": ("BENGALI",),
    "Guru": ("GURMUKHI",),
    "Gujr": ("GUJARATI",),
    "Orya": ("ORIYA",),
    "Taml": ("TAMIL",),
    "Telu": ("TELUGU",),
    "Knda": ("KANNADA",),
    "Mlym": ("MALAYALAM",),
    "Sinh": ("SINHALA",),
    "Thai": ("THAI",),
    "Laoo": ("LAO",),
    "Tibt": ("TIBETAN",),
    "Mymr": ("MYANMAR",),
    "Khmr": ("KHMER",),
    "Tfng": ("TIFINAGH",),
    "Olck": ("OL CHIKI",),
    "Mtei": ("MEETEI MAYEK",),
    "Hang": ("HANGUL",),
    "Hans": ("CJK",),
    "Hant": ("CJK",),
    "Jpan": ("CJK", "HIRAGANA", "KATAKANA"),
}
KEPT_SPECIALS = ("bos_token_id", "pad_token_id", "eos_token_id", "unk_token_id")


class UnknownScriptError(ValueError):
    pass


def script_of(flores: str) -> str:
    """The script part of an NLLB code: deu_Latn -> Latn."""
    script = flores.rpartition("_")[2]
    if script not in SCRIPT_NAMES:
        known = ", ".join(sorted(SCRIPT_NAMES))
        raise UnknownScriptError(f"no script head for {flores!r} (scripts: {known})")
    return script


@cache
def _letter_script_name(ch: str) -> str | None:
    """The Unicode name of `ch` without width prefixes if it is a letter, else None."""
    if not unicodedata.category(ch).startswith("L"):
        return None
    name = unicodedata.name(ch, "")
    for prefix in ("HALFWIDTH ", "FULLWIDTH "):
        name = name.removeprefix(prefix)
    return name


def token_in_script(token: str, prefixes: tuple[str, ...]) -> bool:
    """True when every letter of `token` has a name starting with one of `prefixes`."""
    for ch in token:
        name = _letter_script_name(ch)
        if name is not None and not name.startswith(prefixes):
            return False
    return True


def kept_ids(tokenizer: Any, flores: str, vocab_size: int | None = None) -> list[int]:
    """Ascending ids of the rows a `flores` (e.g. rus_Cyrl) script head keeps; ids at or past
    len(tokenizer) (padding rows of the output layer) are left out."""
    prefixes = SCRIPT_NAMES[script_of(flores)]
    n = len(tokenizer) if vocab_size is None else min(vocab_size, len(tokenizer))
    specials = set(tokenizer.all_special_ids)
    keep = {getattr(tokenizer, a) for a in KEPT_SPECIALS} - {None}
    tokens = tokenizer.convert_ids_to_tokens(list(range(n)))
    out = []
    for i, tok in enumerate(tokens):
        if i in keep or (i not in specials and tok is not None and token_in_script(tok, prefixes)):
            out.append(i)
    return out
