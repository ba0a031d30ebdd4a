#!/usr/bin/env python3
"""Reference cases for the CLIP tokenizer parity test (tests/data/text/clip_tokenizer_parity_test.cpp)
and the tokenizer benchmark (scripts/bench_tokenizer.sh).

Writes OUT.safetensors with, for every generated string:
  texts_bytes/texts_offsets     the UTF-8 strings (concatenated, offsets[i]..offsets[i+1])
  category                      index into metadata "categories"
  tokens                        open_clip.tokenizer.SimpleTokenizer()(texts)   [N, 77] int64
  ids_flat/ids_offsets          SimpleTokenizer.encode(text): every id, no truncation
  clean_{lower,whitespace,canonicalize}_bytes/_offsets
                                open_clip's three cleaning functions on each text

Categories: remote-sensing captions, accented Latin (NFC and NFD), CJK and other scripts,
emoji, curly quotes, full-width forms, HTML entities, long texts, whitespace runs, digits,
contractions, mojibake, control characters and special tokens, casing edge cases, random
Unicode, the characters of ftfy's mojibake heuristic, and every assigned code point of
Unicode 14 (Python 3.11) in context.

usage: tokenizer_cases.py OUT.safetensors [--count N] [--seed S] [--captions-only]
  --captions-only writes just texts (RS captions; the benchmark input).
"""
import argparse
import html
import random
import sys
import unicodedata

import ftfy
import open_clip
import regex
import torch
from open_clip import tokenizer as oct
from safetensors.torch import save_file

CLASSES = [
    "airport", "bare land", "baseball field", "beach", "bridge", "center", "church", "commercial area",
    "dense residential", "desert", "farmland", "forest", "industrial area", "meadow", "medium residential",
    "mountain", "park", "parking lot", "playground", "pond", "port", "railway station", "resort", "river",
    "school", "sparse residential", "square", "stadium", "storage tanks", "viaduct", "harbor", "island",
    "lake", "wetland", "snowberg", "golf course", "runway", "roundabout", "terrace", "annual crop",
    "herbaceous vegetation", "highway", "pasture", "permanent crop", "sea lake", "tennis court",
]
OBJECTS = ["buildings", "trees", "cars", "planes", "ships", "roads", "houses", "boats", "tanks", "fields",
           "green trees", "white buildings", "storage tanks", "red roofs", "swimming pools", "vehicles"]
TEMPLATES = [
    "a satellite image of {n} {o} near a {c}.",
    "Many {o} are around the {c}.",
    "An aerial image of the {c} with {n} {o}",
    "remote sensing image of a {c}, {o} and {o2} nearby",
    "{N} {o} are parked in the {c} beside the {c2} .",
    "The {c} is surrounded by {o}; some {o2} lie to the north-east.",
    "It's a {c}: {n} {o}, a {c2} and the {o2}!",
    "there are {n} {o} in two rows next to a {c}",
    "A {c} in {place} ({year}), GSD {gsd} m/pixel",
    "SENTINEL-2 TILE {tile} — {c} / {c2}",
]
PLACES = ["Zürich", "São Paulo", "Kraków", "Reykjavík", "Ōsaka", "Québec", "Malmö", "Düsseldorf",
          "Tromsø", "Łódź", "İstanbul", "Nuuk", "Córdoba", "Đà Nẵng", "Ağrı", "Ærø"]
NUMBERS = ["two", "three", "several", "many", "some", "4", "12", "a few", "dozens of", "100"]
ACCENTED = ["café", "naïve", "résumé", "jalapeño", "façade", "coöperate", "Ångström", "smörgåsbord",
            "crème brûlée", "São João", "Ελληνικά", "Ωμέγα", "Дом у реки", "Привет мир", "Pražský hrad",
            "Gdańsk", "Tiếng Việt", "Hà Nội", "ǅemal", "ﬁeld ﬂow", "Œuvre", "straße", "ĲSSEL", "ŉ",
            "Ꞵeta", "ǰ", "ΐ", "ﬃ", "ﬅ", "ﬆ"]
SCRIPTS = ["北京市的卫星图像", "东京の航空写真", "서울의 위성 사진", "ｶﾀｶﾅ ﾃｽﾄ", "ภาพถ่ายดาวเทียม",
           "صورة القمر الصناعي", "תמונת לוויין", "उपग्रह चित्र", "ছবি", "სატელიტი", "Ուղեկից",
           "ᠮᠣᠩᠭᠣᠯ", "ཀ་ཁ་ག", "ᎠᏍᎦᏯ", "ⴰⵣⴰⵡⴰⵖ", "𐌰𐌱𐌲", "𝐀𝐁𝐂 𝔸𝔹ℂ", "中文，标点。", "「引用」『二重』",
           "한국어 ㄱㄴㄷ ᄀᄂ", "ｱｲｳ ｶﾞ ﾊﾟ", "日本語テキスト", "繁體中文測試"]
