#!/usr/bin/env bash
# The torchrun call behind tools/dist_train.sh and tools/dist_test.sh:
#   tools/torchrun.sh SCRIPT NPROC_PER_NODE [SCRIPT arguments]
# starts NPROC_PER_NODE processes of tools/SCRIPT on this node. Several nodes: set
# NNODES, NODE_RANK, MASTER_ADDR and PORT on each (defaults: 1, 0, 127.0.0.1, 29500);
# PYTHON picks the interpreter (default: python).
set -euo pipefail
SCRIPT=$1
NPROC=$2
TOOLS_DIR="$(cd "$(dirname "$0")" && pwd)"
case "$NPROC" in
    ''|*[!0-9]*|0) echo "$0: the number of processes (GPUS) must be a positive integer, got '$NPROC'" >&2; exit 2;;
esac
PYTHONPATH="$TOOLS_DIR/..${PYTHONPATH:+:$PYTHONPATH}" \
exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --nproc_per_node="$NPROC" \
    --master_port="${PORT:-29500}" \
    "$TOOLS_DIR/$SCRIPT" "${@:3}"
