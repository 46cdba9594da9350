#!/usr/bin/env bash
# End-to-end figure for the README: whole Arabidopsis chr1 with real OpenSpliceAI scores.
# prepare, predict (default backend), build (defaults), each timed; then the same predict + build
# at --jobs 2 into fresh folders. Usage: bash scripts/e2e_chr1.sh WORKDIR [JOBS...]
set -euo pipefail
WORK=${1:?usage: e2e_chr1.sh WORKDIR [JOBS...]}
shift || true
JOBS=${*:-1 2}
HERE=$(cd "$(dirname "$0")/.." && pwd)
DATA=${FASTBUILD_SHARED_DATA:-$HERE/../shared/data}
FASTA=$DATA/arabidopsis_chr1/AthaTAIR10_chr1_GCF_000001735.4_TAIR10.1_genomic.fna.gz
GTF=$DATA/arabidopsis_chr1/AthaTAIR10_chr1.gtf.gz
MODEL=$DATA/openspliceai_models/arabidopsis/10000nt
mkdir -p "$WORK"
grep -m1 "model name" /proc/cpuinfo | sed 's/.*: /cpu: /'
echo "cores: $(nproc)"
t() { local name=$1; shift; local t0; t0=$(date +%s.%N); "$@" > "$WORK/$name.log" 2>&1;
      echo "$name: $(echo "$(date +%s.%N) - $t0" | bc) s"; }
[ -f "$WORK/ref/prepare_info.json" ] || t prepare fastbuild prepare --fasta "$FASTA" --gtf "$GTF" --out "$WORK/ref"
for J in $JOBS; do
  rm -rf "$WORK/scores_j$J" "$WORK/build_j$J"
  t "predict_jobs$J" fastbuild predict --reference "$WORK/ref" --model "$MODEL" --scores "$WORK/scores_j$J" \
      --jobs "$J" --no-progress
  t "build_jobs$J" fastbuild build --reference "$WORK/ref" --scores "$WORK/scores_j$J" \
      --output-dir "$WORK/build_j$J" --subset-policy all --jobs "$J" --no-progress
  python - "$WORK/build_j$J/build_info.json" "$WORK/scores_j$J/store.json" <<'PY'
import json, sys
info = json.load(open(sys.argv[1])); store = json.load(open(sys.argv[2]))
print(f"  genes {info['genes']:,}  rows {info['rows']:,}  positions {info['positions_scanned']:,}  "
      f"score precision {store.get('precision', 'float32')}")
PY
done
