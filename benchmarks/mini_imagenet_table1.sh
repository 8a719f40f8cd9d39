#!/usr/bin/env bash
# The real-miniImageNet study on the 32x32 CPU protocol
# (configs/_base_/datasets/mini_imagenet_32px.py; a labelled reduction of the
# published 84x84 setting), every model Conv4-32, trained for the same BUDGET
# minutes of training iterations (--time-budget --fit-schedule), counted on
# the process's CPU clock (--budget-clock cpu: one thread each, so a job
# slowed by a neighbour still computes as much).
#   bash benchmarks/mini_imagenet_table1.sh train     # the eight trainings
#   bash benchmarks/mini_imagenet_table1.sh variants  # MTL variants (item 6)
#   bash benchmarks/mini_imagenet_table1.sh val       # variants on val
#   bash benchmarks/mini_imagenet_table1.sh test      # Table 1 (val+test)
#   bash benchmarks/mini_imagenet_table1.sh standard  # 5-way, test split
#   bash benchmarks/mini_imagenet_table1.sh table1    # only Table 1's
#       models (the variants' warm start included), trained then tested
#       (the same as table1-train, then table1-test)
#   bash benchmarks/mini_imagenet_table1.sh adapters-val  # LinearProbe's L2
#       on val episodes (5-way 1/5-shot, the transfer embedding)
#   bash benchmarks/mini_imagenet_table1.sh adapters  # Table 1's models,
#       trained then tested with their own adapter and with the cosine
#       Centroid and the LinearProbe (L2 from adapters-val) on the same
#       episodes: the embedding x adapter study (docs/mtl.md)
#   OUT=work_dirs/mini_budget30 BUDGET=30 bash \
#       benchmarks/mini_imagenet_table1.sh budget transfer maml  # the
#       budget study (docs/mtl.md): each model named (transfer, maml,
#       mtl-maml, mtl-maml-warm) trained, then its Table 1 with its own
#       adapter and those in ADAPTERS ("centroid linear"); RES=84 for the
#       84x84 arm. One stream: run two such commands side by side.
#   python benchmarks/collect_table1.py work_dirs/mini_table1  # md/csv/png
#   python benchmarks/collect_adapters.py work_dirs/mini_table1  # the
#       embedding x adapter table
# Models: Transfer (Baseline), Baseline++, ProtoNet, Reptile, MTL-Reptile,
# MAML, MTL-MAML, and Sun et al.'s MTL (scaling and shifting on the frozen
# Baseline backbone: its BUDGET minutes come on top of the Baseline's).
# Table 1 (Eshratifar et al.): the same seeded episodes of the 36 unseen
# classes (split 'val+test', as the paper) at 5 / 20 / 35 ways x 1 / 5 / 100
# shots, EPISODES (600) per 1- and 5-shot cell and EPISODES_100 (100) per
# 100-shot cell (their support sets are 20-70x larger), QUERIES (5) queries
# per class. Standard: the 20 test classes, 5-way 1- and 5-shot, 600 seeded
# episodes, 15 queries per class. Variants (MTL-MAML with beta 0.5, and
# warm-started from a Baseline trained for half the budget, then trained for
# the other half) are compared with MTL-MAML and MAML on 600 val episodes
# only; the one chosen there (the warm start) gets its own Table-1 column.
# Model selection everywhere: the best of the in-training validations
# (5-way 5-shot, 100 val episodes). A finished job is skipped when the script
# is run again (delete its output to redo it).
# Needs data/mini_imagenet (docs/datasets.md). STREAMS=2 (default) runs two
# jobs at a time, one thread each.
set -euo pipefail
OUT=${OUT:-work_dirs/mini_table1}
BUDGET=${BUDGET:-10}
CLOCK=${CLOCK:-cpu}
STREAMS=${STREAMS:-2}
EPISODES=${EPISODES:-600}
EPISODES_100=${EPISODES_100:-100}
QUERIES=${QUERIES:-5}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$OUT"

