#!/usr/bin/env bash
# On the machine it runs on, use torchbasics as a user would with --device auto (a GPU where
# there is one): train a cnn and a convnet on a small subset of Fashion-MNIST (else MNIST)
# and the bonus table, evaluate, predict, export and serve them; on CUDA also compare the
# GPU run's test error with a CPU run of the same seed, use the CUDA-trained checkpoint on
# the CPU, and run torchrun with NCCL. The test suite runs on CPU; this is what it cannot
# show. Small budgets: a minute or two on two CPU cores. One line per check ("ok NAME ...",
# "skip NAME: why", "FAIL NAME: ..."); exit status 1 if any check failed. .ci/run runs it
# on every CI machine, GPU or not, so it cannot rot.
set -uo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"

usage() {
    cat <<EOF
usage: bash scripts/gpu_check.sh [--keep DIR]

Trains, evaluates, predicts, exports and serves small models with torchbasics on this
machine's default device (--device auto), and on a CUDA machine checks the GPU against the
CPU and torchrun's NCCL backend. Uses $REPO/.venv/bin/torchbasics when it exists, else
torchbasics on PATH; data sets are found as torchbasics finds them (\$TORCHBASICS_DATA,
the user cache, ./data, /usr/share/datasets), never downloaded.

  --keep DIR   write the runs, pictures and logs into DIR (made if missing) and keep them
               (default: a temporary folder, removed at the end)
  -h, --help   show this help

Prints one line per check: "ok NAME ...", "skip NAME: why" or "FAIL NAME: what"; exits 1
if any check failed, 2 on a bad option.
EOF
}

KEEP=""
while [ $# -gt 0 ]; do
    case "$1" in
        --keep) [ $# -ge 2 ] || { echo "gpu_check: --keep needs a folder" >&2; exit 2; }
                KEEP="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "gpu_check: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done

if [ -x "$REPO/.venv/bin/torchbasics" ]; then
    TB="$REPO/.venv/bin/torchbasics"
elif TB="$(command -v torchbasics)"; then
    :
else
    echo "FAIL setup: no torchbasics: neither $REPO/.venv/bin/torchbasics nor one on PATH" \
         "(bash scripts/setup.sh makes the first)"
    exit 1
fi
PY="$(dirname "$TB")/python"  # the interpreter torchbasics was installed into
[ -x "$PY" ] || PY="python3"

if [ -n "$KEEP" ]; then
    mkdir -p "$KEEP" && WORK="$(cd "$KEEP" && pwd)" || exit 2
else
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")"
fi
mkdir -p "$WORK/logs"
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
    [ -z "$KEEP" ] && rm -rf "$WORK"
}
trap cleanup EXIT

FAILED=0
ok() { echo "ok $*"; }
skip() { local name="$1"; shift; echo "skip $name: $*"; }
fail() { local name="$1"; shift; echo "FAIL $name: $*"; FAILED=1; }

# step NAME COMMAND...: run it, its output in logs/NAME.out and logs/NAME.err; on failure,
# say so with the last line of its errors (torchbasics writes a one-line error) and return 1.
step() {
    local name="$1" code
    shift
    "$@" >"$WORK/logs/$name.out" 2>"$WORK/logs/$name.err"
    code=$?
    [ "$code" = 0 ] && return 0
    fail "$name" "$(cat "$WORK/logs/$name.out" "$WORK/logs/$name.err" | tail -n 1)" \
         "(exit $code; logs/$name.err)"
    return 1
}

# json FILE EXPRESSION: EXPRESSION evaluated in Python with the file's JSON as `d`.
json() {
    "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
        "$1" "$2"
}

# seconds_since START: the time since START (from `date +%s.%N`), as "1.2 s".
seconds_since() {
    "$PY" -c 'import sys, time; print(f"{time.time() - float(sys.argv[1]):.1f} s")' "$1"
}

check_device() {
    DEVICE="unknown"
    CUDA="$("$PY" -c 'import torch; print(int(torch.cuda.is_available()))' 2>/dev/null)"
    "$TB" doctor --json >"$WORK/doctor.json" 2>"$WORK/logs/doctor.log" ||
        { fail device "torchbasics doctor failed: $(tail -n 1 "$WORK/logs/doctor.log")"; return; }
    DEVICE="$(json "$WORK/doctor.json" 'd["device"]["device"]')"
    local torch_version
    torch_version="$(json "$WORK/doctor.json" 'd["versions"]["torch"]')"
    ok "device: auto is $DEVICE ($(json "$WORK/doctor.json" 'd["device"]["device_reason"]');" \
       "torch $torch_version)"
}

