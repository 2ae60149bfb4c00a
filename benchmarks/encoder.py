"""Encoder figures for issue 3, as one JSON object (all ratios measured in this run, on this machine).

- single-message embedding: fp32 sentence-transformers (baseline) vs our int8 and fp32 passes,
  timed interleaved text by text so machine load hits both alike; medians in ms;
- tagging cost: (embedding + tags) / embedding-only - 1, per path, as a fraction of one encoder pass;
- cosine of int8 to fp32 sentence-transformers embeddings over every dev text (batched), and over the
  timed texts as embedded one by one (the service's case);
- RSS after loading each path, each in a fresh subprocess;
- dev macro-F1 (original / ekman / group) of the int8 and fp32 taggers.

Usage: .venv/bin/python benchmarks/encoder.py [--data ../shared/data/goemotions] [--n 300]
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from memory_service.config import Settings  # noqa: E402


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _rss_child(kind: str) -> None:
    """Run in a subprocess: RSS after imports, then after loading one encoder and encoding once."""
    import torch  # noqa: F401

    settings = Settings()
    before = _rss_mb()
    if kind == "st":
        from memory_service.encoder.embeddings import Embedder

        Embedder(settings.embedding_model_path).embed_one("warm up")
    else:
        from memory_service.encoder.encoder import Encoder

        Encoder(settings.embedding_model_path, settings.emotion_weights_path, quantize=kind == "int8").encode_one("warm up")
    print(json.dumps({"after_imports_mb": round(before, 1), "after_load_mb": round(_rss_mb(), 1)}))


def _rss(kind: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--rss-child", kind], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _time_ms(fn, text: str):
    start = time.perf_counter()
    out = fn(text)
    return (time.perf_counter() - start) * 1000, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "goemotions")
    parser.add_argument("--n", type=int, default=300, help="dev texts timed one by one")
    parser.add_argument("--rss-child", choices=["st", "fp32", "int8"])
    args = parser.parse_args()
    if args.rss_child:
        _rss_child(args.rss_child)
        return

    from memory_service.encoder.embeddings import Embedder
    from memory_service.encoder.encoder import Encoder
    from memory_service.encoder.evaluation import evaluate
    from memory_service.encoder.goemotions import read_split

    settings = Settings()
    texts = read_split(args.data, "original", "dev").texts
    st = Embedder(settings.embedding_model_path)
    fp32 = Encoder(settings.embedding_model_path, settings.emotion_weights_path, quantize=False)
    int8 = Encoder(settings.embedding_model_path, settings.emotion_weights_path, quantize=True)

    paths = {
        "st_fp32_embed": st.embed_one,
        "fp32_embed": fp32.embed_one,
        "fp32_embed_and_tags": fp32.encode_one,
        "int8_embed": int8.embed_one,
        "int8_embed_and_tags": int8.encode_one,
    }
    for fn in paths.values():  # warm-up
        for text in texts[:20]:
            fn(text)
    times: dict[str, list[float]] = {name: [] for name in paths}
    singles: dict[str, list] = {"st_fp32_embed": [], "int8_embed": []}
    for text in texts[: args.n]:
        for name, fn in paths.items():
            ms, out = _time_ms(fn, text)
            times[name].append(ms)
            if name in singles:
                singles[name].append(out)
    cos_single = np.sum(np.array(singles["st_fp32_embed"]) * np.array(singles["int8_embed"]), axis=1)
    median = {name: round(statistics.median(v), 3) for name, v in times.items()}

    reference = np.array(st.embed(texts))
    cos_int8 = np.sum(reference * np.array(int8.embed(texts)), axis=1)
    cos_fp32 = np.sum(reference * np.array(fp32.embed(texts)), axis=1)

    f1 = {}
    for name, enc in (("fp32", fp32), ("int8", int8)):
        scores = enc.scores(texts)
        f1[name] = {t: evaluate(enc, args.data, "dev", t, scores)["macro_f1"] for t in ("original", "ekman", "group")}
    result = {
        "n_timed": min(args.n, len(texts)),
        "median_ms_per_message": median,
        "speedup_int8_embed_vs_st_fp32": round(median["st_fp32_embed"] / median["int8_embed"], 2),
        "speedup_int8_embed_and_tags_vs_st_fp32": round(median["st_fp32_embed"] / median["int8_embed_and_tags"], 2),
        "tagging_cost_fraction_of_pass": {
            "int8": round(median["int8_embed_and_tags"] / median["int8_embed"] - 1, 3),
            "fp32": round(median["fp32_embed_and_tags"] / median["fp32_embed"] - 1, 3),
        },
        "cosine_to_st_fp32_over_dev": {
            "n": len(texts),
            "int8_min": round(float(cos_int8.min()), 5),
            "int8_mean": round(float(cos_int8.mean()), 5),
            "int8_share_ge_0.99": round(float((cos_int8 >= 0.99).mean()), 5),
            "fp32_min": round(float(cos_fp32.min()), 6),
            "int8_one_by_one_timed_texts": {
                "n": len(cos_single),
                "min": round(float(cos_single.min()), 5),
                "mean": round(float(cos_single.mean()), 5),
            },
        },
        "rss_mb": {kind: _rss(kind) for kind in ("st", "fp32", "int8")},
        "dev_macro_f1": f1,
        "emotion_weights": {"path": str(settings.emotion_weights_path), "trained": int8.info},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
