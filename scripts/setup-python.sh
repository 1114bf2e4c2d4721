#!/usr/bin/env bash
# The project's Python environment: a git-ignored venv at .venv (or $LILY_VENV) with the pinned
# packages of scripts/python-requirements.txt. Idempotent: a stamp holding the requirements'
# hash makes a second run install nothing. torch is installed first and alone, pinned, so that no
# other package's loose `torch` requirement can pull a multi-GB CUDA build.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${LILY_VENV:-$root/.venv}"
req="$root/scripts/python-requirements.txt"
stamp="$venv/.lily-requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/python" ]; then exit 0; fi
py="${LILY_BASE_PYTHON:-python3}"
if ! command -v "$py" >/dev/null 2>&1; then
  echo "setup-python: no $py on PATH; install Python 3.10+ with venv (Debian: apt-get install python3-venv)" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "setup-python: creating $venv" >&2
  "$py" -m venv "$venv" || { echo "setup-python: '$py -m venv' failed; on Debian: apt-get install python3-venv" >&2; exit 1; }
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check --quiet)
echo "setup-python: installing scripts/python-requirements.txt into $venv (first run: a few minutes)" >&2
"${pip[@]}" install "$(grep -E '^torch==' "$req")" 2> >(grep -v 'WARNING: Location' >&2)
"${pip[@]}" install -r "$req" 2> >(grep -v 'WARNING: Location' >&2)
echo "$want" > "$stamp"
