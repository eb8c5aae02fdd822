#!/usr/bin/env bash
# The recipe's defaults chosen on validation data, never on test images: KL warm-up length
# (VAE and FC-VAE rows) and the gates' learning rate (learned row), each run stopped and
# scored on the training split's random validation 10 % (K = 1,000 on 1,000 of its images),
# one seed. Resumable: every run continues from its checkpoint, finished scores are reused.
# Usage: scripts/recipe_screen.sh mnist|omniglot DATA_DIR OUTPUT_ROOT
# Summary: python scripts/recipe_screen.py --setting=kl_warmup_epochs OUTPUT_ROOT/warmup*
#          python scripts/recipe_screen.py --setting=gate_learning_rate OUTPUT_ROOT/gate_lr*
set -euo pipefail
dataset=${1:?usage: $0 mnist|omniglot DATA_DIR OUTPUT_ROOT}
data=${2:?usage: $0 mnist|omniglot DATA_DIR OUTPUT_ROOT}
out=${3:?usage: $0 mnist|omniglot DATA_DIR OUTPUT_ROOT}
case $dataset in
  mnist) split=train ;;
  omniglot) split=generative_train ;;
  *) echo "unknown dataset $dataset (mnist or omniglot)" >&2; exit 2 ;;
esac
export TF_CPP_MIN_LOG_LEVEL=3
common="--dataset=$dataset --data_dir=$data --train_split=$split@fit10% \
    --validation_split=$split@val10% --test_split=$split@val10% \
    --early_stopping_patience=10 --early_stopping_min_delta=0.5 --epochs=200 --seeds=0 \
    --num_importance_samples=1000 --eval_images=1000"
for warmup in 5 2 10 20; do
  tfgvae-compare $common --structures=independent,full --kl_warmup_epochs=$warmup \
      --output_dir="$out/warmup$warmup"
done
for rate in 0.01 0 0.1; do
  tfgvae-compare $common --structures=learned --gate_learning_rate=$rate \
      --output_dir="$out/gate_lr$rate"
done
