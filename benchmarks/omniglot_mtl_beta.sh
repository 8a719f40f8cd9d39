#!/usr/bin/env bash
# MTL-MAML on Omniglot with other transfer weights beta, on the budget and
# test episodes of benchmarks/omniglot_mtl_study.sh (10 minutes of training
# iterations on one thread each, all betas at once: two by default, one per
# core; 5-way x 1/5/10-shot, 200 episodes, seed 0, 10 queries), to set
# beside its MTL-MAML column (beta = 0.1). The transfer branch embeds every
# image itself (model.share_features=False), as when the numbers in
# docs/mtl.md were measured.
#   BETAS="0.3 0.5" bash benchmarks/omniglot_mtl_beta.sh
set -euo pipefail
OUT=${OUT:-work_dirs/mtl_study_beta}
BUDGET=${BUDGET:-10}
EPISODES=${EPISODES:-200}
BETAS=${BETAS:-0.3 0.5}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$OUT"
source benchmarks/budget_run.sh

pids=()
for beta in $BETAS; do
    run "mtl-maml_5way_beta$beta" \
        configs/mtl/mtl-maml_conv4_1xb8_omniglot_5way-1shot.py 5000 5 \
        model.beta="$beta" model.share_features=False &
    pids+=($!)
done
for pid in "${pids[@]}"; do
    wait "$pid"
done
for beta in $BETAS; do
    echo "beta $beta:"
    grep '^| 5 |' "$OUT/mtl-maml_5way_beta$beta.test.log"
done
