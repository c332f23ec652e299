"""Repeated-paragraph removal on big notes: the anchor index against the all-pairs scan it replaced.

    .venv/bin/python benchmarks/bench_clean.py [--sizes 1000,4000,16000] [--megabytes 20]

For each size, a note of that many distinct paragraphs (about 60 characters each, every tenth one
repeated later with other punctuation, one in fifty a piece of an earlier one) goes through
`collapse_repeated_paragraphs` and through `all_pairs`, the algorithm before issue 15 (each paragraph
compared with every kept one), in the same process; the all-pairs scan is skipped above 4,000
paragraphs. Then a text note of --megabytes MB (written to a temporary folder) is read, cleaned and
chunked end to end (`Indexer.prepare`), with its peak RSS. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.clean import Paragraph, _fingerprint, _shingles, collapse_repeated_paragraphs  # noqa: E402

ALL_PAIRS_LIMIT = 4_000


def paragraphs(count: int) -> list[Paragraph]:
    out = [
        Paragraph(
            f"第{n}段：样本公司{n}的订单同比增长{n % 97}%，库存周转{n % 53}天，毛利率{n % 41}%，产能利用率{n % 89}%。"
        )
        for n in range(count)
    ]
    repeats = [Paragraph(out[n].text.replace("，", ",")) for n in range(0, count, 10)]
    pieces = [Paragraph(out[n].text[:24]) for n in range(5, count, 50)]
    return out + repeats + pieces


def all_pairs(paras: list[Paragraph]) -> tuple[list[Paragraph], int]:
    """The removal as it was: every paragraph against every kept one (quadratic)."""
    kept: list[Paragraph] = []
    fps: list[str] = []
    shingles: list[set[str]] = []
    duplicates = 0
    for para in paras:
        fp = _fingerprint(para.text)
        repeat = fp in fps
        if not repeat and len(fp) >= 12:
            mine = _shingles(fp) if len(fp) >= 40 else None
            for other, theirs in zip(fps, shingles, strict=True):
                if (len(other) >= len(fp) and fp in other) or (len(other) >= 0.8 * len(fp) and other in fp):
                    repeat = True
                    break
                if mine and theirs and 0.85 <= len(other) / len(fp) <= 1.18:
                    if len(mine & theirs) / len(mine | theirs) >= 0.85:
                        repeat = True
                        break
        if repeat:
            duplicates += 1
            continue
        kept.append(para)
        fps.append(fp)
        shingles.append(_shingles(fp) if len(fp) >= 40 else set())
    return kept, duplicates


def timed(fn, *args):
    started = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,4000,16000,64000")
    parser.add_argument("--megabytes", type=float, default=20.0)
    args = parser.parse_args()

    print(f"{'paragraphs':>10} {'anchors s':>10} {'all-pairs s':>12} {'ratio':>7}  kept/removed")
    for size in (int(s) for s in args.sizes.split(",")):
        paras = paragraphs(size)
        (kept, removed), fast = timed(collapse_repeated_paragraphs, paras)
        if size <= ALL_PAIRS_LIMIT:
            (old_kept, old_removed), slow = timed(all_pairs, paras)
            same = "same" if [p.text for p in old_kept] == [p.text for p in kept] else "DIFFERENT"
            print(
                f"{len(paras):>10} {fast:>10.2f} {slow:>12.2f} {slow / fast:>6.0f}x  {len(kept)}/{removed} ({same})"
            )
        else:
            print(f"{len(paras):>10} {fast:>10.2f} {'(skipped)':>12} {'':>7}  {len(kept)}/{removed}")

    from index.lexicon import Lexicon
    from index.normalize import default_tokenizer
    from index.pipeline import Indexer

    with tempfile.TemporaryDirectory() as tmp:
        note = Path(tmp) / "huge.txt"
        lines = [p.text for p in paragraphs(2000)]
        with note.open("w", encoding="utf-8") as out:
            n = 0
            while out.tell() < args.megabytes * 1_000_000:
                out.write(f"{lines[n % len(lines)]}（第{n}次）\n\n")
                n += 1
        data = note.read_bytes()
        indexer = Indexer(None, None, default_tokenizer(), Lexicon.load(), max_file_bytes=len(data) + 1)  # type: ignore[arg-type]
        prepared, seconds = timed(indexer.prepare, note, str(note), data)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"\n{len(data) / 1e6:.1f} MB text note ({n} paragraphs): read+clean+describe+chunk+tokenize "
            f"{seconds:.1f} s, {len(prepared.chunks)} chunks, peak RSS {rss:.0f} MB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