EMOJI = ["🛰️", "🌍", "🏙️", "🌲🌳", "👍🏽", "👨‍👩‍👧‍👦", "🇨🇳🇺🇸", "1️⃣", "🏴󠁧󠁢󠁷󠁬󠁳󠁿", "❤️", "☀", "✈️",
         "🚢", "🏭", "🌊", "😀😃😄", "🫠", "🧑‍🚀", "⌚", "©️", "™", "🔥🔥🔥"]
QUOTES = ["‘", "’", "“", "”", "‚", "„", "ʼ", "‛", "‟", "«", "»", "‹", "›", "'", '"', "`", "´", "′", "″"]
FULLWIDTH = ["ＡＢＣ", "ｆｕｌｌ　ｗｉｄｔｈ", "１２３４", "！？", "（ｐａｒｅｎ）", "＄１００", "ｗｗｗ．ｅｘａｍｐｌｅ．ｃｏｍ",
             "￥５００", "￣", "＿", "｛｝", "～", "ﾟ", "ﾞ", "￦", "￠"]
ENTITIES = ["&amp;", "&amp;amp;", "&amp;amp;amp;", "&lt;b&gt;", "&#39;", "&#x2019;", "&nbsp;", "&eacute;",
            "&EACUTE;", "&Eacute;", "&notit;", "&ampx", "&amp", "&copy", "&copy;", "&#0;", "&#128;", "&#x80;",
            "&#xD800;", "&#1114112;", "&#99999999999;", "&#1;", "&#x1F600;", "&hellip;", "&mdash;", "&SZLIG;",
            "&NTILDE;", "&nTILDE;", "&quot;", "&apos;", "&#59;", "&#65abc;", "&#xZZ;", "&;", "&#;", "&#x;",
            "&CounterClockwiseContourIntegral;", "&fjlig;", "&ThickSpace;", "&NotEqualTilde;", "&LT", "&GTx",
            "&frac12;", "&FRAC12;", "&Aacute", "&aacutex", "&#65", "&#x41", "&#X41;", "&unknown;", "& amp;",
            "&&amp;", "&#12345678901234567890;", "&abcdefghijklmnopqrstuvwxyzabcdefgh;"]
WHITESPACE = [" ", "  ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "\u2028", "\u2029", "\u200b", "\x1c",
              "\x85", "\u2003", "\u202f", "\u180e", "\x0b", "\x0c", "\ufeff", "\u2060", "\u205f", "\u1680"]
CONTRACTIONS = ["it's", "IT'S", "we're", "WE'RE", "they've", "I'm", "I'M", "you'll", "YOU'LL", "he'd",
                "HE'D", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S'T", "rock'n'roll", "o'clock",
                "don't", "can't", "it’s", "dog's", "'''", "'", "x'ſ", "Ma'am", "y'all'd've"]
DIGITS = ["0", "42", "3.14159", "1,000,000", "2024-05-17", "١٢٣", "۴۵۶", "०१२", "²³", "½", "Ⅻ", "ⅻ",
          "①②", "𝟏𝟐𝟑", "0x1F", "1e-4", "-273.15°C", "50%", "#1", "No.7", "12:30", "٣٫١٤", "〇一二三",
          "੧੨", "፩፪", "𝟘", "¹⁄₂", "₃"]
CONTROL = ["\x00", "\x01", "\x07", "\x08", "\x1b[31mred\x1b[0m", "\x1b[1;32m", "\x1b[", "\x1b[١m", "\x7f",
           "\x9f", "\x81", "\x80", "\x93quoted\x94", "\u206a", "\ufff9", "\ufffc", "\ufffd", "\u200d", "\u200e",
           "\u202e", "<start_of_text>", "<end_of_text>", "<START_OF_TEXT>", "<start_of_text >", "</w>",
           "a<b>c", "x < y &amp; z", "\U000e0041", "\U0001d173"]
CASING = ["ΟΔΟΣ ΚΑΙ ΣΠΙΤΙ", "ΑΣ.", "ΣΑΣ", "Σ", "ΑΣ΄Β", "İstanbul", "İİ", "ẞ", "ß", "ǅ", "ǈ", "ᾼ", "ﬀ",
          "Ǉ", "ΆΈΉ", "ΣΣ", "A\u0307", "K\u212a", "Å\u212b", "ŉ", "ǰ", "ᲀ", "Ᲊ", "Ω\u2126"]
MOJIBAKE_SOURCES = ["café", "naïve façade", "Straße", "“smart quotes”", "it’s", "São Paulo", "Zürich",
                    "Ελληνικά", "Привет", "日本語", "emoji 😀", "à la mode", "€100", "—dash—", "•bullet",
                    "Łódź", "Ωμέγα", "voilà le travail", "½ price", "ñandú", "…", "™ mark", "Ã¡"]
