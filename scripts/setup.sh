#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine (run as root):
#   bash scripts/setup.sh demo   install what is missing, build, mount the embedded default at ~/kiseki
#   bash scripts/setup.sh test   install what is missing, build, run the default test suite
# Idempotent: packages already installed are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-}"
case "$mode" in demo|test|install) ;; *) echo "usage: bash scripts/setup.sh demo|test|install" >&2; exit 2 ;; esac

log() { printf '\n== %s\n' "$*"; }

install_apt() {
  local want=() pkg
  while read -r pkg; do
    [[ -z "$pkg" || "$pkg" == \#* ]] && continue
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || want+=("$pkg")
  done < <(cat scripts/apt-packages*.txt)
  if ((${#want[@]})); then
    log "apt-get install ${want[*]}"
    [[ $(id -u) -eq 0 ]] || { echo "setup.sh must run as root to install: ${want[*]}" >&2; exit 1; }
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
  fi
}

check_node() {
  command -v node >/dev/null || { log "installing Debian nodejs"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
  local major; major=$(node -p 'process.versions.node.split(".")[0]')
  ((major >= 20)) || { echo "kiseki-client needs Node.js >= 20 (found $(node --version))" >&2; exit 1; }
}

install_npm() {
  # Node's headers ship with the machine's Node; never download them.
  export npm_config_nodedir=/usr
  if [[ ! -d node_modules || package.json -nt node_modules/.package-lock.json ]]; then
    log "npm install"
    npm install --no-audit --no-fund --loglevel=error
  fi
  log "build (native addon + TypeScript)"
  npm run --silent build
}

install_apt
check_node
install_npm

case "$mode" in
  install) ;;
  test) log "tests"; exec npm test ;;
  demo)
    mnt="${KISEKI_MOUNT:-$HOME/kiseki}"
    mkdir -p "$mnt"
    log "mount the embedded default at $mnt"
    node dist/src/cli/kiseki-client-fuse.js mount "$mnt"
    node dist/src/cli/kiseki-client-fuse.js status
    echo "try: cp some-file $mnt/ ; ls -l $mnt ; kiseki-client cache --stats (node dist/src/cli/kiseki-client.js)"
    echo "end: node dist/src/cli/kiseki-client-fuse.js unmount $mnt" ;;
esac
