#!/usr/bin/env bash
# Table 1: complete MNIST, complete Omniglot, Fashion-MNIST, the CIFAR-10 subset.
# Every run resumes from its checkpoint and every finished evaluation is reused, so the
# script can be stopped and started again. Usage: scripts/table1_protocol.sh DATA_ROOT
# (DATA_ROOT holds mnist/, omniglot/ and cifar10/ as the publishers ship them; Fashion-MNIST
# is read from FASHION_DIR, by default where Debian's dataset-fashion-mnist installs it).
set -euo pipefail
data=${1:?usage: $0 DATA_ROOT}
out=${OUT:-results}
fashion=${FASHION_DIR:-/usr/share/datasets/fashion-mnist}
rows="--structures=independent,chain,ladder,full,learned --row_seeds=ladder:0 --seeds=0,1,2"
export TF_CPP_MIN_LOG_LEVEL=3

# Version 3 (docs/results.md, "Table 1, version 3"): train on a random 90 % of the training split,
# stop on the other 10 % (the validation ELBO's gain over 10 epochs under 0.5 nats), every
# row; Omniglot on its generative split (all 50 alphabets on both sides).
v3="--early_stopping_patience=10 --early_stopping_min_delta=0.5 --epochs=200 --seeds=0,1,2 \
    --structures=independent,chain,ladder_vae,full,learned \
    --num_importance_samples=5000 --eval_images=2000"
tfgvae-compare --dataset=mnist --data_dir="$data/mnist" $v3 \
    --train_split=train@fit10% --validation_split=train@val10% --output_dir="$out/mnist_v3"
tfgvae-compare --dataset=omniglot --data_dir="$data/omniglot" $v3 \
    --train_split=generative_train@fit10% --validation_split=generative_train@val10% \
    --test_split=generative_test --output_dir="$out/omniglot_v3"
# Version 2 (30 epochs, every row), kept for the tables it produced:
tfgvae-compare --dataset=mnist --data_dir="$data/mnist" --epochs=30 $rows \
    --num_importance_samples=5000 --eval_images=2000 --output_dir="$out/mnist"
tfgvae-compare --dataset=omniglot --data_dir="$data/omniglot" --epochs=30 $rows \
    --num_importance_samples=5000 --eval_images=2000 --output_dir="$out/omniglot_complete"
tfgvae-compare --dataset=fashion_mnist --data_dir="$fashion" --epochs=30 $rows \
    --num_importance_samples=5000 --eval_images=2000 --output_dir="$out/fashion_mnist_complete"
# CIFAR-10: 4,000 training images, one seed; K and the test images are smaller (the conv
# decoder costs far more per importance sample than the MLP). Add seeds with --seeds=0,1,2.
tfgvae-compare --dataset=cifar10 --data_dir="$data/cifar10" --epochs=30 \
    --structures=independent,chain,ladder,full,learned --seeds=0 \
    --num_importance_samples=1000 --eval_images=500 --output_dir="$out/cifar10_subset"