MOJIBAKE_CODECS = ["cp1252", "latin-1", "cp1251", "cp1250", "cp1253", "cp1254", "cp1257", "iso-8859-2",
                   "mac_roman", "cp437"]


def mojibake(rng, s):
    codec = rng.choice(MOJIBAKE_CODECS)
    data = s.encode("utf-8")
    text = data.decode(codec, errors="replace")
    roll = rng.random()
    if roll < 0.15:
        text = text.replace("\xa0", " ")  # the NBSP that became a space
    elif roll < 0.25 and "\ufffd" not in text:
        text = text.encode("utf-8").decode(rng.choice(["cp1252", "latin-1"]), errors="replace")  # twice
    return text


def caption(rng):
    t = rng.choice(TEMPLATES)
    return t.format(n=rng.choice(NUMBERS), N=rng.choice(NUMBERS).capitalize(), o=rng.choice(OBJECTS),
                    o2=rng.choice(OBJECTS), c=rng.choice(CLASSES), c2=rng.choice(CLASSES),
                    place=rng.choice(PLACES), year=rng.randint(1990, 2025), gsd=rng.choice(["0.3", "10", "1.5"]),
                    tile=f"{rng.randint(10, 60)}{rng.choice('ABCDEFGHJKLMN')}{rng.choice('PQRSTU')}"
                         f"{rng.choice('ABCDEFGHJK')}")


def sprinkle(rng, base, pieces, k):
    words = base.split(" ")
    for _ in range(k):
        words.insert(rng.randint(0, len(words)), rng.choice(pieces))
    sep = rng.choice([" ", " ", " ", ""])
    return sep.join(words) if sep else " ".join(words)


def random_unicode(rng, assigned, n):
    return "".join(chr(rng.choice(assigned)) for _ in range(n))


def build_categories(rng, count, assigned):
    """Returns {category: [texts]} with about `count` texts outside the exhaustive set."""
    cats = {}
    per = max(1, count // 17)
    cats["captions"] = [caption(rng) for _ in range(per * 3)]
    cats["accents"] = []
    for _ in range(per):
        s = sprinkle(rng, caption(rng), ACCENTED + PLACES, rng.randint(1, 4))
        cats["accents"].append(unicodedata.normalize(rng.choice(["NFC", "NFD", "NFKD"]), s) if rng.random() < 0.5 else s)
    cats["scripts"] = [sprinkle(rng, rng.choice(SCRIPTS), SCRIPTS + [caption(rng)], rng.randint(0, 3))
                       for _ in range(per)]
    cats["emoji"] = [sprinkle(rng, caption(rng), EMOJI, rng.randint(1, 5)) for _ in range(per)]
    cats["quotes"] = [sprinkle(rng, caption(rng), QUOTES + CONTRACTIONS, rng.randint(1, 5)) for _ in range(per)]
    cats["fullwidth"] = [sprinkle(rng, caption(rng), FULLWIDTH, rng.randint(1, 4)) for _ in range(per)]
    cats["entities"] = []
    for _ in range(per):
        s = sprinkle(rng, caption(rng), ENTITIES, rng.randint(1, 4))
        if rng.random() < 0.3:
            s = html.escape(s)
        if rng.random() < 0.1:
            s = s + "\n<br>" + sprinkle(rng, "after the tag", ENTITIES, 2)  # '<' switches ftfy's unescape off
        cats["entities"].append(s)
    cats["long"] = []
    for i in range(per):
        kind = i % 4
        if kind == 0:
            s = " ".join(caption(rng) for _ in range(rng.randint(3, 30)))
        elif kind == 1:
            # one long word (open_clip's BPE is quadratic in word length, so kept below 400)
            s = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(33, 400)))
        elif kind == 2:
            s = " ".join(rng.choice(OBJECTS + CLASSES + ACCENTED + EMOJI) for _ in range(rng.randint(40, 300)))
        else:
            s = "".join(rng.choice("0123456789") for _ in range(rng.randint(50, 500)))
        cats["long"].append(s)
    cats["whitespace"] = []
    for _ in range(per):
        words = caption(rng).split(" ")
        cats["whitespace"].append("".join(w + "".join(rng.choice(WHITESPACE) for _ in range(rng.randint(0, 4)))
                                          for w in words))
    cats["digits"] = [sprinkle(rng, caption(rng), DIGITS, rng.randint(1, 5)) for _ in range(per)]
    cats["contractions"] = [sprinkle(rng, caption(rng), CONTRACTIONS, rng.randint(1, 5)) for _ in range(per)]
    cats["mojibake"] = []
    for _ in range(per):
        s = rng.choice(MOJIBAKE_SOURCES + [caption(rng) + " " + rng.choice(MOJIBAKE_SOURCES)])
        m = mojibake(rng, s)
        cats["mojibake"].append(m if rng.random() < 0.5 else caption(rng) + " " + m + " " + rng.choice(ACCENTED))
    cats["control"] = [sprinkle(rng, caption(rng), CONTROL, rng.randint(1, 3)) for _ in range(per)]
    cats["casing"] = [sprinkle(rng, caption(rng).upper(), CASING, rng.randint(1, 3)) for _ in range(per)]
    cats["random_unicode"] = [random_unicode(rng, assigned, rng.randint(1, 40)) for _ in range(per)]
    # ftfy's heuristic alphabet: characters from its mojibake categories among Latin letters.
    alphabet = sorted(set("".join(ftfy.badness.MOJIBAKE_CATEGORIES.values()).replace("-", "")) |
                      set("".join(ftfy.chardata.UTF8_CLUES.values()).replace("-", "")) |
                      set("abcdeABCDE  .,?!°µ×ÃÂâ€ВГРСΒΓΞΟŒœØÙà√≈‚Äв"))
    cats["badness_alphabet"] = ["".join(rng.choice(alphabet) for _ in range(rng.randint(2, 12)))
                                for _ in range(per * 2)]
    cats["edge"] = ["", " ", "\n", "&", "a", "A", "'", "''s", "<start_of_text>", "<end_of_text>",
                    "<start_of_text><end_of_text>", " ".join(["word"] * 75), " ".join(["word"] * 76),
                    " ".join(["word"] * 77), "\u0301", "a\u0301", "\ufeffBOM", "\x00", "&amp;" * 40,
                    "ﬁ" * 100, "🛰" * 100]
    return cats


