#!/usr/bin/env bash
# The shape of Eshratifar et al.'s Table 1 on real Omniglot (Vinyals split,
# 28x28, Conv4): Transfer, MAML, MTL-MAML, Reptile and MTL-Reptile, each
# trained for about 4 minutes on one CPU thread (iterations below
# measured on our 2-core machine with one other single-thread job running),
# meta-tested on the same seeded test episodes over 5/20-way x 1/5/10-shot
# (10 queries per class: Omniglot has 20 drawings per class).
#   bash benchmarks/omniglot_mtl_study.sh          # all runs, then the table
#   python benchmarks/collect_study.py work_dirs/mtl_study   # table only
# MAML / Reptile heads are N-way: one model per ways. The transfer baseline
# (a 4112-way head, any N at test) is trained once. Cheaper settings than
# the reference where a reference iteration would leave only a few dozen
# iterations in the budget: 20-way MAML with meta-batch 4 and 1 inner step,
# 20-way Reptile with meta-batch 2 of 5-shot episodes; at meta-test 5 inner
# steps for 20-way MAML and 10 for Reptile (instead of 10 and 50).
set -euo pipefail
OUT=${OUT:-work_dirs/mtl_study}
EPISODES=${EPISODES:-200}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$OUT"

# run NAME CONFIG ITERS WAYS [--cfg-options for training and testing...]
run() {
    local name=$1 config=$2 iters=$3 ways=$4
    shift 4
    local work=$OUT/$name
    local every=$((iters / 2))
    local start
    start=$(date +%s)
    python tools/train.py "$config" --work-dir "$work" --cfg-options \
        train_cfg.max_iters="$iters" train_cfg.val_interval="$every" \
        default_hooks.checkpoint.interval="$every" \
        val_dataloader.dataset.num_episodes=100 "$@"
    echo "$name $iters iterations, training wall time $(($(date +%s) - start)) s" |
        tee -a "$OUT/train_times.txt"
    local ckpt
    ckpt=$(ls -t "$work"/best_accuracy_mean_iter_*.pth | head -1)
    python tools/test.py "$config" "$ckpt" --work-dir "$work" \
        --ways $ways --shots 1 5 10 --queries 10 --episodes "$EPISODES" \
        --seed 0 --cfg-options "$@"
}

M=configs/maml/maml_conv4_1xb32_omniglot_5way-1shot.py
MM=configs/mtl/mtl-maml_conv4_1xb32_omniglot_5way-1shot.py
M20=configs/maml/maml_conv4_1xb16_omniglot_20way-1shot.py
MM20=configs/mtl/mtl-maml_conv4_1xb16_omniglot_20way-1shot.py
R=configs/reptile/reptile_conv4_1xb5_omniglot_5way-1shot.py
MR=configs/mtl/mtl-reptile_conv4_1xb5_omniglot_5way-1shot.py
R20=configs/reptile/reptile_conv4_1xb5_omniglot_20way-1shot.py
MR20=configs/mtl/mtl-reptile_conv4_1xb5_omniglot_20way-1shot.py
T=configs/transfer/baseline_conv4_1xb128_omniglot_5way-1shot.py

run transfer "$T" 2400 "5 20" param_scheduler.0.end=2400
run maml_5way "$M" 3000 5 train_dataloader.batch_size=8
run mtl-maml_5way "$MM" 2400 5 train_dataloader.batch_size=8
run maml_20way "$M20" 1000 20 train_dataloader.batch_size=4 \
    model.num_inner_steps=1 model.test_num_inner_steps=5
run mtl-maml_20way "$MM20" 900 20 train_dataloader.batch_size=4 \
    model.meta_branch.num_inner_steps=1 model.meta_branch.test_num_inner_steps=5
run reptile_5way "$R" 280 5 param_scheduler.0.end=280 \
    model.test_num_inner_steps=10
run mtl-reptile_5way "$MR" 260 5 param_scheduler.0.end=260 \
    model.meta_branch.test_num_inner_steps=10
run reptile_20way "$R20" 340 20 param_scheduler.0.end=340 \
    train_dataloader.batch_size=2 train_dataloader.dataset.num_shots=5 \
    model.test_num_inner_steps=10
run mtl-reptile_20way "$MR20" 320 20 param_scheduler.0.end=320 \
    train_dataloader.batch_size=2 train_dataloader.dataset.num_shots=5 \
    model.meta_branch.test_num_inner_steps=10
python benchmarks/collect_study.py "$OUT"
