#!/usr/bin/env bash
# PHP for the PrestaShop module's tests, from Debian's packages, installed only when something is missing.
# Exit status 0 when php, phpunit and the extensions are there (afterwards); 1 when they could not be installed
# (the PHP tests then skip, saying so). Used by `make php-deps` and `.ci/run`.
set -uo pipefail

PACKAGES=(php-cli phpunit php-curl php-xml php-mbstring php-sqlite3)
EXTENSIONS=(curl dom mbstring pdo_sqlite tokenizer)

have_php() {
  command -v php >/dev/null && command -v phpunit >/dev/null || return 1
  local modules
  modules="$(php -m 2>/dev/null | tr '[:upper:]' '[:lower:]')"
  for ext in "${EXTENSIONS[@]}"; do
    grep -qx "$ext" <<<"$modules" || return 1
  done
}

if have_php; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "install-php: no apt-get here; install ${PACKAGES[*]} (or equivalents) by hand" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  SUDO=(sudo -n)
  command -v sudo >/dev/null || { echo "install-php: not root and no sudo: install ${PACKAGES[*]}" >&2; exit 1; }
else
  SUDO=()
fi
echo "install-php: installing ${PACKAGES[*]}"
"${SUDO[@]}" apt-get update -qq \
  && DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" \
     >/dev/null \
  || { echo "install-php: apt-get failed" >&2; exit 1; }
have_php || { echo "install-php: installed, but php/phpunit or an extension is still missing" >&2; exit 1; }
php --version | head -n1
phpunit --version | head -n1