def exhaustive(assigned, per_string=24):
    """Every assigned code point, each three times in a small context."""
    out = []
    for i in range(0, len(assigned), per_string):
        out.append(" ".join(f"a{chr(c)}{chr(c)}1{chr(c)}" for c in assigned[i:i + per_string]))
    return out


def pack(strings):
    data = [s.encode("utf-8") for s in strings]
    offsets = [0]
    for d in data:
        offsets.append(offsets[-1] + len(d))
    flat = b"".join(data)
    return (torch.frombuffer(bytearray(flat), dtype=torch.uint8) if flat else torch.zeros(0, dtype=torch.uint8),
            torch.tensor(offsets, dtype=torch.int64))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--count", type=int, default=12000)
    ap.add_argument("--seed", type=int, default=20240517)
    ap.add_argument("--captions-only", action="store_true")
    args = ap.parse_args()
    rng = random.Random(args.seed)

    if args.captions_only:
        texts = [caption(rng) for _ in range(args.count)]
        b, o = pack(texts)
        save_file({"texts_bytes": b, "texts_offsets": o}, args.out)
        return

    assigned = [c for c in range(sys.maxunicode + 1)
                if unicodedata.category(chr(c)) not in ("Cn", "Co", "Cs")]
    cats = build_categories(rng, args.count, assigned)
    cats["every_code_point"] = exhaustive(assigned)
    names = list(cats)
    texts, category = [], []
    for k, name in enumerate(names):
        texts += cats[name]
        category += [k] * len(cats[name])

    tok = oct.SimpleTokenizer()
    ids = [tok.encode(t) for t in texts]
    tensors = {"category": torch.tensor(category, dtype=torch.int64), "tokens": tok(texts)}
    tensors["ids_flat"] = torch.tensor([i for row in ids for i in row], dtype=torch.int64)
    tensors["ids_offsets"] = torch.tensor([0] + [len(r) for r in ids], dtype=torch.int64).cumsum(0)
    tensors["texts_bytes"], tensors["texts_offsets"] = pack(texts)
    # open_clip's three clean functions, composed as tokenizer.py composes them, from one
    # basic_clean per text.
    basic = [oct.basic_clean(t) for t in texts]
    cleaned = {"lower": [oct.whitespace_clean(b).lower() for b in basic],
               "whitespace": [oct.whitespace_clean(b) for b in basic],
               "canonicalize": [oct.canonicalize_text(b) for b in basic]}
    for mode, strings in cleaned.items():
        tensors[f"clean_{mode}_bytes"], tensors[f"clean_{mode}_offsets"] = pack(strings)
    meta = {"categories": ",".join(names), "open_clip": open_clip.__version__, "ftfy": ftfy.__version__,
            "regex": regex.__version__, "unicodedata": unicodedata.unidata_version}
    save_file(tensors, args.out, metadata=meta)
    print(f"{len(texts)} texts in {len(names)} categories -> {args.out}")


if __name__ == "__main__":
    main()
