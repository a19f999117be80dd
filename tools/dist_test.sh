#!/usr/bin/env bash
# Distributed testing through mmengine's launcher: torchrun starts GPUS processes
# per node running tools/test.py --launcher pytorch (extra arguments pass through).
#   tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py options]
# Several nodes: NNODES, NODE_RANK, MASTER_ADDR, PORT as for tools/dist_train.sh.
# On a machine without CUDA each process runs on the CPU with the gloo backend.
set -euo pipefail
if [ "$#" -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT GPUS [tools/test.py options]" >&2
    exit 2
fi
exec "$(dirname "$0")/torchrun.sh" test.py "$3" "$1" "$2" --launcher pytorch "${@:4}"
