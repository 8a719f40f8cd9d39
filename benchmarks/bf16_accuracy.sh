#!/usr/bin/env bash
# bfloat16 autocast against float32 training: the same config, seed 0,
# iterations and validation episodes, once with optim_wrapper.precision=
# float32 and once with 'auto' (bfloat16 where the CPU computes it
# natively; the log's AutocastOptimWrapper line says which ran). Two one-
# thread jobs at a time (about 10 + 8 minutes on our 2-core machine for the
# MAML pairs, 4 + 4 for the transfer and ProtoNet ones); prints each
# validation's accuracy and 95% CI. The miniImageNet pairs need
# data/mini_imagenet (docs/datasets.md).
#
#     bash benchmarks/bf16_accuracy.sh [omniglot] [mini32] [transfer32]
#         [protonet32]
set -euo pipefail
OUT=${OUT:-work_dirs/bf16_check}
mkdir -p "$OUT"

pair() {  # pair NAME CONFIG ITERS VAL_INTERVAL [cfg-options]
    local name=$1 config=$2 iters=$3 val=$4 precision
    shift 4
    for precision in float32 auto; do
        python tools/train.py "$config" --threads 1 \
            --work-dir "$OUT/${name}_$precision" --cfg-options \
            optim_wrapper.precision=$precision train_cfg.max_iters="$iters" \
            train_cfg.val_interval="$val" \
            default_hooks.checkpoint.interval="$val" "$@" \
            >"$OUT/${name}_$precision.log" 2>&1 &
    done
    wait
    for precision in float32 auto; do
        echo "$name, precision=$precision:" \
            "$(grep -o 'forward in [a-z0-9]*' "$OUT/${name}_$precision.log" |
                head -1);" \
            "validation accuracy +- 95% CI at each validation:" \
            "$(grep 'accuracy_mean' "$OUT/${name}_$precision.log" |
                grep -o 'accuracy_mean: [0-9.]*\|accuracy_ci95: [0-9.]*' |
                paste -d' ' - - | sed 's/accuracy_mean: //;
                s/ accuracy_ci95: / +- /' | paste -sd';' -)"
    done
}

for which in "${@:-omniglot mini32 transfer32 protonet32}"; do
    for w in $which; do
        case $w in
        omniglot)  # second-order MAML, Omniglot 5-way 1-shot, 300 val episodes
            pair maml_omniglot configs/maml/maml_conv4_1xb32_omniglot_5way-1shot.py \
                1500 500 ;;
        mini32)  # the study's first-order MAML, 32x32 miniImageNet 5-way 5-shot
            pair maml_mini32 configs/maml/maml_conv4_1xb4_mini-imagenet-32px_5way-5shot.py \
                1000 500 param_scheduler.0.end=1000 \
                val_dataloader.dataset.num_episodes=300 ;;
        transfer32)  # the Baseline's batch training, 32x32 miniImageNet,
            # validated 5-way 5-shot with its own fine-tuned cosine head
            pair transfer_mini32 configs/transfer/baseline_conv4_1xb128_mini-imagenet-32px_5way-5shot.py \
                3000 1500 param_scheduler.0.end=3000 \
                val_dataloader.dataset.num_episodes=300 ;;
        protonet32)  # ProtoNet's 20-way 5-shot episodes, 32x32 miniImageNet
            pair protonet_mini32 configs/protonet/protonet_conv4_1xb1_mini-imagenet-32px_5way-5shot.py \
                1000 500 val_dataloader.dataset.num_episodes=300 ;;
        *) echo "unknown pair $w (omniglot, mini32, transfer32, protonet32)" >&2
            exit 2 ;;
        esac
    done
done
