#!/usr/bin/env bash
# The CUB study on the real subset (data/CUB_200_2011: 100 of the 200
# species, ../shared/data/cub/README.md) at the 32x32 CPU protocol of the
# miniImageNet study (configs/_base_/datasets/cub_32px.py; a labelled
# reduction of MMFewShot's 84x84 GPU setting): Conv4-32 models trained on
# the 44 base species for the same BUDGET minutes of training iterations
# (--time-budget --fit-schedule), counted on the process's CPU clock
# (--budget-clock cpu: one thread each, so a job slowed by a neighbour still
# computes as much), each selected by its in-training validations on the 28
# val species (100 episodes; best_accuracy_mean checkpoint), then
# meta-tested on EPISODES (600) seeded 5-way episodes of the 28 novel
# species, 15 queries per class, 95% CI.
#   bash benchmarks/cub_study.sh train     # the trainings
#   bash benchmarks/cub_study.sh test      # the novel-species meta-tests
#   bash benchmarks/cub_study.sh           # both, then the tables:
#   python benchmarks/collect_cub_study.py work_dirs/cub_study  # md/csv/png
# Models: MAML, MTL-MAML and ProtoNet trained once per shot (1-shot
# episodes for the 1-shot test, 5-shot for the 5-shot test, as MMFewShot's
# CUB configs), Baseline++ once (tested at both), and MTL-MAML warm-started
# from a Baseline trained for half the budget, then trained for the other
# half (the miniImageNet study's variant chosen on val, docs/mtl.md).
# A finished job is skipped when the script is run again (delete its output
# to redo it). STREAMS=2 (default) runs two jobs at a time, one thread each.
set -euo pipefail
OUT=${OUT:-work_dirs/cub_study}
BUDGET=${BUDGET:-10}
CLOCK=${CLOCK:-cpu}
STREAMS=${STREAMS:-2}
EPISODES=${EPISODES:-600}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
if [ ! -d data/CUB_200_2011/images ]; then
    echo "data/CUB_200_2011/images not found: build it with" \
        "../shared/data/cub/build.sh (docs/datasets.md)" >&2
    exit 1
fi
mkdir -p "$OUT/test"

C=configs
M1=$C/maml/maml_conv4_1xb4_cub-32px_5way-1shot.py
M5=$C/maml/maml_conv4_1xb4_cub-32px_5way-5shot.py
MM1=$C/mtl/mtl-maml_conv4_1xb4_cub-32px_5way-1shot.py
MM5=$C/mtl/mtl-maml_conv4_1xb4_cub-32px_5way-5shot.py
P1=$C/protonet/protonet_conv4_1xb1_cub-32px_5way-1shot.py
P5=$C/protonet/protonet_conv4_1xb1_cub-32px_5way-5shot.py
T=$C/transfer/baseline_conv4_1xb128_cub-32px_5way-5shot.py
TP=$C/transfer/baseline-plus_conv4_1xb128_cub-32px_5way-5shot.py

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

novel() {  # novel NAME TRAINED CONFIG SHOTS: the novel-species meta-test
    local name=$1 config=$3 shots=$4 work=$OUT/test/$1 ckpt
    ckpt=$(best "$2")
    if [ -f "$work.${shots}shot.done" ]; then
        echo "$name ${shots}-shot: tested already"
        return
    fi
    mkdir -p "$work"
    python tools/test.py "$config" "$ckpt" --work-dir "$work" --seed 0 \
        --ways 5 --shots "$shots" --queries 15 --episodes "$EPISODES" \
        --cfg-options test_dataloader.dataset.dataset.split=test \
        >"$work.${shots}shot.log" 2>&1 && touch "$work.${shots}shot.done"
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

half=$(python -c "print($BUDGET / 2)")
train_a() {
    train maml-1shot "$M1"
    train maml-5shot "$M5"
    train protonet-1shot "$P1"
    train protonet-5shot "$P5"
    train baseline-plus "$TP"
}
train_b() {
    train mtl-maml-1shot "$MM1"
    train mtl-maml-5shot "$MM5"
    train baseline-half "$T" "$half"
    # the Baseline's backbone (its running BN statistics and head left
    # out: a partial load on purpose)
    train mtl-maml-warm-1shot "$MM1" "$half" \
        "load_from=$(best baseline-half)" load_from_strict=False
    train mtl-maml-warm-5shot "$MM5" "$half" \
        "load_from=$(best baseline-half)" load_from_strict=False
}
test_a() {
    for shots in 1 5; do
        novel maml maml-${shots}shot "$M5" "$shots"
        novel protonet protonet-${shots}shot "$P5" "$shots"
        novel baseline-plus baseline-plus "$TP" "$shots"
    done
}
test_b() {
    for shots in 1 5; do
        novel mtl-maml mtl-maml-${shots}shot "$MM5" "$shots"
        novel mtl-maml-warm mtl-maml-warm-${shots}shot "$MM5" "$shots"
    done
}

case "${1:-all}" in
train) streams train_a train_b ;;
test) streams test_a test_b ;;
all)
    streams train_a train_b
    streams test_a test_b
    python benchmarks/collect_cub_study.py "$OUT"
    ;;
*) echo "usage: $0 [train|test|all]" >&2; exit 2 ;;
esac
