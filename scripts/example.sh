#!/usr/bin/env bash
# The main job on the bundled example (examples/deepfm_small): generate
# criteo-shaped data, train a DeepFM, export it and predict with the export.
# Everything goes under out/deepfm_small/ (removed first, so reruns are clean).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

CONFIG=examples/deepfm_small/pipeline.config
OUT=out/deepfm_small
TZREC=build/tzrec
rm -rf "$OUT"

$TZREC validate_config --pipeline_config_path "$CONFIG"
$TZREC gen_data --pipeline_config_path "$CONFIG" --output_dir "$OUT/data" --num_rows 200000 --seed 1
$TZREC train_eval --pipeline_config_path "$CONFIG"
echo "--- eval log ($OUT/model/train_eval_result_v2.txt)"
cat "$OUT/model/train_eval_result_v2.txt"
$TZREC export --pipeline_config_path "$CONFIG" --export_dir "$OUT/export"
echo "--- export ($OUT/export)"
ls -l "$OUT/export"
$TZREC predict --scripted_model_path "$OUT/export" \
  --predict_input_path "$OUT/data/eval.csv" \
  --predict_output_path "$OUT/predict.csv" --reserved_columns label
echo "--- first predictions ($OUT/predict.csv)"
head -n 5 "$OUT/predict.csv"