# RES=84: the published resolution, Conv4-64 (the 84x84 configs; only the
# models of the budget mode have one)
RES=${RES:-32}
case "$RES" in
32)
    T=configs/transfer/baseline_conv4_1xb128_mini-imagenet-32px_5way-5shot.py
    TP=configs/transfer/baseline-plus_conv4_1xb128_mini-imagenet-32px_5way-5shot.py
    P=configs/protonet/protonet_conv4_1xb1_mini-imagenet-32px_5way-5shot.py
    R=configs/reptile/reptile_conv4_1xb5_mini-imagenet-32px_5way-5shot.py
    MR=configs/mtl/mtl-reptile_conv4_1xb5_mini-imagenet-32px_5way-5shot.py
    M=configs/maml/maml_conv4_1xb4_mini-imagenet-32px_5way-5shot.py
    MM=configs/mtl/mtl-maml_conv4_1xb4_mini-imagenet-32px_5way-5shot.py
    SS=configs/mtl-ss/mtl-ss_conv4_1xb2_mini-imagenet-32px_5way-5shot.py
    ;;
84)
    T=configs/transfer/baseline_conv4_1xb128_mini-imagenet_5way-5shot.py
    M=configs/maml/maml_conv4_1xb4_mini-imagenet_5way-5shot.py
    MM=configs/mtl/mtl-maml_conv4_1xb4_mini-imagenet_5way-5shot.py
    ;;
*) echo "RES=$RES: 32 or 84" >&2; exit 2 ;;
esac
# the paper's "regular SGD" head for the Baseline (Chen et al.'s test head):
# a zero-initialised linear head fine-tuned on the frozen support features
LINEAR=(model.adapter.head._delete_=True model.adapter.head.type=LinearHead
        model.adapter.head.zero_init=True model.adapter.head_init=module)
# LinearProbe's L2 weight, chosen on val episodes (adapters-val; the
# reading is in docs/mtl.md)
L2=${L2:-0.01}

best() {  # the best validation checkpoint of the run OUT/NAME
    ls -t "$OUT/$1"/best_accuracy_mean_iter_*.pth | head -1
}

train() {  # train NAME CONFIG [MINUTES [cfg-options]]
    local name=$1 config=$2 minutes=${3:-$BUDGET} work=$OUT/$1 start
    shift 2
    [ $# -gt 0 ] && shift
    if grep -q "^$name: " "$OUT/train_times.txt" 2>/dev/null; then
        echo "$name: trained already ($work)"
        return
    fi
    start=$(date +%s)
    python tools/train.py "$config" --work-dir "$work" \
        --time-budget "$minutes" --fit-schedule --budget-clock "$CLOCK" \
        ${1:+--cfg-options "$@"} >"$work.train.log" 2>&1
    echo "$name: $(grep -o '[0-9]* iterations fit in' "$work.train.log" |
        head -1) $minutes $CLOCK min, stopped after $(grep -o \
        'reached after [0-9]*' "$work.train.log" | grep -o '[0-9]*$' ||
        echo '(not stopped by the budget)') iterations, wall time" \
        "$(($(date +%s) - start)) s with validation" |
        tee -a "$OUT/train_times.txt"
}

meta_test() {  # meta_test NAME TRAINED CONFIG TAG [tools/test.py options]
    # (results in OUT/NAME, from the best checkpoint of the run OUT/TRAINED)
    local name=$1 config=$3 tag=$4 work=$OUT/$1
    local ckpt
    ckpt=$(best "$2")
    shift 4
    if [ -f "$work.$tag.done" ]; then
        echo "$name $tag: tested already"
        return
    fi
    mkdir -p "$work"
    python tools/test.py "$config" "$ckpt" --work-dir "$work" --seed 0 "$@" \
        >"$work.$tag.log" 2>&1 && touch "$work.$tag.done"
}

table1() {  # table1 NAME TRAINED CONFIG [cfg-options]
    local name=$1 trained=$2 config=$3
    shift 3
    local options=(--cfg-options test_dataloader.dataset.dataset.split=val+test "$@")
    meta_test "$name" "$trained" "$config" test --ways 5 20 35 --shots 1 5 \
        --queries "$QUERIES" --episodes "$EPISODES" "${options[@]}"
    meta_test "$name" "$trained" "$config" test100 --ways 5 20 35 \
        --shots 100 --queries "$QUERIES" --episodes "$EPISODES_100" \
        "${options[@]}"
}

