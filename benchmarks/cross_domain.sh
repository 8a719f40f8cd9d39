#!/usr/bin/env bash
# Cross-domain few-shot: the miniImageNet-trained models of
# benchmarks/mini_imagenet_table1.sh (32x32 CPU protocol, trained once and
# shared between the two studies) meta-tested on the classes of other
# domains, as a user's own classes would be: CUB-200-2011 (every species
# present in data/CUB_200_2011/images: 100 on the subset of
# ../shared/data/cub) and Oxford Flowers-102 (all 102 classes of
# data/flowers102); both are one test split of every class, ours to state
# (configs/_base_/datasets/{cub_all,flowers102}_32px.py, whose test dataset
# the options below set). Cells: 5-way 1 / 5 / 20-shot and 20-way 5-shot,
# EPISODES (600) seeded episodes each for the 1- and 5-shot 5-way cells,
# EPISODES_LONG (default EPISODES) for the 20-shot and 20-way ones, whose
# episodes cost 2-4x more (seed 0: the same episodes for every
# model and adapter of a domain, so that differences are paired), 15
# queries per class, each model with its own adapter and with
# `--adapter centroid` and `--adapter linear` of tools/test.py.
#   bash benchmarks/cross_domain.sh [TABLE1_DIR]   # default work_dirs/mini_table1
#   python benchmarks/collect_cross_domain.py work_dirs/cross_domain  # md/csv/png
# TABLE1_DIR holds the table1 study's work dirs (<model>/best_accuracy_mean
# _iter_*.pth); a model without a checkpoint there is skipped with a note.
# Results: OUT/<domain>/<adapter>/<model>/meta_test_*.json, adapter 'own'
# for the model's own. A finished run is skipped when the script is run
# again (delete its .done file to redo it). Each tools/test.py run decodes
# its domain once into memory (Flowers-102: about a minute on one core).
# ADAPTERS (default "own centroid linear"), MODELS, DOMAINS select a part;
# STREAMS=2 (default) runs the domains side by side, one thread each
# (STREAMS=1: in turn).
set -euo pipefail
TABLE1=${1:-work_dirs/mini_table1}
OUT=${OUT:-work_dirs/cross_domain}
STREAMS=${STREAMS:-2}
EPISODES=${EPISODES:-600}
EPISODES_LONG=${EPISODES_LONG:-$EPISODES}
ADAPTERS=${ADAPTERS:-own centroid linear}
MODELS=${MODELS:-transfer baseline-plus protonet reptile mtl-reptile maml \
mtl-maml mtl-maml-warm mtl-ss}
DOMAINS=${DOMAINS:-cub flowers102}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

if [ "$ADAPTERS" != own ] &&
    ! python tools/test.py --help 2>/dev/null | grep -q -- '--adapter'; then
    echo "tools/test.py has no --adapter option yet (the adapters of" \
        "mmmtl/models/adapters/ have not landed in this checkout), so the" \
        "centroid and linear adapters cannot be run. Update the checkout," \
        "or run each model's own adapter only: ADAPTERS=own $0 $*" >&2
    exit 2
fi
if [ ! -d "$TABLE1" ]; then
    echo "$TABLE1 not found: give the work directory of" \
        "benchmarks/mini_imagenet_table1.sh (its OUT)" >&2
    exit 1
fi

config_of() {  # the miniImageNet 32px config of a table1 model
    local c=configs
    case $1 in
    transfer) echo $c/transfer/baseline_conv4_1xb128_mini-imagenet-32px_5way-5shot.py ;;
    baseline-plus) echo $c/transfer/baseline-plus_conv4_1xb128_mini-imagenet-32px_5way-5shot.py ;;
    protonet) echo $c/protonet/protonet_conv4_1xb1_mini-imagenet-32px_5way-5shot.py ;;
    reptile) echo $c/reptile/reptile_conv4_1xb5_mini-imagenet-32px_5way-5shot.py ;;
    mtl-reptile) echo $c/mtl/mtl-reptile_conv4_1xb5_mini-imagenet-32px_5way-5shot.py ;;
    maml) echo $c/maml/maml_conv4_1xb4_mini-imagenet-32px_5way-5shot.py ;;
    mtl-maml | mtl-maml-warm) echo $c/mtl/mtl-maml_conv4_1xb4_mini-imagenet-32px_5way-5shot.py ;;
    mtl-ss) echo $c/mtl-ss/mtl-ss_conv4_1xb2_mini-imagenet-32px_5way-5shot.py ;;
    *) echo "unknown model $1" >&2; return 1 ;;
    esac
}

root_of() {  # the class folders of a domain
    case $1 in
    cub) echo data/CUB_200_2011/images ;;
    flowers102) echo data/flowers102 ;;
    *) echo "unknown domain $1" >&2; return 1 ;;
    esac
}

run() {  # run DOMAIN ADAPTER MODEL TAG EPISODES [tools/test.py options]
    local domain=$1 adapter=$2 model=$3 tag=$4 episodes=$5 work ckpt config
    local root
    shift 5
    work=$OUT/$domain/$adapter/$model
    if [ -f "$work.$tag.done" ]; then
        echo "$domain $adapter $model $tag: tested already"
        return
    fi
    ckpt=$(ls -t "$TABLE1/$model"/best_accuracy_mean_iter_*.pth 2>/dev/null |
        head -1 || true)
    if [ -z "$ckpt" ]; then
        echo "$model: no best_accuracy_mean_iter_*.pth in $TABLE1/$model," \
            "skipped"
        return
    fi
    config=$(config_of "$model")
    root=$(root_of "$domain")
    local adapter_option=()
    [ "$adapter" = own ] || adapter_option=(--adapter "$adapter")
    mkdir -p "$work"
    python tools/test.py "$config" "$ckpt" --work-dir "$work" --seed 0 \
        --queries 15 --episodes "$episodes" "${adapter_option[@]}" "$@" \
        --cfg-options test_dataloader.dataset.dataset.type=FewShotImageFolder \
        "test_dataloader.dataset.dataset.data_root=$root" \
        test_dataloader.dataset.dataset.split=all \
        >"$work.$tag.log" 2>&1 && touch "$work.$tag.done"
}

domain_stream() {  # every model and adapter on one domain
    local domain=$1 adapter model
    if [ ! -d "$(root_of "$domain")" ]; then
        echo "$(root_of "$domain") not found: build it (docs/datasets.md)" >&2
        return 1
    fi
    for model in $MODELS; do
        for adapter in $ADAPTERS; do
            run "$domain" "$adapter" "$model" 5way "$EPISODES" --ways 5 \
                --shots 1 5
            run "$domain" "$adapter" "$model" 5way20 "$EPISODES_LONG" \
                --ways 5 --shots 20
            run "$domain" "$adapter" "$model" 20way "$EPISODES_LONG" \
                --ways 20 --shots 5
        done
    done
}

if [ "$STREAMS" = 1 ]; then
    for domain in $DOMAINS; do domain_stream "$domain"; done
else  # a stream per domain
    pids=()
    for domain in $DOMAINS; do
        domain_stream "$domain" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid"; done
fi
python benchmarks/collect_cross_domain.py "$OUT"
