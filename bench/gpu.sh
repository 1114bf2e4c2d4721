#!/usr/bin/env bash
# The bench decoder on a GPU through onnxruntime-node's WebGPU provider (Vulkan on Linux), and on
# the same machine's CPU, with the losses checked against each other and the step times recorded.
#
#   bash bench/gpu.sh pack       here, in the repo root after `npm install`: writes .gpu/ (git-ignored,
#                                under 64 MiB): Node and onnxruntime-node's Linux x64 binaries
#                                (xz), the bundled trainer (esbuild), the Vulkan loader (.deb)
#   bash bench/gpu.sh run [DIR]  on the GPU machine, in the repo root with .gpu/ beside it (carry it):
#                                unpacks, exports the decoder with that machine's Python (torch +
#                                transformers: scripts/oracle/hf_models.py), trains it 12 steps on
#                                webgpu and on cpu, writes DIR/gpu.json (default $OUT or .gpu/out)
#   bash bench/gpu.sh dry-run    here: pack, then run with the CPU only (no GPU here): checks that
#                                the bundle starts and trains; it records no GPU figures
#
# With the device tool: run 'bash bench/gpu.sh run' with carry [".gpu"]. The decoder is the
# bench's clm-512 row (Llama, d 512, 8 layers, 8 heads / 2 KV heads, vocab 32000), batch 4 x 512
# packed tokens, Lily on q_proj/v_proj (r 32, stride_A 2, num_B 4), AdamW.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PACK="$ROOT/.gpu"
STEPS="${LILY_GPU_STEPS:-12}"
MODEL_CONFIG='{"hidden_size": 512, "num_hidden_layers": 8, "num_attention_heads": 8, "num_key_value_heads": 2, "intermediate_size": 1408, "vocab_size": 32000}'