# The first image data set found (never downloaded) and list files of small subsets of it.
find_data() {
    DATASET=""
    for name in fashion-mnist mnist; do
        if "$TB" data info "$name" --no-download --json >"$WORK/data.json" 2>/dev/null; then
            DATASET="$name"
            break
        fi
    done
    if [ -z "$DATASET" ]; then
        fail data "neither fashion-mnist nor mnist is on the data search path (bash" \
                  "scripts/setup.sh installs Fashion-MNIST; see torchbasics data --help)"
        return 1
    fi
    # 6,000 training images, 1,000 for validation, the first 1,000 test images.
    seq 0 5999 >"$WORK/train.txt"
    seq 6000 6999 >"$WORK/val.txt"
    seq 0 999 >"$WORK/test.txt"
    ok "data: $DATASET in $(json "$WORK/data.json" 'd["found_in"]')"
}

# train_images NAME MODEL DEVICE [FLAGS...]: a short run into $WORK/NAME.
train_images() {
    local name="$1" model="$2" device="$3" start
    shift 3
    start="$(date +%s.%N)"
    step "train-$name" "$TB" train --dataset "$DATASET" --model "$model" --epochs 2 \
        --train-list "$WORK/train.txt" --val-list "$WORK/val.txt" --seed 0 \
        --device "$device" --out "$WORK/$name" --force --quiet "$@" || return 1
    ok "train-$name: $model, 2 epochs of 6,000 images on" \
       "$(json "$WORK/$name/config.json" 'd["device_used"] + " in " + d["precision_used"]'):" \
       "validation error" \
       "$(json "$WORK/$name/summary.json" '"%.1f" % (100 * d["final_val_error"])') %," \
       "$(seconds_since "$start")"
}

# evaluate_images NAME RUN DEVICE: the test error of RUN on the 1,000 test images, in
# $WORK/NAME.json.
evaluate_images() {
    local name="$1" run="$2" device="$3"
    step "$name" "$TB" evaluate "$WORK/$run" --list "$WORK/test.txt" --device "$device" \
        --json || return 1
    cp "$WORK/logs/$name.out" "$WORK/$name.json"
    [ "$device" = auto ] && device="$DEVICE"
    ok "$name: $run on $device, test error" \
       "$(json "$WORK/$name.json" '"%.1f %% of %d" % (100 * d["error"], d["count"])') images"
}

# error_of NAME: the test error evaluate_images wrote for NAME.
error_of() { json "$WORK/$1.json" 'd["error"]'; }

# percent FRACTION: "17.4 %".
percent() { "$PY" -c 'import sys; print(f"{100 * float(sys.argv[1]):.1f} %")' "$1"; }

# close A B TOLERANCE: whether |A - B| <= TOLERANCE.
close() { "$PY" -c 'import sys; a, b, t = map(float, sys.argv[1:]); sys.exit(abs(a - b) > t)' \
    "$1" "$2" "$3"; }

check_table() {
    local start
    start="$(date +%s.%N)"
    step train-table "$TB" train --dataset bonus --seed 0 --device auto \
        --out "$WORK/bonus" --force --quiet || return 1
    ok "train-table: bonus," \
       "$(json "$WORK/bonus/summary.json" '"%s, %d epochs" % (d["model"], d["epochs"])') on" \
       "$(json "$WORK/bonus/config.json" 'd["device_used"]'), test R²" \
       "$(json "$WORK/bonus/summary.json" '"%.3f" % d["metrics"]["test"]["r2"]'),"\
       "$(seconds_since "$start")"
    step evaluate-table "$TB" evaluate "$WORK/bonus" --json || return 1
    cp "$WORK/logs/evaluate-table.out" "$WORK/evaluate-table.json"
    ok "evaluate-table: RMSE" \
       "$(json "$WORK/evaluate-table.json" '"%.0f on %d rows" % (d["rmse"], d["count"])')"
    step predict-table "$TB" predict "$WORK/bonus" --set rating=8 --set years=5 \
        --set projects=12 || return 1
    ok "predict-table: $(head -n 1 "$WORK/logs/predict-table.out")"
}

# The first 20 test pictures as PNG files (predict reads files): pictures.txt holds each
# one's path and class index.
export_pictures() {
    step pictures "$TB" data export "$DATASET" --split test --no-download \
        --out "$WORK/pictures" --force || return 1
    grep -v '^#' "$WORK/pictures/test.txt" | head -n 20 |
        sed "s|^|$WORK/pictures/|" >"$WORK/pictures.txt"
    mapfile -t PICTURES < <(cut -d ' ' -f 1 "$WORK/pictures.txt")
}

