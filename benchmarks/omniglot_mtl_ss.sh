#!/usr/bin/env bash
# Sun et al.'s meta-transfer learning on real Omniglot (Vinyals split, 28x28,
# Conv4), pretraining included, sized for under 30 minutes of one CPU thread:
#   1. pretrain: the transfer baseline, PRETRAIN_ITERS iterations (cosine);
#   2. SS meta-training from that checkpoint, SS_ITERS iterations on 5-way
#      1-shot episodes (meta-batch 2, 15 queries, inner SGD lr 0.01, 20
#      steps; 100 at meta-test);
#   3. meta-test both on the same 600 seeded test episodes (seed 0), 5-way
#      1-shot and 5-shot: SS vs the transfer baseline's own fine-tuning from
#      the same pretrained checkpoint.
#   bash benchmarks/omniglot_mtl_ss.sh
# SS_CONFIG picks the SS config (default: the paper's linear base learner);
# PRETRAINED=CKPT skips step 1 and starts from that baseline checkpoint.
set -euo pipefail
OUT=${OUT:-work_dirs/mtl_ss_omniglot}
PRETRAIN_ITERS=${PRETRAIN_ITERS:-4000}
SS_ITERS=${SS_ITERS:-3000}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
BASELINE=configs/transfer/baseline_conv4_1xb128_omniglot_5way-1shot.py
SS=${SS_CONFIG:-configs/mtl-ss/mtl-ss_conv4_1xb2_omniglot_5way-1shot.py}
SS_DIR=$OUT/$(basename "$SS" .py)
start=$(date +%s)
if [ -z "${PRETRAINED:-}" ]; then
    python tools/train.py "$BASELINE" --work-dir "$OUT/pretrain" \
        --cfg-options train_cfg.max_iters="$PRETRAIN_ITERS" \
        train_cfg.val_interval=$((PRETRAIN_ITERS / 4)) \
        default_hooks.checkpoint.interval=$((PRETRAIN_ITERS / 4)) \
        param_scheduler.0.end="$PRETRAIN_ITERS"
    echo "pretrain wall time: $(($(date +%s) - start)) s" | tee -a "$OUT/train_time.txt"
fi
pretrained=${PRETRAINED:-$(ls -t "$OUT"/pretrain/best_accuracy_mean_iter_*.pth | head -1)}
ss_start=$(date +%s)
python tools/train.py "$SS" --work-dir "$SS_DIR" --cfg-options \
    load_from="$pretrained" train_cfg.max_iters="$SS_ITERS" \
    train_cfg.val_interval=$((SS_ITERS / 4)) \
    default_hooks.checkpoint.interval=$((SS_ITERS / 4))
echo "$(basename "$SS" .py) SS wall time: $(($(date +%s) - ss_start)) s" |
    tee -a "$OUT/train_time.txt"
ss=$(ls -t "$SS_DIR"/best_accuracy_mean_iter_*.pth | head -1)
python tools/test.py "$SS" "$ss" --work-dir "$SS_DIR" --shots 1 5 \
    --episodes 600 --seed 0
python tools/test.py "$BASELINE" "$pretrained" --work-dir "$OUT/pretrain" \
    --shots 1 5 --episodes 600 --seed 0
