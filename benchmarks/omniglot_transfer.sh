#!/usr/bin/env bash
# Accuracy benchmark: train a transfer baseline on Omniglot (Vinyals split,
# 28x28, Conv4) and meta-test its best checkpoint on 600 seeded test
# episodes (seed 0) for 5/20-way x 1/5-shot.
#   bash benchmarks/omniglot_transfer.sh [CONFIG]
# RESUME=1 continues an interrupted run from its last checkpoint.
set -euo pipefail
CONFIG=${1:-configs/transfer/baseline_conv4_1xb128_omniglot_5way-1shot.py}
NAME=$(basename "$CONFIG" .py)
WORK_DIR=${WORK_DIR:-work_dirs/$NAME}
start=$(date +%s)
python tools/train.py "$CONFIG" --work-dir "$WORK_DIR" ${RESUME:+--resume}
echo "training wall time: $(( $(date +%s) - start )) s"
CKPT=$(ls -t "$WORK_DIR"/best_accuracy_mean_iter_*.pth | head -1)
python tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR" \
    --ways 5 20 --shots 1 5 --episodes 600 --seed 0
