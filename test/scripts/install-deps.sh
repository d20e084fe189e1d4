#!/usr/bin/env bash
# install-deps.sh: install the Debian packages that pg_taskq's build, tests,
# demo and benchmark need (only those missing; as root, or through sudo).
#
#   bash test/scripts/install-deps.sh      (or: make deps)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

install_deps
