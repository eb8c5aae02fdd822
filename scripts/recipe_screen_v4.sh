#!/usr/bin/env bash
# Issue 39's recipe screen, on validation data only: which training recipe lets the VAE,
# the Ladder VAE and FC-VAE reach their best validation LL, the same recipe for every row.
# Rows: independent (VAE), ladder_vae (Sønderby's Ladder VAE, as Table 1), full (FC-VAE).
# Every run trains on the training split's fit 90 % and is stopped and scored on its
# random validation 10 % (K = 1,000 on 1,000 of its images), seed 0. The budget is long:
# up to 300 epochs, stopped when 30 epochs gain less than 0.2 nats of validation ELBO.
# One folder per recipe, each option alone on the decaying learning rate:
#   exp       the learning rate a tenth every 100 epochs (smoothly), all else the default
#   constant  the default constant rate at the same budget (does the decay matter?)
#   td        exp + top-down networks of two hidden layers, 512 and 256 units
#   bn        exp + batch normalisation in the built-in MLPs
#   dropout   exp + dropout 0.1 in the built-in MLPs
# Resumable: every run continues from its checkpoint, finished scores are reused.
# Usage: scripts/recipe_screen_v4.sh mnist|omniglot DATA_DIR OUTPUT_ROOT [RECIPE ...]
# Summary: python scripts/recipe_screen.py \
#     --setting=learning_rate_schedule,top_down_units,batch_norm,dropout OUTPUT_ROOT/*
set -euo pipefail
dataset=${1:?usage: $0 mnist|omniglot DATA_DIR OUTPUT_ROOT [RECIPE ...]}
data=${2:?usage: $0 mnist|omniglot DATA_DIR OUTPUT_ROOT [RECIPE ...]}
out=${3:?usage: $0 mnist|omniglot DATA_DIR OUTPUT_ROOT [RECIPE ...]}
shift 3
recipes=("${@:-exp constant td bn dropout}")
read -r -a recipes <<<"${recipes[*]}"
case $dataset in
  mnist) split=train ;;
  omniglot) split=generative_train ;;
  *) echo "unknown dataset $dataset (mnist or omniglot)" >&2; exit 2 ;;
esac
export TF_CPP_MIN_LOG_LEVEL=3
common="--dataset=$dataset --data_dir=$data --train_split=$split@fit10% \
    --validation_split=$split@val10% --test_split=$split@val10% \
    --early_stopping_patience=30 --early_stopping_min_delta=0.2 --epochs=300 --seeds=0 \
    --num_importance_samples=1000 --eval_images=1000 --structures=independent,ladder_vae,full"
exp="--learning_rate_schedule=exponential --learning_rate_decay_epochs=100"
for recipe in "${recipes[@]}"; do
  case $recipe in
    exp) options="$exp" ;;
    constant) options="--learning_rate_schedule=constant" ;;
    td) options="$exp --top_down_units=512,256" ;;
    bn) options="$exp --batch_norm" ;;
    dropout) options="$exp --dropout=0.1" ;;
    *) echo "unknown recipe $recipe (exp constant td bn dropout)" >&2; exit 2 ;;
  esac
  echo "== recipe $recipe: $options"
  # shellcheck disable=SC2086
  python -m tf_graphvae.trainers.paper.cli.compare $common $options --output_dir="$out/$recipe"
done
