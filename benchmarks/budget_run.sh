# The run function of benchmarks/omniglot_mtl_study.sh and
# omniglot_mtl_beta.sh (sourced; needs OUT, BUDGET and EPISODES): train one
# model for BUDGET minutes of training iterations with its schedule fitted to
# them, then meta-test its best checkpoint on the study's seeded episodes.
# run NAME CONFIG VAL_INTERVAL WAYS [--cfg-options for training and testing]
# (VAL_INTERVAL in the config's iterations: a quarter of its max_iters,
# four meta-validations of 100 episodes per run)
run() {
    local name=$1 config=$2 every=$3 ways=$4
    shift 4
    local work=$OUT/$name
    local test_options=()
    [ $# -gt 0 ] && test_options=(--cfg-options "$@")
    local start
    start=$(date +%s)
    python tools/train.py "$config" --work-dir "$work" \
        --time-budget "$BUDGET" --fit-schedule --cfg-options \
        train_cfg.val_interval="$every" \
        default_hooks.checkpoint.interval="$every" \
        val_dataloader.dataset.num_episodes=100 "$@" >"$work.train.log" 2>&1
    echo "$name: $(grep -o '[0-9]* iterations fit in' "$work.train.log" |
        head -1) $BUDGET min, wall time $(($(date +%s) - start)) s with" \
        "validation" | tee -a "$OUT/train_times.txt"
    local ckpt
    ckpt=$(ls -t "$work"/best_accuracy_mean_iter_*.pth | head -1)
    python tools/test.py "$config" "$ckpt" --work-dir "$work" \
        --ways $ways --shots 1 5 10 --queries 10 --episodes "$EPISODES" \
        --seed 0 "${test_options[@]}" >"$work.test.log" 2>&1
}
