#!/usr/bin/env bash
# Distributed training through mmengine's launcher: torchrun starts GPUS processes
# per node running tools/train.py --launcher pytorch (extra arguments pass through).
#   tools/dist_train.sh CONFIG GPUS [train.py options]
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 PORT=29500 tools/dist_train.sh CONFIG 8
# On a machine without CUDA each process trains on the CPU with the gloo backend.
set -euo pipefail
if [ "$#" -lt 2 ]; then
    echo "usage: $0 CONFIG GPUS [tools/train.py options]" >&2
    exit 2
fi
exec "$(dirname "$0")/torchrun.sh" train.py "$2" "$1" --launcher pytorch "${@:3}"
