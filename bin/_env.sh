# Shared by bin/start and bin/test: find Python >= 3.12, make .venv, install what pyproject.toml pins.
# Sourced, not run.

find_python() {
  local candidate version
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3 \
      "$(command -v pyenv >/dev/null 2>&1 && pyenv root)"/versions/3.13*/bin/python3 \
      "$(command -v pyenv >/dev/null 2>&1 && pyenv root)"/versions/3.12*/bin/python3; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || [ -x "$candidate" ] || continue
    version=$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || continue
    case "$version" in
      3.1[2-9]|3.[2-9][0-9]) echo "$candidate"; return 0 ;;
    esac
  done
  return 1
}

ensure_venv() {
  local extras="$1" python stamp
  if [ ! -x .venv/bin/python ]; then
    if ! python=$(find_python); then
      echo "error: suppression_admin needs Python 3.12 or newer (3.13 recommended), and none was found." >&2
      echo "       Install Python 3.13 (e.g. 'pyenv install 3.13' or your OS package), or set PYTHON=/path/to/python3.13." >&2
      exit 1
    fi
    echo "==> Creating .venv with $("$python" --version 2>&1)"
    "$python" -m venv .venv
  fi
  # Reinstall only when pyproject.toml changed since the last install.
  stamp=".venv/.installed-$(cksum pyproject.toml | cut -d' ' -f1)-${extras:-base}"
  if [ ! -f "$stamp" ]; then
    echo "==> Installing dependencies (pinned in pyproject.toml)"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras:+[$extras]}"
    rm -f .venv/.installed-*
    touch "$stamp"
  fi
}

# What bin/start and bin/worker run with: the embedded sandbox unless the environment says
# otherwise (SUPPRESSION_SANDBOX=0 with real keys), where the server and its sandbox are.
app_env() {
  export SUPPRESSION_SANDBOX="${SUPPRESSION_SANDBOX:-1}"
  # Not DEBUG: a newcomer sees the app's own 404 and 500 pages (Django's debug pages list
  # every URL pattern and local variable); WhiteNoise serves collectstatic's output.
  export DEBUG="${DEBUG:-0}"
  HOST_PORT="${HOST_PORT:-127.0.0.1:8000}"
  export SANDBOX_BASE_URL="${SANDBOX_BASE_URL:-http://$HOST_PORT}"
}
