#!/usr/bin/env bash
# Eshratifar et al.'s Table 1 on real miniImageNet, on the 32x32 CPU protocol
# (configs/_base_/datasets/mini_imagenet_32px.py; a labelled reduction of
# their 84x84 setting): Transfer, ProtoNet, Reptile, MTL-Reptile, MAML and
# MTL-MAML (Conv4-32 each), each trained for the same BUDGET minutes of
# training iterations on one CPU thread (--time-budget --fit-schedule), then
# meta-tested on the same seeded episodes of the 36 unseen classes
# (split 'val+test', as the paper) at 5 / 20 / 35 ways x 1 / 5 / 100 shots.
#   bash benchmarks/mini_imagenet_table1.sh train   # the six trainings
#   bash benchmarks/mini_imagenet_table1.sh test    # the meta-tests
#   python benchmarks/collect_table1.py work_dirs/mini_table1  # md/csv/png
# Needs data/mini_imagenet (docs/datasets.md). STREAMS=2 (default) runs two
# jobs at a time, one thread each. Meta-test: EPISODES (600) seeded episodes
# per 1- and 5-shot cell, EPISODES_100 (100) per 100-shot cell (their
# support sets are 20-70x larger), QUERIES (5) queries per class. Model
# selection: the best of the in-training validations (5-way 5-shot, val).
set -euo pipefail
OUT=${OUT:-work_dirs/mini_table1}
BUDGET=${BUDGET:-10}
STREAMS=${STREAMS:-2}
EPISODES=${EPISODES:-600}
EPISODES_100=${EPISODES_100:-100}
QUERIES=${QUERIES:-5}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$OUT"

T=configs/transfer/baseline_conv4_1xb128_mini-imagenet-32px_5way-5shot.py
P=configs/protonet/protonet_conv4_1xb1_mini-imagenet-32px_5way-5shot.py
R=configs/reptile/reptile_conv4_1xb5_mini-imagenet-32px_5way-5shot.py
MR=configs/mtl/mtl-reptile_conv4_1xb5_mini-imagenet-32px_5way-5shot.py
M=configs/maml/maml_conv4_1xb4_mini-imagenet-32px_5way-5shot.py
MM=configs/mtl/mtl-maml_conv4_1xb4_mini-imagenet-32px_5way-5shot.py

train() {  # train NAME CONFIG
    local name=$1 config=$2 work=$OUT/$1 start
    start=$(date +%s)
    python tools/train.py "$config" --work-dir "$work" \
        --time-budget "$BUDGET" --fit-schedule >"$work.train.log" 2>&1
    echo "$name: $(grep -o '[0-9]* iterations fit in' "$work.train.log" |
        head -1) $BUDGET min, wall time $(($(date +%s) - start)) s with" \
        "validation" | tee -a "$OUT/train_times.txt"
}

test_model() {  # test_model NAME TRAINED CONFIG [cfg-options]
    # (results in OUT/NAME, the best checkpoint of the run OUT/TRAINED)
    local name=$1 config=$3 work=$OUT/$1 ckpt
    mkdir -p "$work"
    ckpt=$(ls -t "$OUT/$2"/best_accuracy_mean_iter_*.pth | head -1)
    shift 3
    local options=(--cfg-options test_dataloader.dataset.dataset.split=val+test "$@")
    python tools/test.py "$config" "$ckpt" --work-dir "$work" --ways 5 20 35 \
        --shots 1 5 --queries "$QUERIES" --episodes "$EPISODES" --seed 0 \
        "${options[@]}" >"$work.test.log" 2>&1
    python tools/test.py "$config" "$ckpt" --work-dir "$work" --ways 5 20 35 \
        --shots 100 --queries "$QUERIES" --episodes "$EPISODES_100" --seed 0 \
        "${options[@]}" >"$work.test100.log" 2>&1
}

streams() {  # run the two stream functions given, in parallel or in turn
    if [ "$STREAMS" = 1 ]; then
        "$1"
        "$2"
    else
        "$1" &
        local first=$!
        "$2" &
        local second=$!
        wait $first
        wait $second
    fi
}

train_a() { train maml "$M"; train reptile "$R"; train transfer "$T"; }
train_b() { train mtl-maml "$MM"; train mtl-reptile "$MR"; train protonet "$P"; }
test_a() {
    test_model maml maml "$M"
    test_model reptile reptile "$R"
    test_model transfer transfer "$T"
    # the paper's "regular SGD" head: a zero-initialised linear head
    # fine-tuned on the frozen support features
    test_model transfer-linear transfer "$T" model.finetune_cfg.head._delete_=True \
        model.finetune_cfg.head.type=LinearHead \
        model.finetune_cfg.head.zero_init=True model.finetune_cfg.init=module
}
test_b() {
    test_model mtl-maml mtl-maml "$MM"
    test_model mtl-reptile mtl-reptile "$MR"
    test_model protonet protonet "$P"
}

case "${1:-all}" in
train) rm -f "$OUT/train_times.txt"; streams train_a train_b ;;
test) streams test_a test_b ;;
all) rm -f "$OUT/train_times.txt"; streams train_a train_b; streams test_a test_b ;;
*) echo "usage: $0 [train|test|all]" >&2; exit 2 ;;
esac