adapter_table1() {  # adapter_table1 TRAINED CONFIG ADAPTER [KEY=VALUE ...]
    # Table 1 of the model OUT/TRAINED with another adapter, on the same
    # episodes as its own (results in OUT/TRAINED@ADAPTER)
    local trained=$1 config=$2 adapter=$3 name=$1@$3
    shift 3
    local options=(--adapter "$adapter" ${1:+--adapter-cfg "$@"}
                   --cfg-options test_dataloader.dataset.dataset.split=val+test)
    meta_test "$name" "$trained" "$config" test --ways 5 20 35 --shots 1 5 \
        --queries "$QUERIES" --episodes "$EPISODES" "${options[@]}"
    meta_test "$name" "$trained" "$config" test100 --ways 5 20 35 \
        --shots 100 --queries "$QUERIES" --episodes "$EPISODES_100" \
        "${options[@]}"
}

adapters_of() {  # adapters_of TRAINED CONFIG: the centroid and linear runs
    adapter_table1 "$1" "$2" centroid
    adapter_table1 "$1" "$2" linear "l2=$L2"
}

standard() {  # standard NAME TRAINED CONFIG [cfg-options]
    local name=standard/$1 trained=$2 config=$3
    shift 3
    mkdir -p "$OUT/standard"
    meta_test "$name" "$trained" "$config" test --ways 5 --shots 1 5 \
        --queries 15 --episodes "$EPISODES" ${1:+--cfg-options "$@"}
}

