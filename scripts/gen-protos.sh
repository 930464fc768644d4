#!/usr/bin/env bash
# Regenerates every stub from proto/ (the one wire contract).
#
#   scripts/gen-protos.sh            regenerate into the repository (then commit the result)
#   scripts/gen-protos.sh --check    lint, `buf breaking` against main, regenerate into a temp
#                                    dir and fail if it differs from what is committed (CI)
#
# Plugins are LOCAL and pinned, so the output is reproducible: protoc-gen-go and
# protoc-gen-go-grpc via `go install` (Go module proxy), Python's grpcio-tools via pip, the
# TypeScript types via @grpc/proto-loader's proto-loader-gen-types (node_modules).
set -euo pipefail

PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2
GRPCIO_TOOLS_VERSION=1.85.1

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

mode=write
if [[ "${1:-}" == "--check" ]]; then mode=check; fi

# Local plugins, installed (cached) at the pinned versions.
gobin=$(go env GOPATH)/bin
if [[ "$("$gobin/protoc-gen-go" --version 2>/dev/null || true)" != "protoc-gen-go $PROTOC_GEN_GO_VERSION" ]]; then
  go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
fi
if [[ "$("$gobin/protoc-gen-go-grpc" --version 2>/dev/null || true)" != "protoc-gen-go-grpc ${PROTOC_GEN_GO_GRPC_VERSION#v}" ]]; then
  go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION"
fi
if [[ "$(python3 -c 'import importlib.metadata as m; print(m.version("grpcio-tools"))' 2>/dev/null || true)" != "$GRPCIO_TOOLS_VERSION" ]]; then
  # Debian 12 marks the system Python externally managed (PEP 668); this is a build tool for CI.
  PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet "grpcio-tools==$GRPCIO_TOOLS_VERSION"
fi
export PATH="$gobin:$PATH"

npx --no-install buf lint

# Breaking-change check against the main branch, once main has the contract (a fresh clone
# without a local main, or a main from before proto/ existed, skips it).
if [[ $mode == check ]] && git rev-parse --verify -q 'main^{commit}' >/dev/null && git cat-file -e main:buf.yaml 2>/dev/null; then
  npx --no-install buf breaking --against '.git#branch=main'
fi

if [[ $mode == check ]]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
else
  out=$root
fi

generated_dirs=(clients/go/streamgate clients/python/streamgate/v1 proto/gen/ts)

# Start from a clean slate so stale files of a renamed proto do not survive.
for d in "${generated_dirs[@]}"; do
  if [[ $mode == write ]]; then find "$out/$d" -type f -name '*' \( -name '*.pb.go' -o -name '*_pb2*.py*' -o -name '*.ts' \) -delete 2>/dev/null || true; fi
  mkdir -p "$out/$d"
done

# Go: buf generate with the local plugins of buf.gen.yaml.
npx --no-install buf generate --template buf.gen.yaml -o "$out"

# Python: grpcio-tools bundles protoc and its Python plugins (no separate binary for buf).
(cd proto && python3 -m grpc_tools.protoc -I. \
  --python_out="$out/clients/python" --pyi_out="$out/clients/python" --grpc_python_out="$out/clients/python" \
  streamgate/v1/streamgate.proto)

# TypeScript: types for the runtime loader (@grpc/proto-loader) with the SAME options the adapter
# and the Node client load the proto with (codecs/proto.ts LOADER_OPTIONS).
npx --no-install proto-loader-gen-types --grpcLib=@grpc/grpc-js --keepCase --longs=String --enums=String \
  --defaults --oneofs --includeComments -I proto -O "$out/proto/gen/ts" streamgate/v1/streamgate.proto >/dev/null
# The repository compiles as NodeNext ESM, where relative imports need their `.js` extension.
find "$out/proto/gen/ts" -name '*.ts' -exec sed -i -E "s#from '(\.{1,2}/[^']+)';#from '\1.js';#" {} +

if [[ $mode == check ]]; then
  status=0
  for d in "${generated_dirs[@]}"; do
    # Only generated files are compared (hand-written __init__.py etc. are not produced here).
    while IFS= read -r f; do
      rel=${f#"$out/"}
      if ! diff -u "$root/$rel" "$f"; then status=1; fi
    done < <(find "$out/$d" -type f | sort)
    while IFS= read -r f; do
      rel=${f#"$root/"}
      if [[ ! -e "$out/$rel" ]]; then echo "stale generated file: $rel"; status=1; fi
    done < <(find "$root/$d" -type f \( -name '*.pb.go' -o -name '*_pb2*.py*' -o -name '*.ts' \) | sort)
  done
  if [[ $status -ne 0 ]]; then
    echo "Generated stubs differ from proto/. Run scripts/gen-protos.sh and commit the result." >&2
    exit 1
  fi
  echo "generated stubs are up to date"
fi
