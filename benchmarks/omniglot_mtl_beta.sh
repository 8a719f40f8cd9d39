#!/usr/bin/env bash
# MTL-MAML on Omniglot with other transfer weights beta, on the budget and
# test episodes of benchmarks/omniglot_mtl_study.sh (10 minutes of training
# iterations on one thread each, all betas at once: two by default, one per
# core; 5-way x 1/5/10-shot, 200 episodes, seed 0, 10 queries), to set
# beside its MTL-MAML column (beta = 0.1).
#   BETAS="0.3 0.5" bash benchmarks/omniglot_mtl_beta.sh
set -euo pipefail
OUT=${OUT:-work_dirs/mtl_study_beta}
BUDGET=${BUDGET:-10}
BETAS=${BETAS:-0.3 0.5}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
CONFIG=configs/mtl/mtl-maml_conv4_1xb8_omniglot_5way-1shot.py
mkdir -p "$OUT"

run() {
    local beta=$1
    local work=$OUT/mtl-maml_5way_beta$beta
    python tools/train.py "$CONFIG" --work-dir "$work" \
        --time-budget "$BUDGET" --fit-schedule --cfg-options \
        model.beta="$beta" train_cfg.val_interval=5000 \
        default_hooks.checkpoint.interval=5000 \
        val_dataloader.dataset.num_episodes=100 >"$work.train.log" 2>&1
    local ckpt
    ckpt=$(ls -t "$work"/best_accuracy_mean_iter_*.pth | head -1)
    python tools/test.py "$CONFIG" "$ckpt" --work-dir "$work" --ways 5 \
        --shots 1 5 10 --queries 10 --episodes 200 --seed 0 \
        >"$work.test.log" 2>&1
    echo "beta $beta: $(grep -o '[0-9]* iterations fit' "$work.train.log")"
    grep '^| 5 |' "$work.test.log"
}

pids=()
for beta in $BETAS; do
    run "$beta" &
    pids+=($!)
done
for pid in "${pids[@]}"; do
    wait "$pid"
done