# check_predict NAME RUN: predict the pictures with RUN (on the CPU, where predict always
# runs); at least half must be right (the models get over 80 % of the test set right).
check_predict() {
    local name="$1" run="$2" right
    step "$name" "$TB" predict "$WORK/$run" "${PICTURES[@]}" --json --out "$WORK/$name.json" ||
        return 1
    right="$("$PY" -c 'import json, sys
predicted = [p["label"] for p in json.load(open(sys.argv[1]))]
truth = [int(line.split()[-1]) for line in open(sys.argv[2])]
print(sum(p == t for p, t in zip(predicted, truth, strict=True)))' \
        "$WORK/$name.json" "$WORK/pictures.txt")" ||
        { fail "$name" "predictions do not match the pictures given"; return 1; }
    if [ "$right" -ge $(( ${#PICTURES[@]} / 2 )) ]; then
        ok "$name: $run named $right of ${#PICTURES[@]} test pictures right"
    else
        fail "$name" "$run named only $right of ${#PICTURES[@]} test pictures right"
    fi
}

check_export() {
    local format=onnx why=""
    if ! "$PY" -c 'import onnx, onnxscript, onnxruntime' 2>/dev/null; then
        format=torchscript
        why=" (the export extra is not installed: no ONNX)"
    fi
    step export "$TB" export "$WORK/cnn" --format "$format" --out "$WORK/cnn.$format" ||
        return 1
    ok "export: cnn as $format, checked against PyTorch by the command$why"
}

# Start the server on a free port, ask it once per model, stop it.
check_serve() {
    if ! "$PY" -c 'import fastapi, uvicorn' 2>/dev/null; then
        skip serve "the serve extra is not installed (pip install 'torchbasics[serve]')"
        return
    fi
    "$TB" serve "$WORK/cnn" "$WORK/bonus" --host 127.0.0.1 --port 0 \
        >"$WORK/logs/serve.out" 2>"$WORK/logs/serve.err" &
    SERVER_PID=$!
    local url="" waited=0 answer
    while [ -z "$url" ] && [ "$waited" -lt 120 ] && kill -0 "$SERVER_PID" 2>/dev/null; do
        sleep 0.5
        waited=$((waited + 1))
        url="$(sed -n 's/^open \(http:[^ ]*\).*/\1/p' "$WORK/logs/serve.out")"
    done
    if [ -z "$url" ]; then
        fail serve "no URL within a minute: $(tail -n 1 "$WORK/logs/serve.err")"
        kill -KILL "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID"
        SERVER_PID=""
        return
    elif answer="$("$PY" "$WORK/ask.py" "$url" "${PICTURES[0]}" 2>&1)"; then
        ok "serve: $url answered: $answer"
    else
        fail serve "$url: $(echo "$answer" | tail -n 1)"
    fi
    stop_server
}

# Stop the server with SIGTERM, as a service manager would; it must go within 20 s, cleanly.
stop_server() {
    local waited=0 code
    kill -TERM "$SERVER_PID" 2>/dev/null
    while kill -0 "$SERVER_PID" 2>/dev/null && [ "$waited" -lt 40 ]; do
        sleep 0.5
        waited=$((waited + 1))
    done
    kill -KILL "$SERVER_PID" 2>/dev/null && fail serve-stop "still running 20 s after SIGTERM"
    wait "$SERVER_PID"
    code=$?
    SERVER_PID=""
    # uvicorn stops cleanly on SIGTERM, then ends by the signal it caught: 143.
    if [ "$code" -ne 0 ] && [ "$code" -ne 143 ] && [ "$code" -ne 137 ]; then
        fail serve-stop "exit $code after SIGTERM: $(tail -n 1 "$WORK/logs/serve.err")"
    elif grep -q Traceback "$WORK/logs/serve.err"; then
        fail serve-stop "a traceback in logs/serve.err"
    fi
}

write_client() {
    cat >"$WORK/ask.py" <<'EOF'
"""Ask a running `torchbasics serve` (of the runs cnn and bonus) for one picture and one
table row; print the answers."""
import json
import sys
import urllib.request

url, picture = sys.argv[1], sys.argv[2]
listed = json.load(urllib.request.urlopen(f"{url}/api/models", timeout=30))
names = sorted(model["name"] for model in listed["models"])
assert names == ["bonus", "cnn"], names
asked = {"cnn": (open(picture, "rb").read(), "image/png"),
         "bonus": (json.dumps({"rating": 8, "years": 5, "projects": 12}).encode(),
                   "application/json")}
answers = []
for name, (body, kind) in asked.items():
    request = urllib.request.Request(f"{url}/api/models/{name}/predict", data=body,
                                     headers={"content-type": kind})
    answer = json.load(urllib.request.urlopen(request, timeout=60))
    answers.append(f"{name} {json.dumps(answer)[:70]}...")
print("; ".join(answers))
EOF
}

check_cuda_against_cpu() {
    if [ "$CUDA" != 1 ]; then
        skip cuda-vs-cpu "no CUDA GPU here (auto is $DEVICE)"
        skip cuda-on-cpu "no CUDA GPU here, so no CUDA-trained checkpoint"
        return
    fi
    # The same seed, data and steps on the CPU: the errors differ only by the arithmetic
    # (precision, kernels, GPU random streams), a few points at most on 1,000 images.
    if train_images cnn-cpu cnn cpu && evaluate_images evaluate-cnn-cpu cnn-cpu cpu; then
        local gpu cpu
        gpu="$(error_of evaluate-cnn)" cpu="$(error_of evaluate-cnn-cpu)"
        if close "$gpu" "$cpu" 0.05; then
            ok "cuda-vs-cpu: test error $(percent "$gpu") on cuda, $(percent "$cpu") on cpu" \
               "(the same seed; at most 5 points apart)"
        else
            fail cuda-vs-cpu "test error $(percent "$gpu") on cuda, $(percent "$cpu") on cpu:" \
                 "more than 5 points apart"
        fi
    fi
    # The CUDA-trained checkpoint on the CPU: the same weights, so the same answers but for
    # the few images on the edge between two classes (at most 10 of 1,000).
    if evaluate_images evaluate-cuda-run-on-cpu cnn cpu; then
        local there here
        there="$(error_of evaluate-cnn)" here="$(error_of evaluate-cuda-run-on-cpu)"
        if close "$there" "$here" 0.01; then
            ok "cuda-on-cpu: the cuda run's test error is $(percent "$there") on cuda," \
               "$(percent "$here") on cpu (predict, export and serve above ran it on the CPU)"
        else
            fail cuda-on-cpu "the cuda run's test error is $(percent "$there") on cuda," \
                 "$(percent "$here") on cpu: more than 10 of 1,000 answers differ"
        fi
    fi
}

check_torchrun() {
    if [ "$CUDA" != 1 ]; then
        skip nccl "no CUDA GPU here: NCCL needs one (tests/runs/test_distributed.py runs" \
                  "torchrun with gloo on the CPU)"
        skip torchrun-train "no CUDA GPU here"
        return
    fi
    cat >"$WORK/nccl_check.py" <<'EOF'
"""One rank of torchrun: join an NCCL process group, all-reduce on the GPU, leave."""
import torch
import torch.distributed as dist

torch.cuda.set_device(0)
dist.init_process_group("nccl")
ones = torch.ones(4, device="cuda")
dist.all_reduce(ones)
torch.cuda.synchronize()
assert ones.tolist() == [float(dist.get_world_size())] * 4, ones
print(f"{dist.get_backend()} all-reduce over {dist.get_world_size()} rank")
dist.destroy_process_group()
EOF
    step nccl "$PY" -m torch.distributed.run --standalone --nproc-per-node 1 \
        "$WORK/nccl_check.py" && ok "nccl: $(grep all-reduce "$WORK/logs/nccl.out")"
    # torchbasics under torchrun (with one process it makes no process group: DDP over
    # NCCL needs two GPUs).
    step torchrun-train "$PY" -m torch.distributed.run --standalone --nproc-per-node 1 \
        -m torchbasics train --dataset "$DATASET" --model cnn --epochs 1 \
        --train-list "$WORK/train.txt" --val-list "$WORK/val.txt" --device cuda \
        --out "$WORK/torchrun" --force --quiet &&
        ok "torchrun-train: 1 process on" \
           "$(json "$WORK/torchrun/config.json" 'd["device_used"]'), world size" \
           "$(json "$WORK/torchrun/config.json" 'd["world_size"]')"
}

main() {
    local start
    start="$(date +%s.%N)"
    echo "gpu_check: torchbasics $TB, work in $WORK"
    check_device
    if find_data; then
        train_images cnn cnn auto && evaluate_images evaluate-cnn cnn auto
        train_images convnet convnet auto && evaluate_images evaluate-convnet convnet auto
        check_table
        write_client
        if [ ! -f "$WORK/cnn/best.pt" ]; then
            for name in predict export serve; do
                skip "$name" "no cnn run (train-cnn failed)"
            done
        elif export_pictures; then
            check_predict predict cnn
            check_export
            if [ -f "$WORK/bonus/last.pt" ]; then
                check_serve
            else
                skip serve "no bonus run (train-table failed)"
            fi
        fi
        if [ -f "$WORK/evaluate-cnn.json" ]; then
            check_cuda_against_cpu
        else
            skip cuda-vs-cpu "no test error of the cnn run (it failed above)"
        fi
        check_torchrun
    fi
    if [ "$FAILED" = 0 ]; then
        echo "gpu_check: every check passed ($(seconds_since "$start"))"
    else
        echo "gpu_check: some checks FAILED ($(seconds_since "$start"))"
    fi
    return "$FAILED"
}

main
