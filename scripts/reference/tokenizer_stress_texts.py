#!/usr/bin/env python3
"""Writes deterministic "stress" texts for tokenizer comparisons, one JSON object
{"text": ...} per line: short random mixes of ASCII, contractions, all kinds of
Unicode whitespace (incl. U+180E, NEL, U+2028), non-ASCII digits and numerals,
combining marks, RTL and CJK scripts, emoji with ZWJ / skin tones / variation
selectors, soft hyphen, unassigned (U+0378) and private-use code points.
A fixed linear congruential generator keeps the output identical everywhere.

Usage: tokenizer_stress_texts.py --out OUT.jsonl [--count N]
"""
import argparse
import json
import os

ALPHABET = list("abcXYZ '’sStTdDmMlLvVeErR0123456789.,;:!?()[]{}<>/\\|-_=+*&^%$#@~`\"\t\n\r ") + [
    "\u00a0", "\u3000", "\u2028", "\u2029", "\u180e", "\u0085", "\u200b", "\u2003", "\u000b", "\u000c",
    "٣", "²", "Ⅻ", "½", "\u0301", "\u0308", "é", "ß", "Ω", "я", "ع", "ש", "你", "好", "の", "한",
    "😀", "👍🏽", "👨‍👩‍👧", "\u200d", "\ufe0f", "\u0378", "\ue000", "\U0001fae0", "\U000e0001", "\u00ad",
    "ſ", "K", "İ", "ǅ", "ᾼ", "\u0e01\u0e34", "\u0915\u094d\u0937", "'s", "'LL", "  ", "   ", "\n\n", "\r\n",
    "<|im_start|>", "<s>", "</s>", "<0x0A>",
]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, default=4000)
    args = parser.parse_args()
    state = 20240607

    def next_below(n: int) -> int:
        nonlocal state
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return (state >> 33) % n

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        for _ in range(args.count):
            text = "".join(ALPHABET[next_below(len(ALPHABET))] for _ in range(1 + next_below(40)))
            f.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
