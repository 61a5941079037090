"""Language codes: ISO 639-1 (what people type), FLORES-200 (NLLB's), XTTS-v2's 17.

`--translate-to ja` and `--translate-to jpn_Jpan` mean the same; XTTS is then asked for `ja`.
Pure Python, so the CLI can check a code before any model is loaded.
"""

from __future__ import annotations

import re

# ISO 639-1 -> FLORES-200 for the languages people ask for most; any other FLORES-200 code is
# accepted as given (NLLB's tokenizer then checks it exists).
ISO_TO_FLORES: dict[str, str] = {
    "af": "afr_Latn", "am": "amh_Ethi", "ar": "arb_Arab", "as": "asm_Beng", "az": "azj_Latn",
    "be": "bel_Cyrl", "bg": "bul_Cyrl", "bn": "ben_Beng", "bo": "bod_Tibt", "bs": "bos_Latn",
    "ca": "cat_Latn", "cs": "ces_Latn", "cy": "cym_Latn", "da": "dan_Latn", "de": "deu_Latn",
    "el": "ell_Grek", "en": "eng_Latn", "eo": "epo_Latn", "es": "spa_Latn", "et": "est_Latn",
    "eu": "eus_Latn", "fa": "pes_Arab", "fi": "fin_Latn", "fo": "fao_Latn", "fr": "fra_Latn",
    "ga": "gle_Latn", "gd": "gla_Latn", "gl": "glg_Latn", "gu": "guj_Gujr", "ha": "hau_Latn",
    "he": "heb_Hebr", "hi": "hin_Deva", "hr": "hrv_Latn", "ht": "hat_Latn", "hu": "hun_Latn",
    "hy": "hye_Armn", "id": "ind_Latn", "ig": "ibo_Latn", "is": "isl_Latn", "it": "ita_Latn",
    "ja": "jpn_Jpan", "jv": "jav_Latn", "ka": "kat_Geor", "kk": "kaz_Cyrl", "km": "khm_Khmr",
    "kn": "kan_Knda", "ko": "kor_Hang", "ky": "kir_Cyrl", "lb": "ltz_Latn", "lo": "lao_Laoo",
    "lt": "lit_Latn", "lv": "lvs_Latn", "mk": "mkd_Cyrl", "ml": "mal_Mlym", "mn": "khk_Cyrl",
    "mr": "mar_Deva", "ms": "zsm_Latn", "mt": "mlt_Latn", "my": "mya_Mymr", "nb": "nob_Latn",
    "ne": "npi_Deva", "nl": "nld_Latn", "nn": "nno_Latn", "no": "nob_Latn", "oc": "oci_Latn",
    "pa": "pan_Guru", "pl": "pol_Latn", "ps": "pbt_Arab", "pt": "por_Latn", "ro": "ron_Latn",
    "ru": "rus_Cyrl", "sd": "snd_Arab", "si": "sin_Sinh", "sk": "slk_Latn", "sl": "slv_Latn",
    "so": "som_Latn", "sq": "als_Latn", "sr": "srp_Cyrl", "sv": "swe_Latn", "sw": "swh_Latn",
    "ta": "tam_Taml", "te": "tel_Telu", "tg": "tgk_Cyrl", "th": "tha_Thai", "tl": "tgl_Latn",
    "tr": "tur_Latn", "tt": "tat_Cyrl", "ug": "uig_Arab", "uk": "ukr_Cyrl", "ur": "urd_Arab",
    "uz": "uzn_Latn", "vi": "vie_Latn", "xh": "xho_Latn", "yi": "ydd_Hebr", "yo": "yor_Latn",
    "zh": "zho_Hans", "zu": "zul_Latn",
}  # fmt: skip

# XTTS-v2's languages, by the code XTTS expects.
XTTS_LANGUAGES: tuple[str, ...] = (
    "en", "es", "fr", "de", "it", "pt", "pl", "tr", "ru",
    "nl", "cs", "ar", "zh-cn", "hu", "ko", "ja", "hi",
)  # fmt: skip

# FLORES-200 -> XTTS, for the codes whose ISO form is not XTTS's own (Chinese).
_FLORES_TO_XTTS = {v: ("zh-cn" if k == "zh" else k) for k, v in ISO_TO_FLORES.items()}
_FLORES_TO_XTTS["zho_Hant"] = "zh-cn"
_FLORES_RE = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")


class UnknownLanguageError(ValueError):
    """A language code that is neither ISO 639-1 we know nor FLORES-200 shaped."""


def to_flores(code: str) -> str:
    """`ja`, `JA`, `ja-JP`, `jpn_Jpan` -> `jpn_Jpan`."""
    c = code.strip()
    if _FLORES_RE.match(c):
        return c
    key = c.lower().replace("_", "-")
    if key in ("zh-cn", "zh-hans", "zh-sg"):
        return "zho_Hans"
    if key in ("zh-tw", "zh-hant", "zh-hk"):
        return "zho_Hant"
    base = key.split("-")[0]
    if base in ISO_TO_FLORES:
        return ISO_TO_FLORES[base]
    raise UnknownLanguageError(
        f"unknown language {code!r}: give an ISO 639-1 code (like 'ja', 'de') "
        "or a FLORES-200 code (like 'jpn_Jpan', 'deu_Latn')"
    )


def to_xtts(code: str) -> str:
    """The XTTS-v2 language for an ISO or FLORES code; an error names the 17 it speaks."""
    c = code.strip()
    flores = to_flores(c)
    xtts = _FLORES_TO_XTTS.get(flores)
    if xtts is None or xtts not in XTTS_LANGUAGES:
        raise UnknownLanguageError(
            f"XTTS-v2 cannot speak {code!r}; it speaks: {', '.join(XTTS_LANGUAGES)}"
        )
    return xtts