pack() {
  cd "$ROOT"
  rm -rf "$PACK" && mkdir -p "$PACK/stage/node_modules"
  npx esbuild bench/gpu/worker.ts --bundle --platform=node --target=node20 --format=cjs \
    --external:onnxruntime-node --outfile="$PACK/stage/worker.cjs" --log-level=warning
  local ort="$ROOT/node_modules/onnxruntime-node" common="$ROOT/node_modules/onnxruntime-common"
  mkdir -p "$PACK/stage/node_modules/onnxruntime-node/bin/napi-v6/linux/x64"
  cp -r "$ort/package.json" "$ort/dist" "$PACK/stage/node_modules/onnxruntime-node/"
  cp "$ort"/bin/napi-v6/linux/x64/* "$PACK/stage/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/"
  cp -r "$common" "$PACK/stage/node_modules/onnxruntime-common"
  cp "$(command -v node)" "$PACK/stage/node"
  tar -C "$PACK/stage" -cf - . | xz -T2 -6 > "$PACK/bundle.tar.xz"
  rm -rf "$PACK/stage"
  # The Vulkan loader (the NVIDIA driver on the GPU machine brings the ICD), as the device notes say.
  local lists=/tmp/lily-gpu-apt
  mkdir -p "$lists/partial"
  local o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists="$lists")
  apt-get "${o[@]}" update -qq >/dev/null
  (cd "$PACK" && apt-get "${o[@]}" download -qq libvulkan1 2>/dev/null)
  local size
  size=$(du -sb "$PACK" | cut -f1)
  echo "packed .gpu/: $((size / 1048576)) MiB ($(ls "$PACK" | tr '\n' ' '))"
  if (( size > 60 * 1048576 )); then echo "gpu.sh: .gpu/ is over 60 MiB; the device tool carries 64 MiB with the tree" >&2; exit 1; fi
}

unpack() {
  local dest="$1"
  [[ -f "$PACK/bundle.tar.xz" ]] || { echo "gpu.sh: no .gpu/bundle.tar.xz; run 'bash bench/gpu.sh pack' first and carry .gpu" >&2; exit 2; }
  rm -rf "$dest" && mkdir -p "$dest"
  xz -dc "$PACK/bundle.tar.xz" | tar -C "$dest" -xf -
}

export_model() {
  local python="$1" out="$2"
  "$python" -c 'import torch, transformers' 2>/dev/null || { echo "gpu.sh: $python cannot import torch and transformers (needed to export the decoder)" >&2; exit 2; }
  OMP_NUM_THREADS=4 "$python" "$ROOT/scripts/oracle/hf_models.py" --kind llama --out "$out" --seed 0 --config "$MODEL_CONFIG" >/dev/null
}

run() {
  local out="${1:-${OUT:-$PACK/out}}" devices="${2:-webgpu cpu}"
  local work=/tmp/lily-gpu
  mkdir -p "$out"
  unpack "$work"
  if [[ "$devices" == *webgpu* ]]; then
    if ! ldconfig -p | grep -q libvulkan.so.1; then
      for f in "$PACK"/*.deb; do dpkg -x "$f" /; done
      ldconfig
    fi
    # Where the driver's Vulkan ICD is not on the loader's default path (the device notes).
    local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    [[ -f "$icd" && -z "${VK_DRIVER_FILES:-}" ]] && export VK_DRIVER_FILES="$icd"
  fi
  local python="${LILY_PYTHON:-python3}"
  [[ -x "$ROOT/.venv/bin/python" && -z "${LILY_PYTHON:-}" ]] && python="$ROOT/.venv/bin/python"
  export_model "$python" "$work/model"
  local threads
  threads=$(nproc)
  for d in $devices; do
    echo "training $STEPS steps on $d ..." >&2
    "$work/node" "$work/worker.cjs" "{\"modelDir\": \"$work/model\", \"root\": \"$ROOT\", \"device\": \"$d\", \"steps\": $STEPS, \"threads\": $threads}" > "$out/$d.json"
  done
  local card
  card=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1 || true)
  "$work/node" - "$out" "$devices" "${card:-none}" "$(nproc)" <<'JS'
const fs = require('fs');
const [out, devices, card, cores] = process.argv.slice(2);
const runs = Object.fromEntries(devices.split(' ').map((d) => [d, JSON.parse(fs.readFileSync(`${out}/${d}.json`, 'utf8'))]));
const names = Object.keys(runs);
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const report = { generated_at: new Date().toISOString(), card, cpu_cores: Number(cores), runs: {}, loss_check: null };
for (const d of names) {
  const r = runs[d];
  report.runs[d] = { device: r.device, note: r.note, first_step_ms: r.first_step_ms, median_step_ms: median(r.ms.slice(2)), real_tokens_per_s: Math.round(r.real_tokens_per_step / (median(r.ms.slice(2)) / 1000)), losses: r.losses, ms: r.ms };
}
if (names.length === 2) {
  const [a, b] = names.map((d) => runs[d].losses);
  const gaps = a.map((x, i) => Math.abs(x - b[i]) / Math.abs(b[i]));
  report.loss_check = { max_relative_gap: Math.max(...gaps), first_relative_gap: gaps[0], ok: gaps[0] < 1e-3 && Math.max(...gaps) < 1e-2 };
  if (runs.webgpu && runs.webgpu.device !== 'webgpu') report.loss_check.ok = false;
}
fs.writeFileSync(`${out}/gpu.json`, JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify({ card, loss_check: report.loss_check, median_step_ms: Object.fromEntries(names.map((d) => [d, report.runs[d].median_step_ms])) }));
if (report.loss_check && !report.loss_check.ok) process.exit(1);
JS
}

case "${1:-}" in
  pack) pack ;;
  run) run "${2:-}" ;;
  dry-run)
    pack
    STEPS="${LILY_GPU_STEPS:-3}" run "$PACK/dry" cpu
    echo "dry run done: the bundle trains on the CPU; no GPU here, so no GPU figures" ;;
  *) echo "usage: bash bench/gpu.sh pack | run [OUTDIR] | dry-run (see the header)" >&2; exit 2 ;;
esac