validate() {  # validate NAME TRAINED CONFIG: 5-way 1/5-shot on val episodes
    local name=val/$1 trained=$2 config=$3
    mkdir -p "$OUT/val"
    meta_test "$name" "$trained" "$config" test --ways 5 --shots 1 5 \
        --queries 15 --episodes "$EPISODES" \
        --cfg-options test_dataloader.dataset.dataset.split=val
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

train_a() {
    train transfer "$T"
    train mtl-ss "$SS" "$BUDGET" "load_from=$(best transfer)"
    train maml "$M"
    train reptile "$R"
}
train_b() {
    train mtl-maml "$MM"
    train mtl-reptile "$MR"
    train protonet "$P"
    train baseline-plus "$TP"
}
half=$(python -c "print($BUDGET / 2)")
variants_a() { train mtl-maml-beta0.5 "$MM" "$BUDGET" model.beta=0.5; }
train_warm() {
    train transfer-half "$T" "$half"
    # the Baseline's backbone (its running BN statistics and 64-way head
    # left out: a partial load on purpose)
    train mtl-maml-warm "$MM" "$half" "load_from=$(best transfer-half)" \
        load_from_strict=False
}
variants_b() { train_warm; }
val_a() {
    validate mtl-maml mtl-maml "$MM"
    validate mtl-maml-beta0.5 mtl-maml-beta0.5 "$MM"
    validate maml maml "$M"
}
val_b() {
    validate mtl-maml-warm mtl-maml-warm "$MM"
    validate transfer transfer "$T"
}
test_a() {
    table1 maml maml "$M"
    table1 reptile reptile "$R"
    table1 transfer transfer "$T"
    table1 transfer-linear transfer "$T" "${LINEAR[@]}"
}
test_b() {
    table1 mtl-maml mtl-maml "$MM"
    table1 mtl-reptile mtl-reptile "$MR"
    table1 protonet protonet "$P"
    # the MTL-MAML variant with the best val accuracy (docs/mtl.md): the
    # warm start, 5 Baseline minutes + 5 MTL-MAML minutes
    table1 mtl-maml-warm mtl-maml-warm "$MM"
}
standard_a() {
    standard transfer-linear transfer "$T" "${LINEAR[@]}"
    standard transfer transfer "$T"
    standard baseline-plus baseline-plus "$TP"
    standard maml maml "$M"
    standard reptile reptile "$R"
}
standard_b() {
    standard protonet protonet "$P"
    standard mtl-maml mtl-maml "$MM"
    standard mtl-reptile mtl-reptile "$MR"
    standard mtl-ss mtl-ss "$SS"
    standard mtl-maml-warm mtl-maml-warm "$MM"
}

# Table 1 alone, the streams balanced by their measured test times (the
# MAML-like models' tests take longest)
table1_train_a() {
    train transfer "$T"
    train maml "$M"
    train reptile "$R"
    train protonet "$P"
}
table1_train_b() {
    train_warm
    train mtl-maml "$MM"
    train mtl-reptile "$MR"
}
table1_test_a() {
    table1 maml maml "$M"
    table1 reptile reptile "$R"
    table1 protonet protonet "$P"
    table1 transfer transfer "$T"
    table1 transfer-linear transfer "$T" "${LINEAR[@]}"
}
table1_test_b() {
    table1 mtl-maml mtl-maml "$MM"
    table1 mtl-reptile mtl-reptile "$MR"
    table1 mtl-maml-warm mtl-maml-warm "$MM"
}
table1_a() { table1_train_a; table1_test_a; }
table1_b() { table1_train_b; table1_test_b; }
adapters_test_a() {
    adapters_of maml "$M"
    adapters_of reptile "$R"
    adapters_of protonet "$P"
    adapters_of transfer "$T"
}
adapters_test_b() {
    adapters_of mtl-maml "$MM"
    adapters_of mtl-reptile "$MR"
    adapters_of mtl-maml-warm "$MM"
}
adapters_a() { table1_a; adapters_test_a; }
adapters_b() { table1_b; adapters_test_b; }
adapters_val() {  # adapters_val TRAINED CONFIG: LinearProbe L2 on val
    local l2
    for l2 in 0.001 0.01 0.1; do
        mkdir -p "$OUT/val"
        meta_test "val/$1@linear-l2=$l2" "$1" "$2" test --ways 5 \
            --shots 1 5 --queries 15 --episodes "$EPISODES" \
            --adapter linear --adapter-cfg "l2=$l2" \
            --cfg-options test_dataloader.dataset.dataset.split=val
    done
}

budget_model() {  # budget_model NAME: train it, then its Table 1 with
    # its own adapter and (ADAPTERS) the others on the same episodes
    local name=$1 config adapter
    case "$name" in
    transfer) config=$T; train transfer "$T" ;;
    maml) config=$M; train maml "$M" ;;
    mtl-maml) config=$MM; train mtl-maml "$MM" ;;
    mtl-maml-warm) config=$MM; train_warm ;;
    *) echo "budget: unknown model $name" >&2; exit 2 ;;
    esac
    table1 "$name" "$name" "$config"
    for adapter in $ADAPTERS; do
        case "$adapter" in
        linear) adapter_table1 "$name" "$config" linear "l2=$L2" ;;
        *) adapter_table1 "$name" "$config" "$adapter" ;;
        esac
    done
}
ADAPTERS=${ADAPTERS:-centroid linear}

case "${1:-all}" in
budget) shift; for model in "$@"; do budget_model "$model"; done ;;
train) streams train_a train_b ;;
variants) streams variants_a variants_b ;;
val) streams val_a val_b ;;
test) streams test_a test_b ;;
standard) streams standard_a standard_b ;;
table1) streams table1_a table1_b ;;
table1-train) streams table1_train_a table1_train_b ;;
table1-test) streams table1_test_a table1_test_b ;;
adapters-val) adapters_val transfer "$T" ;;
adapters) streams adapters_a adapters_b ;;
all)
    streams train_a train_b
    streams variants_a variants_b
    streams val_a val_b
    streams standard_a standard_b
    streams test_a test_b
    ;;
*) echo "usage: $0 [train|variants|val|test|standard|table1|table1-train|table1-test|adapters-val|adapters|budget MODEL...|all]" >&2; exit 2 ;;
esac
