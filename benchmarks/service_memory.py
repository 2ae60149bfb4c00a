"""The service's resident memory, printed as JSON. Baselines are measured in the same run.

  .venv/bin/python benchmarks/service_memory.py [--turns 30]

Starts `memory-service serve` (its own process, on an embedded Postgres in a temporary directory,
or DATABASE_URL's server), and reads its RSS from /proc once ready and after N chat turns (plus the
peak, VmHWM). Baselines: a process that imports the whole app but loads no model, and the size of
the model files on disk (int8 MiniLM is quantized at load, so its RSS share is below its fp32 file).
Postgres runs in its own processes and is not counted.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from memory_service.config import Settings  # noqa: E402
from memory_service.db.database import Database, start_embedded  # noqa: E402
from memory_service.db.migrate import upgrade  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    raise KeyError(field)


def imports_only_mb() -> float:
    code = ("import memory_service.api.app, torch, llama_cpp, pathlib;"
            "print([l for l in pathlib.Path('/proc/self/status').read_text().splitlines() if l.startswith('VmRSS')][0])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO).stdout
    return round(int(out.split()[1]) / 1024, 1)


def files_mb(settings: Settings) -> dict:
    gguf = settings.llm_model_path.stat().st_size if settings.llm_model_path else 0
    minilm = sum(p.stat().st_size for p in settings.embedding_model_path.rglob("*.safetensors")) \
        if settings.embedding_model_path else 0
    return {"gguf_mb": round(gguf / 2**20, 1), "minilm_fp32_mb": round(minilm / 2**20, 1)}


def api_key(db: Database) -> dict[str, str]:
    try:
        from memory_service.keys import create_key
    except ImportError:  # a build without API keys
        return {}
    with db.transaction() as session:
        return {"Authorization": f"Bearer {create_key(session, 'bench-memory').key}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--turns", type=int, default=30)
    args = ap.parse_args()
    settings = Settings()
    server = None
    if settings.database_url:
        url = settings.database_url
    else:
        server = start_embedded(Path(tempfile.mkdtemp(prefix="bench-rss-")) / "pg")
        url = server.get_uri()
    db = Database(url)
    proc = None
    try:
        upgrade(db.engine)
        headers = api_key(db)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "DATABASE_URL": db.url, "MEMORY_SERVICE_LLM_MAX_TOKENS": "24"}
        proc = subprocess.Popen(
            [sys.executable, "-c", "from memory_service.cli import main; main()", "serve", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO,
        )
        base = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the service did not become ready")
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        ready_s = time.perf_counter() - started
        idle = status_mb(proc.pid, "VmRSS")
        with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
            user = http.post("/v1/users", json={"name": "rss"}).raise_for_status().json()["id"]
            for i in range(args.turns):
                http.post("/v1/chat", json={"user_id": user, "message": f"Day {i}: I walked the dog by the river "
                                            "and thought about my sister's wedding."}).raise_for_status()
        out = {
            "rss_ready_mb": idle,
            "rss_after_turns_mb": status_mb(proc.pid, "VmRSS"),
            "rss_peak_mb": status_mb(proc.pid, "VmHWM"),
            "turns": args.turns,
            "ready_s": round(ready_s, 1),
            "baseline_imports_only_mb": imports_only_mb(),
            **files_mb(settings),
        }
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        db.close()
        if server is not None:
            server.cleanup()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
